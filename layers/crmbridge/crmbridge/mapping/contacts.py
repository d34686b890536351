"""Company-name normalisation, so that "ACME Ltd" and "Acme Limited" are the same customer."""

from __future__ import annotations

import re
import unicodedata

_LEGAL_SUFFIXES = {
    "ltd", "limited", "plc", "llc", "llp", "lp", "inc", "incorporated", "corp", "corporation", "co",
    "company", "gmbh", "ag", "sa", "sarl", "bv", "nv", "pty", "pte", "srl", "spa", "oy", "ab", "as",
}
_WORD = re.compile(r"[a-z0-9]+")


def normalise_company_name(name: str) -> str:
    """Lower-case words without accents, punctuation, "the" or trailing legal forms."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = text.replace("&", " and ")
    words = _WORD.findall(text)
    if words and words[0] == "the":
        words = words[1:]
    while len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)
