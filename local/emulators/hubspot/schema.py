"""What the emulated HubSpot account is made of: object types, association types, the standard properties
of each object and the deal pipelines it starts with.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ApiError


@dataclass(frozen=True)
class ObjectType:
    name: str  # the path segment: deals, companies, contacts, line_items, products, notes
    type_id: str  # HubSpot's objectTypeId
    singular: str
    upper: str  # as in error messages ("Could not get some LINE_ITEM objects...")

    @property
    def v3_association_key(self) -> str:
        # HubSpot's v3 objects API names the line-item association "line items", with a space.
        return self.name.replace("_", " ")


OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t
    for t in (
        ObjectType("contacts", "0-1", "contact", "CONTACT"),
        ObjectType("companies", "0-2", "company", "COMPANY"),
        ObjectType("deals", "0-3", "deal", "DEAL"),
        ObjectType("line_items", "0-8", "line_item", "LINE_ITEM"),
        ObjectType("products", "0-7", "product", "PRODUCT"),
        ObjectType("notes", "0-46", "note", "NOTE"),
    )
}
_ALIASES: dict[str, str] = {}
for _t in OBJECT_TYPES.values():
    for _alias in (_t.name, _t.singular, _t.type_id, _t.upper.lower(), _t.name.replace("_", "")):
        _ALIASES[_alias] = _t.name
_ALIASES["line items"] = "line_items"


def object_type(raw: str, *, strict: bool = True) -> ObjectType | None:
    """deals, deal, DEAL and 0-3 all name the deal object, as in HubSpot's paths."""
    name = _ALIASES.get(raw.strip().lower())
    if name is None:
        if strict:
            raise ApiError(400, f"Unable to infer object type from: {raw}", "VALIDATION_ERROR")
        return None
    return OBJECT_TYPES[name]


@dataclass(frozen=True)
class AssociationType:
    type_id: int
    from_type: str
    to_type: str
    name: str  # the v3 name, e.g. deal_to_company
    label: str | None  # None: the unlabeled (default) association
    inverse: int


_ASSOCIATIONS = (
    # HUBSPOT_DEFINED type ids (association type ids of the v4 API), in both directions.
    AssociationType(3, "deals", "contacts", "deal_to_contact", None, 4),
    AssociationType(4, "contacts", "deals", "contact_to_deal", None, 3),
    AssociationType(341, "deals", "companies", "deal_to_company_unlabeled", None, 342),
    AssociationType(342, "companies", "deals", "company_to_deal_unlabeled", None, 341),
    AssociationType(5, "deals", "companies", "deal_to_company", "Primary", 6),
    AssociationType(6, "companies", "deals", "company_to_deal", "Primary", 5),
    AssociationType(19, "deals", "line_items", "deal_to_line_item", None, 20),
    AssociationType(20, "line_items", "deals", "line_item_to_deal", None, 19),
    AssociationType(213, "deals", "notes", "deal_to_note", None, 214),
    AssociationType(214, "notes", "deals", "note_to_deal", None, 213),
    AssociationType(189, "companies", "notes", "company_to_note", None, 190),
    AssociationType(190, "notes", "companies", "note_to_company", None, 189),
    AssociationType(201, "contacts", "notes", "contact_to_note", None, 202),
    AssociationType(202, "notes", "contacts", "note_to_contact", None, 201),
    AssociationType(279, "contacts", "companies", "contact_to_company_unlabeled", None, 280),
    AssociationType(280, "companies", "contacts", "company_to_contact_unlabeled", None, 279),
    AssociationType(1, "contacts", "companies", "contact_to_company", "Primary", 2),
    AssociationType(2, "companies", "contacts", "company_to_contact", "Primary", 1),
)
ASSOCIATION_TYPES: dict[int, AssociationType] = {a.type_id: a for a in _ASSOCIATIONS}
ASSOCIATION_NAMES: dict[str, AssociationType] = {a.name: a for a in _ASSOCIATIONS}


def default_association(from_type: str, to_type: str) -> AssociationType | None:
    """The unlabeled type between two object types (what v4 'default' associations create)."""
    return next(
        (a for a in _ASSOCIATIONS if a.from_type == from_type and a.to_type == to_type and a.label is None), None
    )


