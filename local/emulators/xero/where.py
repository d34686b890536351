"""The `where` and `order` query parameters.

Supported: `Field=="text"`, `!=`, `>`, `>=`, `<`, `<=` against strings, numbers, true/false/null,
`guid("...")` / `Guid("...")`, `DateTime(2024,01,31)` (optionally with hours, minutes, seconds);
dotted paths (`Contact.ContactID`); `Field.Contains("x")`, `.StartsWith("x")`, `.EndsWith("x")`,
`.ToLower()`, `.ToUpper()`; `AND`/`&&`, `OR`/`||`, `NOT`/`!`, parentheses. Field names are matched
case-insensitively, string values exactly. An unknown field or a syntax error is Xero's
QueryParseException (raised here as WhereError). A string literal has no escapes: Xero documents none,
and a backslash-escaped quote is reported (XeroAPI/Xero-Java #347, xeroizer #160) to be answered with
a QueryParseException, so a backslash inside a literal is refused here too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Predicate = Callable[[dict], bool]


class WhereError(Exception):
    pass


_TOKEN_RE = re.compile(
    r"""
    \s*(?:
      (?P<string>"[^"\\]*")
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op>==|!=|>=|<=|&&|\|\||[<>!(),.=])
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


@dataclass
class Token:
    kind: str
    value: str


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise WhereError(f"Syntax error at position {pos} in '{text}'")
        pos = match.end()
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "string":
            value = value[1:-1]
        elif kind == "op" and value == "=":
            value = "=="  # Xero accepts a single '=' as equality too
        tokens.append(Token(kind, value))
    return tokens


class _Unknown:
    pass


UNKNOWN = _Unknown()


def _lookup(record: dict, path: list[str], aliases: dict[str, list[str]]) -> Any:
    """The value at a dotted path, None when absent (an optional field that is not set)."""
    alias = aliases.get(".".join(path).lower())
    if alias:
        path = alias
    value: Any = record
    for part in path:
        if not isinstance(value, dict):
            return None
        key = next((k for k in value if k.lower() == part.lower()), None)
        if key is None:
            return None
        value = value[key]
    return value


def _normalise(left: Any, right: Any) -> tuple[Any, Any]:
    """Bring two operands to comparable types (guids case-insensitively, dates as datetimes)."""
    if isinstance(right, _Guid) or isinstance(left, _Guid):
        return str(left).lower(), str(right).lower()
    if isinstance(left, date) or isinstance(right, date):
        return _as_datetime(left), _as_datetime(right)
    if isinstance(left, Decimal | int) and isinstance(right, Decimal | int | str) and not isinstance(left, bool):
        try:
            return Decimal(left), Decimal(str(right))
        except InvalidOperation:
            return str(left), str(right)
    return left, right


def _as_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


class _Guid(str):
    __slots__ = ()


def _compare(op: str, left: Any, right: Any) -> bool:
    left, right = _normalise(left, right)
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if left is None or right is None:
        return False
    try:
        if op == ">":
            return left > right
        if op == ">=":
            return left >= right
        if op == "<":
            return left < right
        if op == "<=":
            return left <= right
    except TypeError:
        return False
    raise WhereError(f"Unknown operator {op}")


