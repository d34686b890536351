"""The links table: deal -> invoice (and back), with the claim that makes creation exactly-once.

A deal's invoice item moves PENDING -> CREATED. PENDING carries a lease: a worker that finds a live
lease of another waits; one that finds an expired lease takes it over but must treat the earlier
attempt's outcome as unknown (Xero may have created the invoice before a crash) and look it up first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError


@dataclass(frozen=True)
class InvoiceLink:
    # PENDING: being invoiced (a claim); CREATED: the bridge's invoice is recorded; RELEASED: that
    # invoice was voided or deleted and the deal may be invoiced again (a new generation).
    state: Literal["PENDING", "CREATED", "RELEASED"]
    tenant_id: str
    invoice_id: str | None = None
    invoice_number: str | None = None
    contact_id: str | None = None
    won_time: str | None = None  # as the win's webhook said it (compared with a redelivery's)
    written_back: bool = False
    generation: int = 0
    deal_won_time: str | None = None  # as the CRM said it when the invoice was raised


@dataclass(frozen=True)
class Claim:
    uncertain: bool  # an earlier attempt may have created the invoice
    generation: int = 0
    # The request an earlier attempt sent (NewInvoice JSON), when it got that far: the proof to look
    # for in Xero, and the request to replay with the same Idempotency-Key.
    attempt: str | None = None
    tenant_id: str | None = None  # the organisation an earlier attempt was for, when the claim is retaken


# Claims written by this version say so: one without a recorded attempt then sent nothing to Xero.
# An older claim without the marker may have, so it is settled by proof against a fresh build.
CLAIM_VERSION = 2


def deal_pk(crm: str, deal_id: str) -> str:
    return f"deal#{crm}#{deal_id}"


def invoice_pk(tenant_id: str, invoice_id: str) -> str:
    return f"invoice#{tenant_id}#{invoice_id}"


def contact_pk(tenant_id: str, contact_id: str) -> str:
    return f"contact#{tenant_id}#{contact_id}"


@dataclass(frozen=True)
class DealRef:
    crm: str
    deal_id: str
    organisation_id: str | None


@dataclass(frozen=True)
class Created:
    """A deal's invoice as Xero created it, to record."""

    deal_id: str
    invoice_id: str
    invoice_number: str | None
    contact_id: str | None
    organisation_id: str | None
    won_time: str | None = None
    deal_won_time: str | None = None
    generation: int = 0
    # The invoice state written to the CRM with it (UpdatedDateUTC ISO, status), if any: a Xero webhook
    # about that same state then finds it recorded and costs one read instead of a second write-back.
    state: tuple[str, str] | None = None


def _created_items(crm: str, tenant_id: str, created: Created, *, at: str, written_back: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {"pk": deal_pk(crm, created.deal_id), "sk": Links.INVOICE, "state": "CREATED", "tenant_id": tenant_id,
         "invoice_id": created.invoice_id, "invoice_number": created.invoice_number, "contact_id": created.contact_id,
         "won_time": created.won_time, "created_at": at, "written_back": written_back,
         "generation": created.generation, "deal_won_time": created.deal_won_time},
        {"pk": invoice_pk(tenant_id, created.invoice_id), "sk": "deal", "crm": crm, "deal_id": created.deal_id,
         "organisation_id": created.organisation_id, "created_at": at},
    ]
    if created.contact_id and created.organisation_id:
        items.append({"pk": contact_pk(tenant_id, created.contact_id), "sk": "organisation", "crm": crm,
                      "organisation_id": created.organisation_id, "created_at": at})
    if created.state and written_back:
        items.append({"pk": invoice_pk(tenant_id, created.invoice_id), "sk": "state", "updated": created.state[0],
                      "status": created.state[1]})
    return items


