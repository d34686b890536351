"""bridgectl audit on the local stack: nothing on clean data, then each planted problem found.

A stack of its own (the audit reads every record, so other modules' data must not be there); the
tests run in order: clean data first, then problems planted next to it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.flow import running_flow
from tests.e2e.golive_flow import bridgectl, bridgectl_json, seed

pytestmark = pytest.mark.e2e

BILLING = {"organization_fields": [{"field_name": "Billing email", "field_type": "varchar"}]}


@pytest.fixture(scope="module")
def flow() -> Iterator[dict[str, Any]]:
    with running_flow("pipedrive") as running:
        yield running


def add_xero_contacts(flow: dict[str, Any], *contacts: dict[str, Any]) -> None:
    xero = flow["xero"]
    response = xero.http.put("/api.xro/2.0/Contacts", headers=xero._auth(), json={"Contacts": list(contacts)})
    assert response.status_code == 200, response.text


def organisation(ref: str, name: str, email: str | None, *, country: str | None = "GB") -> dict[str, Any]:
    spec: dict[str, Any] = {"ref": ref, "name": name}
    if country:
        spec["address"] = {"value": f"1 {name} Way, Leeds", "country": country}
    if email:
        spec["custom_fields"] = {"Billing email": email}
    return spec


def test_audit_finds_nothing_on_clean_data(flow):
    # Given well-kept records: organisations with billing email, address and country, persons with
    # emails, mapped products, and a Xero contact that is exactly one of the organisations
    seed(flow, {**BILLING,
                "organizations": [organisation("a", "Acme Ltd", "ap@acme.test"),
                                  organisation("b", "Bluth Company", "ap@bluth.test")],
                "persons": [{"ref": "p", "name": "Pat", "org_ref": "a", "emails": [{"value": "pat@acme.test"}]}],
                "products": [{"ref": "l", "name": "Licence", "code": "LIC-STD"},
                             {"ref": "t", "name": "Training", "code": "TRAIN"}]})
    add_xero_contacts(flow, {"Name": "Acme Limited", "EmailAddress": "ap@acme.test"})
    # When audited
    report = bridgectl_json(flow, "audit")
    # Then every check is clean
    assert report["counts"] == dict.fromkeys(report["counts"], 0)
    assert (report["organisations"], report["products"], report["xero_contacts"]) == (2, 2, 1)


def test_audit_finds_each_planted_problem(flow, tmp_path):
    # Given problems planted next to the clean records
    seed(flow, {**BILLING,
                "organizations": [organisation("g1", "Globex Ltd", "ap@globex.test"),
                                  organisation("g2", "GLOBEX Limited", None),                      # duplicate name
                                  organisation("i1", "Initech", "billing@initech.test"),
                                  organisation("i2", "Initrode", "ap@initech.test"),               # same domain
                                  organisation("n", "Nowhere Co", "ap@nowhere.test", country=None),  # no country
                                  organisation("h", "Hooli Holdings", "ap@hooli.test"),            # 2 Xero matches
                                  organisation("v", "Vandelay", "art@vandelay-imports.test")],     # Xero lookalike
                "persons": [{"ref": "q", "name": "No Mail", "org_ref": "i1"}],                     # person without email
                "products": [{"ref": "m", "name": "Mystery box", "code": "MYS"}]})                 # unmapped
    add_xero_contacts(flow, {"Name": "Hooli", "EmailAddress": "ap@hooli.test"},
                      {"Name": "Hooli XYZ", "EmailAddress": "ap@hooli.test"},
                      {"Name": "Vandelay Industries"})
    csv_path = tmp_path / "audit.csv"
    # When audited, with a CSV
    report = bridgectl_json(flow, "audit", "--csv", str(csv_path))
    # Then each problem is found, and only those
    subjects = {(f["check"], f["subject"]) for f in report["findings"]}
    names = {check: sorted(s for c, s in subjects if c == check) for check in report["counts"]}
    duplicates = names["duplicate_organisations"]
    assert len(duplicates) == 2
    assert any("GLOBEX" in s and "Globex" in s for s in duplicates)
    assert any("Initech" in s and "Initrode" in s for s in duplicates)
    missing = names["missing_invoice_data"]
    assert len(missing) == 3
    assert [any(who in s for s in missing) for who in ("GLOBEX Limited", "Nowhere Co", "No Mail")] == [True] * 3
    assert names["unmapped_products"] == ["product Mystery box (MYS)"]
    assert [s.split(" (")[0] for s in names["ambiguous_contacts"]] == ["organisation Hooli Holdings"]
    assert [s.split(" (")[0] for s in names["xero_duplicates"]] == ["organisation Vandelay"]
    # And the CSV holds every finding
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert len(rows) == len(report["findings"]) == sum(report["counts"].values())


def test_audit_prints_tables_with_counts(flow):
    # When audited without --json, Then the summary names each check with its count
    out = bridgectl(flow, "audit", "--examples", "1").stdout
    assert "Products with no mapping rule" in out and "Mystery box" in out