class _Parser:
    def __init__(self, tokens: list[Token], type_name: str, aliases: dict[str, list[str]],
                 fields: set[str] | None) -> None:
        self.tokens = tokens
        self.pos = 0
        self.type_name = type_name
        self.aliases = aliases
        self.fields = fields

    def check_field(self, path: list[str]) -> None:
        """Unknown fields fail at parse time, as in Xero, whether or not any record exists."""
        if self.fields is None or ".".join(path).lower() in self.aliases:
            return
        if path[0].lower() not in self.fields:
            raise WhereError(f"No property or field '{path[0]}' exists in type '{self.type_name}'")

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise WhereError("Unexpected end of expression")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        token = self.take()
        if token.value != value:
            raise WhereError(f"'{value}' expected, found '{token.value}'")

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.value.upper() in words and token.kind in ("ident", "op")

    def parse(self) -> Predicate:
        predicate = self.parse_or()
        if self.peek() is not None:
            raise WhereError(f"Syntax error near '{self.peek().value}'")
        return predicate

    def parse_or(self) -> Predicate:
        terms = [self.parse_and()]
        while self.is_word("OR", "||"):
            self.take()
            terms.append(self.parse_and())
        return terms[0] if len(terms) == 1 else (lambda r: any(t(r) for t in terms))

    def parse_and(self) -> Predicate:
        terms = [self.parse_not()]
        while self.is_word("AND", "&&"):
            self.take()
            terms.append(self.parse_not())
        return terms[0] if len(terms) == 1 else (lambda r: all(t(r) for t in terms))

    def parse_not(self) -> Predicate:
        if self.is_word("NOT", "!"):
            self.take()
            inner = self.parse_not()
            return lambda r: not inner(r)
        return self.parse_primary()

    def parse_primary(self) -> Predicate:
        token = self.peek()
        if token is not None and token.value == "(":
            self.take()
            inner = self.parse_or()
            self.expect(")")
            return inner
        left = self.parse_operand()
        token = self.peek()
        if token is not None and token.value in ("==", "!=", ">", ">=", "<", "<="):
            op = self.take().value
            right = self.parse_operand()
            return lambda r: _compare(op, left(r), right(r))
        return lambda r: bool(left(r))

    def parse_operand(self) -> Callable[[dict], Any]:
        token = self.take()
        if token.kind == "string":
            return lambda r, v=token.value: v
        if token.kind == "number":
            return lambda r, v=Decimal(token.value): v
        if token.kind != "ident":
            raise WhereError(f"Syntax error near '{token.value}'")
        word = token.value
        lowered = word.lower()
        if lowered in ("true", "false"):
            return lambda r, v=(lowered == "true"): v
        if lowered == "null":
            return lambda r: None
        if lowered == "guid" and self._next_is("("):
            self.expect("(")
            guid = _Guid(self.take().value)
            self.expect(")")
            return lambda r: guid
        if lowered == "datetime" and self._next_is("("):
            return self._datetime_literal()
        path = [word]
        while self._next_is("."):
            self.take()
            name = self.take().value
            if self._next_is("("):
                return self._method_call(path, name)
            path.append(name)
        self.check_field(path)
        return lambda r, p=tuple(path): _lookup(r, list(p), self.aliases)

    def _next_is(self, value: str) -> bool:
        token = self.peek()
        return token is not None and token.value == value

    def _datetime_literal(self) -> Callable[[dict], Any]:
        self.expect("(")
        parts: list[int] = []
        while not self._next_is(")"):
            token = self.take()
            if token.value == ",":
                continue
            parts.append(int(token.value))
        self.expect(")")
        if len(parts) < 3:
            raise WhereError("DateTime needs year, month and day")
        moment = datetime(*parts[:6], tzinfo=UTC)  # type: ignore[misc]
        return lambda r: moment

    def _method_call(self, path: list[str], method: str) -> Callable[[dict], Any]:
        self.expect("(")
        args: list[str] = []
        while not self._next_is(")"):
            token = self.take()
            if token.value != ",":
                args.append(token.value)
        self.expect(")")
        self.check_field(path)
        target = tuple(path)
        name = method.lower()

        def call(record: dict) -> Any:
            value = _lookup(record, list(target), self.aliases)
            text = "" if value is None else str(value)
            if name == "contains":
                return args[0] in text
            if name == "startswith":
                return text.startswith(args[0])
            if name == "endswith":
                return text.endswith(args[0])
            if name == "tolower":
                return text.lower()
            if name == "toupper":
                return text.upper()
            raise WhereError(f"No applicable method '{method}' exists in type 'String'")

        return call


def compile_where(text: str, type_name: str, aliases: dict[str, list[str]] | None = None,
                  fields: set[str] | None = None) -> Predicate:
    """`fields`: the type's top-level field names (lower case), to refuse unknown ones up front."""
    return _Parser(tokenize(text), type_name, aliases or {}, fields).parse()


def sort_records(records: list[dict], order: str, type_name: str, fields: set[str] | None = None) -> list[dict]:
    """`order=InvoiceNumber DESC, Date` style. Stable, None first when ascending."""
    keys: list[tuple[list[str], bool]] = []
    for clause in order.split(","):
        words = clause.strip().split()
        if not words:
            continue
        descending = len(words) > 1 and words[1].upper() == "DESC"
        path = words[0].split(".")
        if fields is not None and path[0].lower() not in fields:
            raise WhereError(f"No property or field '{path[0]}' exists in type '{type_name}'")
        keys.append((path, descending))
    result = list(records)
    for path, descending in reversed(keys):
        def key(record: dict, p: list[str] = path) -> tuple[int, Any]:
            value = _as_datetime(_lookup(record, p, {}))
            return (0, "") if value is None else (1, value)

        result.sort(key=key, reverse=descending)
    return result
