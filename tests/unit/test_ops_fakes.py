"""In-memory stand-ins for the SQS queues and DynamoDB tables bridgectl's ops modules use, shared by the
test_ops_* modules (this one holds no tests). Only what the ops modules call is implemented."""

from __future__ import annotations

import itertools
from typing import Any

from crmbridge.ops.target import Target


class FakeSqs:
    """Queues by URL with SQS's visibility semantics on a manual clock (`tick`)."""

    def __init__(self, *urls: str) -> None:
        self.queues: dict[str, list[dict[str, Any]]] = {url: [] for url in urls}
        self.now = 1_700_000_000.0
        self._ids = itertools.count(1)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refuse_sends: set[str] = set()  # bodies send_message_batch refuses

    def tick(self, seconds: float) -> None:
        self.now += seconds

    def put(self, url: str, body: str) -> str:
        message_id = f"m-{next(self._ids):04d}"
        self.queues[url].append({"MessageId": message_id, "Body": body, "receives": 0, "hidden_until": 0.0,
                                 "sent": self.now, "handle": None})
        return message_id

    def bodies(self, url: str) -> list[str]:
        return [m["Body"] for m in self.queues[url]]

    def _visible(self, url: str) -> list[dict[str, Any]]:
        return [m for m in self.queues[url] if m["hidden_until"] <= self.now]

    # ------------------------------------------------------------------------- the client API used

    def receive_message(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("receive_message", kw))
        out = []
        for message in self._visible(kw["QueueUrl"])[: kw.get("MaxNumberOfMessages", 1)]:
            message["receives"] += 1
            message["hidden_until"] = self.now + kw.get("VisibilityTimeout", 30)
            message["handle"] = f"{message['MessageId']}#{message['receives']}"
            out.append({"MessageId": message["MessageId"], "ReceiptHandle": message["handle"], "Body": message["Body"],
                        "Attributes": {"ApproximateReceiveCount": str(message["receives"]),
                                       "SentTimestamp": str(int(message["sent"] * 1000))}})
        return {"Messages": out} if out else {}

    def change_message_visibility_batch(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("change_message_visibility_batch", kw))
        ok = []
        for entry in kw["Entries"]:
            for message in self.queues[kw["QueueUrl"]]:
                if message["handle"] == entry["ReceiptHandle"]:
                    message["hidden_until"] = self.now + entry["VisibilityTimeout"]
                    ok.append({"Id": entry["Id"]})
        return {"Successful": ok, "Failed": []}

    def send_message(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("send_message", kw))
        return {"MessageId": self.put(kw["QueueUrl"], kw["MessageBody"])}

    def send_message_batch(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("send_message_batch", kw))
        ok, failed = [], []
        for entry in kw["Entries"]:
            if entry["MessageBody"] in self.refuse_sends:
                failed.append({"Id": entry["Id"], "Code": "InternalError", "SenderFault": False})
            else:
                self.put(kw["QueueUrl"], entry["MessageBody"])
                ok.append({"Id": entry["Id"]})
        return {"Successful": ok, "Failed": failed}

    def delete_message_batch(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("delete_message_batch", kw))
        handles = {e["ReceiptHandle"]: e["Id"] for e in kw["Entries"]}
        queue = self.queues[kw["QueueUrl"]]
        deleted = [m for m in queue if m["handle"] in handles]
        self.queues[kw["QueueUrl"]] = [m for m in queue if m not in deleted]
        return {"Successful": [{"Id": handles[m["handle"]]} for m in deleted], "Failed": []}

    def get_queue_attributes(self, **kw: Any) -> dict[str, Any]:
        queue = self.queues[kw["QueueUrl"]]
        visible = len(self._visible(kw["QueueUrl"]))
        return {"Attributes": {"ApproximateNumberOfMessages": str(visible),
                               "ApproximateNumberOfMessagesNotVisible": str(len(queue) - visible),
                               "ApproximateNumberOfMessagesDelayed": "0"}}


def _evaluate(condition: Any, item: dict[str, Any]) -> bool:
    """boto3 condition objects: AND and equality are all the ops modules use."""
    expression = condition.get_expression()
    operator, values = expression["operator"], expression["values"]
    if operator == "AND":
        return all(_evaluate(v, item) for v in values)
    if operator == "=":
        return item.get(values[0].name) == values[1]
    raise NotImplementedError(operator)


class FakeTable:
    """A DynamoDB table (boto3 resource Table): items by key, scans in pages of `page_size`."""

    def __init__(self, *key_names: str, page_size: int = 2) -> None:
        self.key_names = key_names
        self.items: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.page_size = page_size
        self.scans: list[dict[str, Any]] = []

    def _key(self, source: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(source[k] for k in self.key_names)

    def put_item(self, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.items[self._key(Item)] = dict(Item)
        return {}

    def get_item(self, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        item = self.items.get(self._key(Key))
        return {"Item": dict(item)} if item else {}

    def query(self, KeyConditionExpression: Any, ScanIndexForward: bool = True, Limit: int | None = None,
              **_: Any) -> dict[str, Any]:
        _, pk = KeyConditionExpression.get_expression()["values"]
        items = sorted((i for i in self.items.values() if i[self.key_names[0]] == pk),
                       key=lambda i: i[self.key_names[1]], reverse=not ScanIndexForward)
        return {"Items": [dict(i) for i in items[:Limit]]}

    def scan(self, **kw: Any) -> dict[str, Any]:
        self.scans.append(kw)
        items = [i for i in self.items.values() if "FilterExpression" not in kw or _evaluate(kw["FilterExpression"], i)]
        start = int(kw.get("ExclusiveStartKey", {}).get("offset", 0))
        page = items[start:start + self.page_size]
        if "ProjectionExpression" in kw:
            names = kw.get("ExpressionAttributeNames", {})
            wanted = {names.get(p.strip(), p.strip()) for p in kw["ProjectionExpression"].split(",")}
            page = [{k: v for k, v in i.items() if k in wanted} for i in page]
        out: dict[str, Any] = {"Items": [dict(i) for i in page]}
        if start + self.page_size < len(items):
            out["LastEvaluatedKey"] = {"offset": start + self.page_size}
        return out


class FakeSession:
    region_name = "eu-west-2"


def fake_target(sqs: FakeSqs | None = None, tables: dict[str, FakeTable] | None = None,
                **kwargs: Any) -> Target:
    """A local target whose clients and tables are the fakes (queue URLs 'sync' and 'dlq')."""
    tables = tables if tables is not None else standard_tables()

    class _Resource:
        def Table(self, name: str) -> FakeTable:
            return tables[name.removeprefix("xero-crm-bridge-local-")]

    target = Target(kind="local", name="local", session=FakeSession(), endpoint_url="http://fake",
                    physical={"SyncQueue": "sync", "SyncDeadLetterQueue": "dlq"}, **kwargs)
    target._clients["sqs"] = sqs or FakeSqs("sync", "dlq")
    target._resources["dynamodb"] = _Resource()
    return target


def standard_tables() -> dict[str, FakeTable]:
    return {"LinksTable": FakeTable("pk", "sk"), "SyncHistoryTable": FakeTable("pk", "sk"),
            "TokensTable": FakeTable("tenant_id")}
