"""The least any webhook function must do: one SQS SendMessage, then an empty 200. Behind the same
local gateway as the real routes, it is the baseline of the acknowledgement ratio."""

import os

import boto3

_sqs = boto3.client("sqs")


def lambda_handler(event: dict, context: object) -> dict:
    _sqs.send_message(QueueUrl=os.environ["BENCH_QUEUE_URL"], MessageBody=event.get("body") or "{}")
    return {"statusCode": 200, "body": ""}
