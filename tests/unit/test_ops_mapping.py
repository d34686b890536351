"""bridgectl mapping validate: every problem with where, what and how to fix it."""

from __future__ import annotations

import json
from pathlib import Path

from crmbridge.ops.mapping import validate_file, validate_text

DEFAULT = Path(__file__).resolve().parents[2] / "layers/crmbridge/crmbridge/mapping/default_mapping.json"


def test_the_shipped_mapping_is_valid_without_warnings():
    check = validate_file(DEFAULT)

    assert check.valid and check.problems == [] and check.warnings == []
    assert check.summary["product_rules"] == 3 and check.summary["default_account_code"] == "200"


def test_every_problem_is_reported_with_a_hint():
    check = validate_text(json.dumps({
        "products": [{"product_cod": "X"}], "default_tax_method": "incl", "currencies": ["gbp"],
        "tax_types_by_rate": {"twenty": "OUTPUT2", "5": "RROUTPUT"}, "payment_terms_days": 400,
    }))

    problems = {p.where: p for p in check.problems}
    assert not check.valid
    assert set(problems) == {"tax_types_by_rate.twenty", "products.0.product_cod", "default_tax_method",
                             "currencies", "payment_terms_days"}
    assert "product_code" in problems["products.0.product_cod"].hint and "typo" in problems["products.0.product_cod"].hint
    assert "'exclusive'" in problems["default_tax_method"].hint
    assert "ISO 4217" in problems["currencies"].message
    assert "not a tax rate" in problems["tax_types_by_rate.twenty"].message
    assert problems["payment_terms_days"].hint == "the number is out of range"


def test_unknown_top_level_settings_list_the_allowed_ones():
    [problem] = validate_text('{"default_acount_code": "200"}').problems

    assert problem.where == "default_acount_code" and "default_account_code" in problem.hint


def test_invalid_json_says_where():
    [problem] = validate_text('{"products": [}').problems

    assert "JSON" in problem.message and "comma" in problem.hint


def test_shadowed_rules_and_an_unset_default_account_are_warnings():
    check = validate_text(json.dumps({
        "products": [{"product_code": "A", "account_code": "200"}, {"product_code": "A", "account_code": "260"}],
        "country_tax": [{"countries": ["FR"], "tax_type": "X"}, {"countries": ["France"], "tax_type": "Y"}],
    }))

    assert check.valid
    assert [w.where for w in check.warnings] == ["products.1.product_code", "default_account_code",
                                                 "country_tax.1.countries"]


def test_an_unreadable_file_is_a_problem(tmp_path):
    check = validate_file(tmp_path / "missing.json")

    assert not check.valid and check.problems[0].where == "(file)"
