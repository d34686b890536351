"""Company-name normalisation: "ACME Ltd" and "Acme Limited" are one name, "Acme 中国" and "Acme 日本" two.

Only differences that never tell two companies apart are dropped: Unicode compatibility forms
(NFKC: full-width letters, ligatures), case (case folding, so "STRASSE" is "straße"), whitespace and
punctuation, "&" for "and", a leading "the" and trailing legal forms of the supported countries.
Every letter of every script is kept, with its accents: "Café" is not "Cafe" and "Øster" is not
"Ster", because a look-alike is not evidence that two names are one customer. A name with no letter
or digit normalises to "" and must never match anything.
"""

from __future__ import annotations

import unicodedata

# Trailing legal forms, as words once normalised ("B.V." is "bv", "A/S" is "a s", "& Co." is "and co").
# UK/IE, US/CA, AU/NZ, DE/AT/CH, FR, NL/BE, Nordics, ES/IT/PT, and a few common elsewhere (SG, IN, JP).
_LEGAL_FORMS: frozenset[tuple[str, ...]] = frozenset(tuple(form.split()) for form in (
    # UK, Ireland
    "ltd", "limited", "plc", "llp", "lp", "cic", "cio", "dac", "uc", "clg", "teo", "teoranta", "unltd",
    "unlimited", "co", "company", "co ltd", "co limited",
    # US, Canada
    "llc", "l l c", "pllc", "lllp", "inc", "incorporated", "corp", "corporation", "pc", "ltée", "ltee",
    "limitée", "limitee",
    # Australia, New Zealand
    "pty", "pty ltd", "pty limited", "proprietary limited", "nl",
    # Germany, Austria, Switzerland
    "gmbh", "ag", "kg", "ohg", "gbr", "ug", "ug haftungsbeschränkt", "ev", "eg", "kgaa", "se",
    "gmbh and co kg", "ag and co kg", "co kg", "sagl", "gesmbh",
    # France, Belgium, Netherlands
    "sa", "sas", "sasu", "sarl", "eurl", "sci", "snc", "scs", "selarl", "bv", "nv", "vof", "cv", "bvba",
    "sprl", "srl", "cvba", "bv ba",
    # Nordics
    "ab", "ab publ", "publ", "as", "asa", "a s", "aps", "i s", "k s", "oy", "oyj", "ehf", "hf",
    # Spain, Italy, Portugal
    "sl", "slu", "sau", "srls", "spa", "sapa", "lda", "unipessoal lda", "sgps",
    # Elsewhere
    "pte", "pte ltd", "pvt", "pvt ltd", "private limited", "kk", "bhd", "sdn bhd",
))
_LONGEST_FORM = max(len(form) for form in _LEGAL_FORMS)
# Dropped inside a word: "A.B.C." is "abc", "O'Brien" is "obrien".
_JOINERS = frozenset(".'`\u2019\u02bc\u00b4")  # right quote, modifier apostrophe, acute


def _words(text: str) -> list[str]:
    """Runs of letters, combining marks and digits; every other character separates words, except
    the joiners (dropped) and invisible format characters such as zero-width spaces (dropped)."""
    words, current = [], []
    for char in text:
        category = unicodedata.category(char)
        if char in _JOINERS or category == "Cf":
            continue
        if category[0] in "LMN":
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def _without_legal_form(words: list[str]) -> list[str]:
    """Strip trailing legal forms (longest first, repeatedly: "Acme Holdings Pty Ltd" is "acme holdings")
    while at least one word remains."""
    stripped = True
    while stripped:
        stripped = False
        for size in range(min(_LONGEST_FORM, len(words) - 1), 0, -1):
            if tuple(words[-size:]) in _LEGAL_FORMS:
                words = words[:-size]
                stripped = True
                break
    return words


def normalise_company_name(name: str) -> str:
    """The name's words, case-folded, without "the", punctuation or trailing legal forms ("" if none)."""
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    words = _words(text.replace("&", " and "))
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return " ".join(_without_legal_form(words))


def search_word(name: str) -> str | None:
    """The word of a name as written (its case and accents) best to look it up with in a contains
    search: its longest word that survives normalisation (never "Ltd" or "The")."""
    kept = set(normalise_company_name(name).split())
    written = [w for w in _words(unicodedata.normalize("NFKC", name)) if
               unicodedata.normalize("NFKC", w.casefold()) in kept]
    return max(written, key=len) if written else None