# name: (label, type, fieldType, read-only value, group)
_P = tuple[str, str, str, bool, str]
_STANDARD: dict[str, dict[str, _P]] = {
    "contacts": {
        "email": ("Email", "string", "text", False, "contactinformation"),
        "firstname": ("First Name", "string", "text", False, "contactinformation"),
        "lastname": ("Last Name", "string", "text", False, "contactinformation"),
        "phone": ("Phone Number", "string", "phonenumber", False, "contactinformation"),
        "company": ("Company Name", "string", "text", False, "contactinformation"),
        "jobtitle": ("Job Title", "string", "text", False, "contactinformation"),
        "hubspot_owner_id": ("Contact owner", "enumeration", "select", False, "contactinformation"),
        "createdate": ("Create Date", "datetime", "date", True, "contactinformation"),
        "lastmodifieddate": ("Last Modified Date", "datetime", "date", True, "contactinformation"),
        "hs_object_id": ("Record ID", "number", "number", True, "contactinformation"),
    },
    "companies": {
        "name": ("Company name", "string", "text", False, "companyinformation"),
        "domain": ("Company Domain Name", "string", "text", False, "companyinformation"),
        "phone": ("Phone Number", "string", "phonenumber", False, "companyinformation"),
        "address": ("Street Address", "string", "text", False, "companyinformation"),
        "address2": ("Street Address 2", "string", "text", False, "companyinformation"),
        "city": ("City", "string", "text", False, "companyinformation"),
        "state": ("State/Region", "string", "text", False, "companyinformation"),
        "zip": ("Postal Code", "string", "text", False, "companyinformation"),
        "country": ("Country/Region", "string", "text", False, "companyinformation"),
        "industry": ("Industry", "string", "text", False, "companyinformation"),
        "hubspot_owner_id": ("Company owner", "enumeration", "select", False, "companyinformation"),
        "createdate": ("Create Date", "datetime", "date", True, "companyinformation"),
        "hs_lastmodifieddate": ("Last Modified Date", "datetime", "date", True, "companyinformation"),
        "hs_object_id": ("Record ID", "number", "number", True, "companyinformation"),
    },
    "deals": {
        "dealname": ("Deal Name", "string", "text", False, "dealinformation"),
        "amount": ("Amount", "number", "number", False, "dealinformation"),
        "dealstage": ("Deal Stage", "enumeration", "radio", False, "dealinformation"),
        "pipeline": ("Pipeline", "enumeration", "select", False, "dealinformation"),
        "closedate": ("Close Date", "datetime", "date", False, "dealinformation"),
        "deal_currency_code": ("Currency", "enumeration", "select", False, "dealinformation"),
        "description": ("Deal Description", "string", "textarea", False, "dealinformation"),
        "dealtype": ("Deal Type", "enumeration", "radio", False, "dealinformation"),
        "hubspot_owner_id": ("Deal owner", "enumeration", "select", False, "dealinformation"),
        "hs_is_closed": ("Is Deal Closed?", "bool", "booleancheckbox", True, "dealinformation"),
        "hs_is_closed_won": ("Is closed won", "bool", "booleancheckbox", True, "dealinformation"),
        "hs_deal_stage_probability": ("Deal probability", "number", "number", True, "dealinformation"),
        "hs_closed_amount": ("Closed amount", "number", "number", True, "dealinformation"),
        "hs_num_of_associated_line_items": ("Number of Line Items", "number", "number", True, "dealinformation"),
        "createdate": ("Create Date", "datetime", "date", True, "dealinformation"),
        "hs_lastmodifieddate": ("Last Modified Date", "datetime", "date", True, "dealinformation"),
        "hs_object_id": ("Record ID", "number", "number", True, "dealinformation"),
    },
    "line_items": {
        "name": ("Name", "string", "text", False, "lineiteminformation"),
        "description": ("Description", "string", "textarea", False, "lineiteminformation"),
        "quantity": ("Quantity", "number", "number", False, "lineiteminformation"),
        "price": ("Unit price", "number", "number", False, "lineiteminformation"),
        "amount": ("Net price", "number", "number", True, "lineiteminformation"),
        "hs_product_id": ("Product ID", "number", "number", False, "lineiteminformation"),
        "hs_sku": ("SKU", "string", "text", False, "lineiteminformation"),
        "discount": ("Unit discount", "number", "number", False, "lineiteminformation"),
        "hs_discount_percentage": ("Discount Percentage", "number", "number", False, "lineiteminformation"),
        "hs_tax_rate": ("Tax rate", "number", "number", False, "lineiteminformation"),
        "hs_tax_rate_group_id": ("Tax rate group ID", "string", "text", False, "lineiteminformation"),
        "hs_tax_amount": ("Tax amount", "number", "number", True, "lineiteminformation"),
        "hs_pre_discount_amount": ("Pre-discount amount", "number", "number", True, "lineiteminformation"),
        "hs_total_discount": ("Total discount", "number", "number", True, "lineiteminformation"),
        "hs_line_item_currency_code": ("Currency", "enumeration", "select", False, "lineiteminformation"),
        "hs_position_on_quote": ("Position on quote", "number", "number", False, "lineiteminformation"),
        "hs_recurring_billing_period": ("Term", "string", "text", False, "lineiteminformation"),
        "createdate": ("Create Date", "datetime", "date", True, "lineiteminformation"),
        "hs_lastmodifieddate": ("Last Modified Date", "datetime", "date", True, "lineiteminformation"),
        "hs_object_id": ("Record ID", "number", "number", True, "lineiteminformation"),
    },
    "products": {
        "name": ("Name", "string", "text", False, "productinformation"),
        "description": ("Description", "string", "textarea", False, "productinformation"),
        "price": ("Unit price", "number", "number", False, "productinformation"),
        "hs_sku": ("SKU", "string", "text", False, "productinformation"),
        "createdate": ("Create Date", "datetime", "date", True, "productinformation"),
        "hs_lastmodifieddate": ("Last Modified Date", "datetime", "date", True, "productinformation"),
        "hs_object_id": ("Record ID", "number", "number", True, "productinformation"),
    },
    "notes": {
        "hs_note_body": ("Note body", "string", "html", False, "engagement"),
        "hs_timestamp": ("Activity date", "datetime", "date", False, "engagement"),
        "hubspot_owner_id": ("Activity assigned to", "enumeration", "select", False, "engagement"),
        "hs_attachment_ids": ("Attachment IDs", "enumeration", "checkbox", False, "engagement"),
        "createdate": ("Create Date", "datetime", "date", True, "engagement"),
        "hs_lastmodifieddate": ("Last Modified Date", "datetime", "date", True, "engagement"),
        "hs_object_id": ("Record ID", "number", "number", True, "engagement"),
    },
}