def _link_of(item: dict[str, Any]) -> InvoiceLink:
    return InvoiceLink(
        state=item["state"], tenant_id=item["tenant_id"], invoice_id=item.get("invoice_id"),
        invoice_number=item.get("invoice_number"), contact_id=item.get("contact_id"),
        won_time=item.get("won_time"), written_back=bool(item.get("written_back")),
        generation=int(item.get("generation", 0)), deal_won_time=item.get("deal_won_time"),
    )


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class Links:
    INVOICE = "invoice"

    def __init__(self, table: Any) -> None:
        self._table = table

    def invoice_for(self, crm: str, deal_id: str) -> InvoiceLink | None:
        item = self._table.get_item(Key={"pk": deal_pk(crm, deal_id), "sk": self.INVOICE}, ConsistentRead=True).get("Item")
        return _link_of(item) if item else None

    def claim(self, crm: str, deal_id: str, *, tenant_id: str, owner: str, now: int, lease_seconds: int,
              reopen: bool = False) -> Claim | None:
        """Take the right to create this deal's invoice; None while another worker holds it (or the deal
        has its invoice). reopen: a RELEASED deal (its invoice voided) becomes claimable, one generation on."""
        key = {"pk": deal_pk(crm, deal_id), "sk": self.INVOICE}
        try:
            self._table.put_item(
                Item={**key, "state": "PENDING", "tenant_id": tenant_id, "owner": owner, "lease_until": now + lease_seconds,
                      "claim_version": CLAIM_VERSION, "generation": 0},
                ConditionExpression=Attr("pk").not_exists(),
            )
            return Claim(uncertain=False)
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
        if reopen:
            try:
                item = self._table.update_item(
                    Key=key,
                    UpdateExpression=("SET #s = :pending, #o = :owner, lease_until = :until, tenant_id = :tenant, "
                                      "claim_version = :v, generation = if_not_exists(generation, :zero) + :one "
                                      "REMOVE attempt"),
                    ConditionExpression="#s = :released",
                    ExpressionAttributeNames={"#o": "owner", "#s": "state"},
                    ExpressionAttributeValues={":owner": owner, ":until": now + lease_seconds, ":pending": "PENDING",
                                               ":released": "RELEASED", ":tenant": tenant_id, ":v": CLAIM_VERSION,
                                               ":zero": 0, ":one": 1},
                    ReturnValues="ALL_NEW",
                )["Attributes"]
                return Claim(uncertain=False, generation=int(item["generation"]))
            except ClientError as exc:
                if not _condition_failed(exc):
                    raise
        try:
            item = self._table.update_item(
                Key=key,
                UpdateExpression="SET #o = :owner, lease_until = :until",
                ConditionExpression="#s = :pending AND (lease_until < :now OR #o = :owner)",
                ExpressionAttributeNames={"#o": "owner", "#s": "state"},
                ExpressionAttributeValues={":owner": owner, ":until": now + lease_seconds, ":now": now, ":pending": "PENDING"},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if _condition_failed(exc):
                return None
            raise
        attempt = item.get("attempt")
        legacy = int(item.get("claim_version", 0)) < CLAIM_VERSION
        return Claim(uncertain=bool(attempt) or legacy, generation=int(item.get("generation", 0)), attempt=attempt,
                     tenant_id=item.get("tenant_id"))

    def record_attempt(self, crm: str, deal_id: str, owner: str, *, request: str) -> bool:
        """Just before the PUT: what is about to be sent, so whoever settles an unknown outcome can prove
        it (False: this owner no longer holds the claim)."""
        try:
            self._table.update_item(
                Key={"pk": deal_pk(crm, deal_id), "sk": self.INVOICE},
                UpdateExpression="SET attempt = :request",
                ConditionExpression="#s = :pending AND #o = :owner",
                ExpressionAttributeNames={"#o": "owner", "#s": "state"},
                ExpressionAttributeValues={":owner": owner, ":pending": "PENDING", ":request": request},
            )
            return True
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise

    def release_invoice(self, crm: str, deal_id: str, invoice_id: str) -> bool:
        """The deal's invoice was voided or deleted: the deal may be invoiced again (False: it has no such
        invoice recorded, e.g. already released or re-invoiced)."""
        try:
            self._table.update_item(
                Key={"pk": deal_pk(crm, deal_id), "sk": self.INVOICE},
                UpdateExpression="SET #s = :released, released_invoice_ids = list_append(if_not_exists(released_invoice_ids, :empty), :id)",
                ConditionExpression="#s = :created AND invoice_id = :invoice",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":released": "RELEASED", ":created": "CREATED", ":invoice": invoice_id,
                                           ":empty": [], ":id": [invoice_id]},
            )
            return True
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise

    def _batch_get(self, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Items by key, 100 per BatchGetItem, unprocessed keys asked again."""
        items: list[dict[str, Any]] = []
        client, name = self._table.meta.client, self._table.name
        unique = list({(k["pk"], k["sk"]): k for k in keys}.values())
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {name: {"Keys": unique[start:start + 100], "ConsistentRead": True}}
            while request:
                answer = client.batch_get_item(RequestItems=request)
                items.extend(answer.get("Responses", {}).get(name, []))
                request = answer.get("UnprocessedKeys") or {}
        return items

    def invoices_for(self, crm: str, deal_ids: list[str]) -> dict[str, InvoiceLink]:
        """The invoice items of many deals, by deal id; deals without one are absent."""
        items = self._batch_get([{"pk": deal_pk(crm, d), "sk": self.INVOICE} for d in deal_ids])
        return {item["pk"].split("#", 2)[2]: _link_of(item) for item in items}

    def deals_for_invoices(self, tenant_id: str, invoice_ids: list[str]) -> dict[str, DealRef]:
        """The deal each of many invoices belongs to, by invoice id; unlinked invoices are absent."""
        items = self._batch_get([{"pk": invoice_pk(tenant_id, i), "sk": "deal"} for i in invoice_ids])
        return {item["pk"].split("#", 2)[2]: DealRef(crm=item["crm"], deal_id=item["deal_id"],
                                                   organisation_id=item.get("organisation_id")) for item in items}

    def mark_written_back_many(self, crm: str, tenant_id: str, created: list[Created], *, at: str) -> None:
        """After record_created_many: the deals' invoices are on the CRM (with the state written, if any)."""
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for one in created:
                for item in _created_items(crm, tenant_id, one, at=at, written_back=True):
                    if item["sk"] in (self.INVOICE, "state"):
                        batch.put_item(Item=item)

    def release(self, crm: str, deal_id: str, owner: str) -> None:
        """Give up a claim before anything was sent to Xero (the attempt failed in validation). A deal
        re-opened after a voided invoice goes back to RELEASED, keeping its generation."""
        try:
            self._table.update_item(
                Key={"pk": deal_pk(crm, deal_id), "sk": self.INVOICE},
                UpdateExpression="SET #s = :released, lease_until = :zero REMOVE #o, attempt",
                ConditionExpression="#s = :pending AND #o = :owner AND generation > :zero",
                ExpressionAttributeNames={"#o": "owner", "#s": "state"},
                ExpressionAttributeValues={":owner": owner, ":pending": "PENDING", ":released": "RELEASED", ":zero": 0},
            )
            return
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
        try:
            self._table.delete_item(
                Key={"pk": deal_pk(crm, deal_id), "sk": self.INVOICE},
                ConditionExpression="#s = :pending AND #o = :owner",
                ExpressionAttributeNames={"#o": "owner", "#s": "state"},
                ExpressionAttributeValues={":owner": owner, ":pending": "PENDING"},
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise

    def abandon(self, crm: str, deal_id: str, owner: str) -> None:
        """Stop working on a claim whose outcome is unknown (a timeout mid-call): it stays PENDING, so
        the next attempt, by any worker, may take it at once but must look in Xero first."""
        try:
            self._table.update_item(
                Key={"pk": deal_pk(crm, deal_id), "sk": self.INVOICE},
                UpdateExpression="SET lease_until = :zero",
                ConditionExpression="#s = :pending AND #o = :owner",
                ExpressionAttributeNames={"#o": "owner", "#s": "state"},
                ExpressionAttributeValues={":owner": owner, ":pending": "PENDING", ":zero": 0},
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise

    def record_created(self, crm: str, tenant_id: str, created: Created, *, at: str) -> None:
        for item in _created_items(crm, tenant_id, created, at=at, written_back=False):
            self._table.put_item(Item=item)

    def record_created_many(self, crm: str, tenant_id: str, created: list[Created], *, at: str,
                            written_back: bool = False) -> None:
        """record_created for many deals, 25 items per BatchWriteItem (a backfill's batch)."""
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for one in created:
                for item in _created_items(crm, tenant_id, one, at=at, written_back=written_back):
                    batch.put_item(Item=item)

    def link_invoice(self, tenant_id: str, invoice_id: str, *, crm: str, deal_id: str,
                     organisation_id: str | None, at: str) -> None:
        self._table.put_item(Item={
            "pk": invoice_pk(tenant_id, invoice_id), "sk": "deal", "crm": crm, "deal_id": deal_id,
            "organisation_id": organisation_id, "created_at": at,
        })

    def link_contact(self, tenant_id: str, contact_id: str, *, crm: str, organisation_id: str, at: str) -> None:
        self._table.put_item(Item={
            "pk": contact_pk(tenant_id, contact_id), "sk": "organisation", "crm": crm,
            "organisation_id": organisation_id, "created_at": at,
        })

    def organisation_for_contact(self, tenant_id: str, contact_id: str) -> tuple[str, str] | None:
        item = self._table.get_item(Key={"pk": contact_pk(tenant_id, contact_id), "sk": "organisation"}).get("Item")
        return (item["crm"], item["organisation_id"]) if item else None

    def invoice_state(self, tenant_id: str, invoice_id: str) -> tuple[str, str] | None:
        """(UpdatedDateUTC, status) of the newest invoice state written to the CRM."""
        item = self._table.get_item(Key={"pk": invoice_pk(tenant_id, invoice_id), "sk": "state"},
                                    ConsistentRead=True).get("Item")
        return (item["updated"], item["status"]) if item else None

    def advance_invoice_state(self, tenant_id: str, invoice_id: str, *, updated: str, status: str) -> None:
        """Record a state written to the CRM, unless a newer one was recorded meanwhile."""
        try:
            self._table.update_item(
                Key={"pk": invoice_pk(tenant_id, invoice_id), "sk": "state"},
                UpdateExpression="SET updated = :u, #s = :s",
                ConditionExpression="attribute_not_exists(updated) OR updated < :u",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":u": updated, ":s": status},
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise

    def mark_written_back(self, crm: str, deal_id: str) -> None:
        self._table.update_item(
            Key={"pk": deal_pk(crm, deal_id), "sk": self.INVOICE},
            UpdateExpression="SET written_back = :yes", ExpressionAttributeValues={":yes": True},
        )

    def deal_for_invoice(self, tenant_id: str, invoice_id: str) -> DealRef | None:
        item = self._table.get_item(Key={"pk": invoice_pk(tenant_id, invoice_id), "sk": "deal"}).get("Item")
        if not item:
            return None
        return DealRef(crm=item["crm"], deal_id=item["deal_id"], organisation_id=item.get("organisation_id"))
