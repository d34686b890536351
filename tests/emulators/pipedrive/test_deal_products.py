"""Deal products: cursor pagination up to 500 a page, sums as Pipedrive computes them, deal value."""

from __future__ import annotations

from decimal import Decimal

import pytest

from local.emulators.pipedrive import product_sum


def _deal_with_products(api, count: int) -> int:
    product_id = api.post("/api/v2/products", json={
        "name": "Widget", "code": "W-1", "prices": [{"price": 10, "currency": "GBP"}]}).json()["data"]["id"]
    deal_id = api.post("/api/v2/deals", json={"title": "Many lines"}).json()["data"]["id"]
    for index in range(count):
        response = api.post(f"/api/v2/deals/{deal_id}/products",
                            json={"product_id": product_id, "item_price": 10 + index, "quantity": 1})
        assert response.status_code == 201
    return deal_id


def test_deal_products_page_with_a_cursor_until_next_cursor_is_null(api):
    # Given a deal with seven products
    deal_id = _deal_with_products(api, 7)
    # When they are read three at a time following next_cursor
    pages, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api.get(f"/api/v2/deals/{deal_id}/products", params=params).json()
        pages.append([item["item_price"] for item in body["data"]])
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            break
    # Then every product came once, in order, in pages of 3, 3 and 1
    assert pages == [[10, 11, 12], [13, 14, 15], [16]]


def test_deal_products_limit_above_500_is_refused(api):
    # Given a deal
    deal_id = _deal_with_products(api, 1)
    # When more than 500 are asked for in one page
    response = api.get(f"/api/v2/deals/{deal_id}/products", params={"limit": 501})
    # Then it is refused
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("line", "expected_sum"),
    [
        ({"item_price": 100, "quantity": 3}, 300),
        ({"item_price": 100, "quantity": 3, "discount": 10, "discount_type": "percentage"}, 270),
        ({"item_price": 100, "quantity": 3, "discount": 25, "discount_type": "amount"}, 275),
        ({"item_price": 100, "quantity": 2, "tax": 20, "tax_method": "exclusive"}, 240),
        ({"item_price": 120, "quantity": 2, "tax": 20, "tax_method": "inclusive"}, 240),
        ({"item_price": 100, "quantity": 2, "tax": 20, "tax_method": "none"}, 200),
        ({"item_price": 19.99, "quantity": 3, "discount": 5, "discount_type": "percentage", "tax": 20,
          "tax_method": "exclusive"}, 68.37),
    ],
)
def test_deal_product_sum(api, line, expected_sum):
    # Given a product and a deal
    product_id = api.post("/api/v2/products", json={"name": "Thing"}).json()["data"]["id"]
    deal_id = api.post("/api/v2/deals", json={"title": "Sums"}).json()["data"]["id"]
    # When a line is added
    item = api.post(f"/api/v2/deals/{deal_id}/products", json={"product_id": product_id, **line}).json()["data"]
    # Then its sum is price x quantity, less the discount, plus exclusive tax
    assert item["sum"] == expected_sum


def test_product_sum_keeps_decimal_exactness():
    # Given a price that binary floats cannot hold
    # When the sum is computed
    total = product_sum(Decimal("0.10"), Decimal(3), Decimal(0), "percentage", Decimal(0), "none")
    # Then it is exact
    assert total == Decimal("0.30")


def test_deal_value_follows_its_enabled_products(api):
    # Given a deal with two lines, one disabled
    product_id = api.post("/api/v2/products", json={"name": "Thing"}).json()["data"]["id"]
    deal_id = api.post("/api/v2/deals", json={"title": "Value", "value": 1}).json()["data"]["id"]
    api.post(f"/api/v2/deals/{deal_id}/products", json={"product_id": product_id, "item_price": 50, "quantity": 2})
    api.post(f"/api/v2/deals/{deal_id}/products",
             json={"product_id": product_id, "item_price": 999, "quantity": 1, "is_enabled": False})
    # When the deal is read
    deal = api.get(f"/api/v2/deals/{deal_id}").json()["data"]
    # Then its value is the sum of the enabled lines
    assert deal["value"] == 100


def test_deal_product_carries_the_fields_the_bridge_reads(api):
    # Given a line with every pricing field set
    product_id = api.post("/api/v2/products", json={"name": "Consulting", "code": "CONS"}).json()["data"]["id"]
    deal_id = api.post("/api/v2/deals", json={"title": "Fields", "currency": "EUR"}).json()["data"]["id"]
    api.post(f"/api/v2/deals/{deal_id}/products", json={
        "product_id": product_id, "item_price": 150, "quantity": 2.5, "discount": 10, "discount_type": "amount",
        "tax": 20, "tax_method": "exclusive", "comments": "Phase 1", "billing_start_date": "2026-01-01"})
    # When the products are read
    (item,) = api.get(f"/api/v2/deals/{deal_id}/products").json()["data"]
    # Then the line has Pipedrive's fields and the deal's currency
    assert {k: item[k] for k in ("deal_id", "product_id", "name", "item_price", "quantity", "discount",
                                 "discount_type", "tax", "tax_method", "sum", "currency", "comments",
                                 "is_enabled", "billing_frequency", "billing_start_date")} == {
        "deal_id": deal_id, "product_id": product_id, "name": "Consulting", "item_price": 150, "quantity": 2.5,
        "discount": 10, "discount_type": "amount", "tax": 20, "tax_method": "exclusive", "sum": 438,
        "currency": "EUR", "comments": "Phase 1", "is_enabled": True, "billing_frequency": "one-time",
        "billing_start_date": "2026-01-01",
    }
