"""Operations: what `bridgectl` does, as plain functions over boto3 (ops.cli is the only module that
imports typer and rich, which the Lambda layer does not ship).

- target: which deployment (a CloudFormation stack or the local stack) and its resources;
- status: queue depths, Xero connections, last activity, permanent failures;
- dlq: list, show and redrive dead letters without consuming what is only read;
- resync: enqueue a deal or an invoice again;
- history: a deal's or invoice's sync history, record and links;
- connect: the Xero authorization URL;
- mapping: mapping document validation with explanations;
- going live (golive builds what they share from a target): audit (records to clean first), dryrun
  (the exact invoices, nothing created), testbatch (a few deals for real, with a checklist), backfill
  (won deals of a period, 50 invoices per Xero request, paced by throttle, resumable) and leakage (won
  deals without an invoice, invoices without a deal, amounts that differ; also on a schedule).
"""
