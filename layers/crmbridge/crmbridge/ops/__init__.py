"""Operations: what `bridgectl` does, as plain functions over boto3 (ops.cli is the only module that
imports typer and rich, which the Lambda layer does not ship).

- target: which deployment (a CloudFormation stack or the local stack) and its resources;
- status: queue depths, Xero connections, last activity, permanent failures;
- dlq: list, show and redrive dead letters without consuming what is only read;
- resync: enqueue a deal or an invoice again;
- history: a deal's or invoice's sync history, record and links;
- connect: the Xero authorization URL;
- mapping: mapping document validation with explanations.
"""
