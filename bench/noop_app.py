"""A handler that does nothing: the gateway's own cost (HTTP, event building, response mapping)."""


def lambda_handler(event: dict, context: object) -> dict:
    return {"statusCode": 200, "body": ""}
