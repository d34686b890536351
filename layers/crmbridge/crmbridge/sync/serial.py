"""One writer at a time per subject (an invoice, a contact), and the last write reads Xero last.

Writes to the CRM are ordered by who read Xero last, not by who finished last: a worker reads and
writes a subject only while it holds the subject's lease. A worker that finds the lease held marks the
subject dirty and is done; the holder, before letting go, sees the mark and reads again. So ten events
for one contact at once cost as few reads as the interleaving allows, and the CRM ends with what Xero
said after the last of them. A holder that dies keeps its own message, which SQS redelivers, and that
retry reads afresh once the lease has expired.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from crmbridge.errors import RetryableError

Ran = Literal["done", "handed_over"]


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def serial_key(tenant_id: str, subject: str, subject_id: str) -> dict[str, str]:
    return {"pk": f"serial#{tenant_id}#{subject}#{subject_id}", "sk": "lease"}


@dataclass
class SerialWriter:
    table: Any
    clock: Callable[[], float] = time.time
    lease_seconds: int = 60
    max_rounds: int = 20  # a subject changing faster than we can read it hands over after this many
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)

    def run(self, key: dict[str, str], work: Callable[[], None]) -> Ran:
        while True:
            if self._acquire(key):
                return self._hold(key, work)
            if self._mark_dirty(key):
                return "handed_over"
            # The holder let go between our two writes: try to take the lease again.

    def _hold(self, key: dict[str, str], work: Callable[[], None]) -> Ran:
        for _ in range(self.max_rounds):
            try:
                work()
            except BaseException:
                self._let_go(key)
                raise
            if self._release_if_clean(key):
                return "done"
            if not self._clean_again(key):
                return "done"  # our lease expired and someone else holds it: they read after us
        self._let_go(key, dirty=True)
        raise RetryableError(f"{key['pk']} kept changing for {self.max_rounds} reads", retry_after_seconds=5)

    def _update(self, key: dict[str, str], expression: str, condition: str, values: dict[str, Any]) -> bool:
        try:
            self.table.update_item(Key=key, UpdateExpression=expression, ConditionExpression=condition,
                                   ExpressionAttributeNames={"#o": "owner"}, ExpressionAttributeValues=values)
            return True
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise

    def _acquire(self, key: dict[str, str]) -> bool:
        now = int(self.clock())
        return self._update(key, "SET #o = :me, lease_until = :until, dirty = :no",
                            "attribute_not_exists(#o) OR lease_until < :now OR #o = :me",
                            {":me": self.owner, ":until": now + self.lease_seconds, ":now": now, ":no": False})

    def _mark_dirty(self, key: dict[str, str]) -> bool:
        return self._update(key, "SET dirty = :yes", "attribute_exists(#o) AND #o <> :me AND lease_until >= :now",
                            {":me": self.owner, ":now": int(self.clock()), ":yes": True})

    def _release_if_clean(self, key: dict[str, str]) -> bool:
        return self._update(key, "SET lease_until = :zero REMOVE #o", "#o = :me AND dirty = :no",
                            {":me": self.owner, ":zero": 0, ":no": False})

    def _clean_again(self, key: dict[str, str]) -> bool:
        """Dirty while we held it: clear the mark (and renew the lease) to read once more."""
        now = int(self.clock())
        return self._update(key, "SET dirty = :no, lease_until = :until", "#o = :me",
                            {":me": self.owner, ":no": False, ":until": now + self.lease_seconds})

    def _let_go(self, key: dict[str, str], *, dirty: bool = False) -> None:
        self._update(key, "SET lease_until = :zero, dirty = :dirty REMOVE #o", "#o = :me",
                     {":me": self.owner, ":zero": 0, ":dirty": dirty})
