"""`bridgectl setup`: create the bridge's own CRM fields once and store their codes.

Run once per deployment (and again after an upgrade that adds a field, or after someone deleted one):
it finds the fields that exist, creates the missing ones, and stores the codes in the links table
(crm.field_store), where every worker reads them. Workers never create a field, so workers racing the
first deals of a fresh account cannot make two copies of one. Where copies exist already (made by hand
or by an older version), the oldest is the bridge's and the others are reported; `bridgectl status`
keeps warning about them.

Idempotent: a second run creates nothing and stores the same codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from crmbridge.crm.field_store import FieldStore, StoredFields
from crmbridge.crm.hubspot import HubSpotCrm
from crmbridge.crm.pipedrive import PipedriveCrm
from crmbridge.ops.common import OpsError
from crmbridge.ops.golive import crm_for as golive_crm_for
from crmbridge.ops.golive import settings_for
from crmbridge.ops.target import Target

FIELD_ENTITIES = {"pipedrive": PipedriveCrm.field_entities, "hubspot": HubSpotCrm.field_entities}


class FieldsCrm(Protocol):
    name: str
    field_entities: tuple[str, ...]

    def find_fields(self, entity: str) -> tuple[StoredFields, list[str]]: ...

    def create_fields(self, entity: str, keys: Sequence[str]) -> None: ...


@dataclass
class EntityFields:
    entity: str
    created: list[str] = field(default_factory=list)  # keys of the fields this run created
    codes: dict[str, str] = field(default_factory=dict)
    duplicates: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class SetupReport:
    crm: str
    entities: list[EntityFields] = field(default_factory=list)


def set_up_fields(crm: FieldsCrm, store: FieldStore) -> SetupReport:
    """Find or create each of the bridge's fields on `crm`, then store their codes."""
    report = SetupReport(crm=crm.name)
    for entity in crm.field_entities:
        found, missing = crm.find_fields(entity)
        if missing:
            crm.create_fields(entity, missing)
            found, still_missing = crm.find_fields(entity)
            if still_missing:
                raise OpsError(f"{crm.name} did not keep the {entity} fields {still_missing} setup created")
        store.save(crm.name, entity, found)
        report.entities.append(EntityFields(entity=entity, created=list(missing), codes=dict(found.codes),
                                            duplicates=dict(found.duplicates)))
    return report


def crm_for(target: Target, http: httpx.Client, store: FieldStore) -> FieldsCrm:
    """The target's CRM, as setup talks to it (its URL and token as the functions have them)."""
    return golive_crm_for(target, settings_for(target), http, store)


def run_setup(target: Target, http: httpx.Client | None = None) -> SetupReport:
    client = http or httpx.Client(timeout=30)
    try:
        store = FieldStore(target.table("LinksTable"))
        return set_up_fields(crm_for(target, client, store), store)
    finally:
        if http is None:
            client.close()


def field_warnings(target: Target) -> list[str]:
    """What `bridgectl status` says about the bridge's CRM fields: not set up, or held more than once."""
    crm = target.crm_provider
    store = FieldStore(target.table("LinksTable"))
    notes = []
    for entity in FIELD_ENTITIES.get(crm, ()):
        stored = store.load(crm, entity)
        if stored is None:
            notes.append(f"The bridge's {crm} {entity} fields are not set up: run `bridgectl setup` (until then "
                         "deals fail with crm_fields_missing, unless an older version created the fields).")
            continue
        for key, others in sorted(stored.duplicates.items()):
            notes.append(f"The {crm} {entity} field for {key} exists {len(others) + 1} times: the bridge uses "
                         f"{stored.codes.get(key)} (the oldest) and never writes to {', '.join(others)}; delete "
                         "or rename those copies so nobody reads them, then run `bridgectl setup`.")
    return notes
