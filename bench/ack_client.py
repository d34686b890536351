"""The load generator of the acknowledgement benchmark, run in its own interpreter (so its work
does not share a GIL with the local stack it measures): `python -m bench.ack_client < spec.json`.

The spec: {"n", "warmup", "targets": {name: {"url", "headers", "body"}}, "sqs": {"queue_url", "body"}}.
Each round sends one request to every target, then one bare SQS SendMessage (the baseline) with a
boto3 client that reaches moto through AWS_ENDPOINT_URL, so every figure sees the same conditions.
Every few rounds the queue is emptied, untimed (bench/sqsutil.py says why).
Prints {"samples": {name: [seconds]}, "errors": {name: count}, "last_error": {name: text}} as JSON.
"""

from __future__ import annotations

import json
import sys
import time

import boto3
import httpx

from bench.sqsutil import EMPTY_EVERY_ROUNDS, empty_queue

SQS_BASELINE = "sqs_send_message"


def main() -> None:
    spec = json.load(sys.stdin)
    targets = spec["targets"]
    sqs = boto3.client("sqs")
    queue_url, message = spec["sqs"]["queue_url"], spec["sqs"]["body"]
    samples: dict[str, list[float]] = {name: [] for name in [*targets, SQS_BASELINE]}
    errors: dict[str, int] = dict.fromkeys(samples, 0)
    last_error: dict[str, str] = {}
    with httpx.Client(timeout=10) as client:
        for round_number in range(spec["warmup"] + spec["n"]):
            if round_number % EMPTY_EVERY_ROUNDS == 0:
                empty_queue(sqs, queue_url)
            keep = round_number >= spec["warmup"]
            for name, target in targets.items():
                body = target["body"].encode("utf-8")
                started = time.perf_counter()
                response = client.post(target["url"], content=body, headers=target["headers"])
                elapsed = time.perf_counter() - started
                if response.status_code != 200 or response.content:
                    errors[name] += 1
                    last_error[name] = f"{response.status_code}: {response.text[:200]}"
                elif keep:
                    samples[name].append(elapsed)
            started = time.perf_counter()
            sqs.send_message(QueueUrl=queue_url, MessageBody=message)
            elapsed = time.perf_counter() - started
            if keep:
                samples[SQS_BASELINE].append(elapsed)
    json.dump({"samples": samples, "errors": errors, "last_error": last_error}, sys.stdout)


if __name__ == "__main__":
    main()
