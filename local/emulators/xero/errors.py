"""Xero's error bodies.

- Validation: 400 {ErrorNumber: 10, Type: "ValidationException", Message, Elements[{...element,
  ValidationErrors[{Message}]}]} (spec schema Error/Element/ValidationError).
- Authentication and authorisation failures come from Xero's gateway as problem details:
  {"Type": null, "Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired at ...",
  "Instance": "<uuid>", "Extensions": {}} (401) and "Forbidden"/"AuthenticationUnsuccessful" (403, e.g.
  a tenant id the token is not connected to), as quoted in public SDK issues.
"""

from __future__ import annotations

import uuid
from typing import Any


class ValidationFailed(Exception):
    """One element of a batch failed validation; `messages` become its ValidationErrors."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


def validation_errors(messages: list[str]) -> list[dict]:
    return [{"Message": message} for message in messages]


def validation_exception(elements: list[dict]) -> dict:
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": elements,
    }


def problem(status: int, title: str, detail: str, **extensions: Any) -> dict:
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": extensions,
    }


def query_parse_exception(message: str) -> dict:
    return {"ErrorNumber": 16, "Type": "QueryParseException", "Message": message}


def post_data_invalid(message: str = "Invalid Json data") -> dict:
    return {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": message}


NOT_FOUND_TEXT = "The resource you're looking for cannot be found"
