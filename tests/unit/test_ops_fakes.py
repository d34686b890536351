"""In-memory stand-ins for the SQS queues and DynamoDB tables bridgectl's ops modules use, shared by the
test_ops_* modules (this one holds no tests). Only what the ops modules call is implemented."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3

from crmbridge.crm.directory import DealSummary
from crmbridge.crm.models import CrmDeal, CrmLine, CrmOrganisation
from crmbridge.errors import RetryableError
from crmbridge.ops.target import Target
from crmbridge.xero.client import BatchElement
from crmbridge.xero.models import Contact, ContactRef, Invoice, NewInvoice, TaxRate

WON = datetime(2026, 3, 2, 10, tzinfo=UTC)
TENANT = "tenant-1"


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


# ----------------------------------------------------------------------------- go-live: CRM, Xero, links


class FakeCrm:
    name = "pipedrive"
    field_entities = ("deal", "organization")

    def __init__(self, count: int) -> None:
        org = CrmOrganisation(id="o1", name="Acme Ltd", email="ap@acme.test")
        self.deals = {str(i): CrmDeal(id=str(i), title=f"Deal {i}", status="won", value=Decimal(120), currency="GBP",
                                      won_time=WON, organisation=org,
                                      lines=[CrmLine(name="Support", quantity=Decimal(1), unit_price=Decimal(100),
                                                     tax_percent=Decimal(20), tax_method="exclusive")])
                      for i in range(1, count + 1)}
        self.written: dict[str, str] = {}

    def won_deals(self, *, won_from=None, won_to=None) -> Iterator[DealSummary]:
        for deal in self.deals.values():
            if deal.status != "won" or (won_from and deal.won_time < won_from) or (won_to and deal.won_time >= won_to):
                continue
            yield DealSummary(id=deal.id, title=deal.title, status="won", value=deal.value, currency="GBP",
                              won_time=deal.won_time, organisation_id="o1")

    def read_deals(self, deal_ids: Sequence[str]) -> list[CrmDeal]:
        return [self.deals[d] for d in deal_ids if d in self.deals]

    def set_organisation_contact(self, organisation_id: str, contact_id: str) -> None:
        pass

    def field_codes(self, entity: str) -> dict[str, str]:
        return {}

    def write_invoice(self, deal_id: str, invoice: Any) -> None:
        self.written[deal_id] = invoice.invoice_id


class FakeXero:
    def __init__(self) -> None:
        self.invoices: list[Invoice] = []
        self.requests: list[str] = []
        self.lose_answers = 0  # the next N batches are created, but their answer is lost
        self.refuse_references: set[str] = set()
        self._ids = itertools.count(1)
        self.lookups = 0

    def contacts(self, tenant_id: str) -> list[Contact]:
        return [Contact(ContactID="c-acme", Name="Acme Ltd", EmailAddress="ap@acme.test")]

    def create_invoices(self, tenant_id: str, invoices: Sequence[NewInvoice], *, idempotency_key: str):
        self.requests.append(idempotency_key)
        answers = []
        for new in invoices:
            if new.reference in self.refuse_references:
                answers.append(BatchElement(invoice=None, errors=["Account code '999' is not a valid code"]))
                continue
            number = next(self._ids)
            invoice = Invoice(InvoiceID=f"inv-{number}", InvoiceNumber=f"INV-{number:04d}", Type="ACCREC",
                              Status=new.status, Reference=new.reference, UpdatedDateUTC=WON, CurrencyCode="GBP",
                              Total=sum((i.quantity * i.unit_amount for i in new.line_items), Decimal(0)) * Decimal("1.2"),
                              LineItems=new.line_items, Contact=self._contact_of(new))
            self.invoices.append(invoice)
            answers.append(BatchElement(invoice=invoice, errors=[]))
        if self.lose_answers:
            self.lose_answers -= 1
            raise RetryableError("xero timed out")
        return answers

    @staticmethod
    def _contact_of(new: NewInvoice) -> ContactRef:
        """The contact sent by id, or the one Xero creates for a new name (as Xero does)."""
        if isinstance(new.contact, ContactRef) and new.contact.contact_id:
            return ContactRef(ContactID=new.contact.contact_id, Name="Acme Ltd")
        return ContactRef(ContactID=f"c-new-{new.contact.name}", Name=new.contact.name)

    def sales_invoices(self, tenant_id: str) -> list[Invoice]:
        return list(self.invoices)

    def get_invoice(self, tenant_id: str, invoice_id: str) -> Invoice:
        return next(i for i in self.invoices if i.invoice_id == invoice_id)

    def tax_rates(self, tenant_id: str) -> list[TaxRate]:
        return [TaxRate(TaxType="OUTPUT2", EffectiveRate=Decimal(20)), TaxRate(TaxType="NONE", EffectiveRate=Decimal(0))]

    def invoices_by_references(self, tenant_id: str, references: Sequence[str]) -> list[Invoice]:
        self.lookups += 1
        return [i for i in self.invoices if i.reference in set(references)]


def links_table() -> Any:
    """The links table in moto (call inside mock_aws)."""
    dynamodb = boto3.resource("dynamodb", region_name="eu-west-2")
    return dynamodb.create_table(
        TableName="links", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])


class FakeQueue:
    """The sync queue as webhooks and sweeps use it: what was sent, in order."""

    def __init__(self) -> None:
        self.sent: list = []

    def send(self, commands) -> int:
        self.sent.extend(commands)
        return len(commands)