def standard_properties(object_name: str) -> dict[str, _P]:
    return _STANDARD[object_name]


STANDARD_GROUPS: dict[str, list[tuple[str, str]]] = {
    "contacts": [("contactinformation", "Contact information")],
    "companies": [("companyinformation", "Company information")],
    "deals": [("dealinformation", "Deal information")],
    "line_items": [("lineiteminformation", "Line item information")],
    "products": [("productinformation", "Product information")],
    "notes": [("engagement", "Engagement")],
}

# Properties a GET returns when `properties=` is not given.
DEFAULT_READ: dict[str, tuple[str, ...]] = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id",
              "pipeline"),
    "line_items": ("amount", "createdate", "hs_lastmodifieddate", "hs_object_id", "name", "price", "quantity"),
    "products": ("createdate", "description", "hs_lastmodifieddate", "hs_object_id", "name", "price"),
    "notes": ("createdate", "hs_lastmodifieddate", "hs_object_id", "hs_note_body", "hs_timestamp"),
}
# Properties every GET returns, asked for or not.
ALWAYS_READ = ("createdate", "hs_lastmodifieddate", "hs_object_id")

# (id, label, probability, is closed)
DEFAULT_PIPELINE_STAGES = (
    ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
    ("presentationscheduled", "Presentation Scheduled", "0.6", False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", False),
    ("contractsent", "Contract Sent", "0.9", False),
    ("closedwon", "Closed Won", "1.0", True),
    ("closedlost", "Closed Lost", "0.0", True),
)
# A second pipeline as accounts on Starter and up make them: numeric ids, its own won stage.
RENEWALS_PIPELINE_ID = "1467816"
RENEWALS_STAGES = (
    ("1467817", "Renewal due", "0.5", False),
    ("1467818", "Renewed", "1.0", True),
    ("1467819", "Churned", "0.0", True),
)
CURRENCIES = ("GBP", "EUR", "USD", "AUD", "NZD", "CAD")
