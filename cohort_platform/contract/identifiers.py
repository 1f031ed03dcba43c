"""Identifier rules of the contract, as small pure functions.

Each rule has a scalar form (for tests, the generator and error messages) and, where ingestion needs
it at scale, a vectorised polars form in `cohort_platform.ingest.canonical`.
"""

from __future__ import annotations

import re
import unicodedata

# --- NHS number: 10 digits, the 10th a Modulus 11 check digit over the first nine (weights 10..2).

_NHS_WEIGHTS = tuple(range(10, 1, -1))


def nhs_check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None where no valid check digit exists (remainder 10)."""
    if len(first_nine) != 9 or not (first_nine.isascii() and first_nine.isdigit()):
        raise ValueError(f"need nine digits, got {first_nine!r}")
    total = sum(int(d) * w for d, w in zip(first_nine, _NHS_WEIGHTS))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def canonical_nhs_number(raw: str | None) -> str | None:
    """Digits only ("943 476 5919" -> "9434765919"); None for empty input."""
    if raw is None:
        return None
    digits = re.sub(r"[\s\-]", "", raw)
    return digits or None


def nhs_number_is_valid(raw: str | None) -> bool:
    """True for a 10-digit NHS number whose Modulus 11 check digit agrees."""
    value = canonical_nhs_number(raw)
    if value is None or len(value) != 10 or not (value.isascii() and value.isdigit()):
        return False
    return nhs_check_digit(value[:9]) == int(value[9])


# --- UPN: 13 characters, a check letter then 12 characters (LA 3, establishment 4, year 2, serial
# 3; the last may be a letter in a temporary UPN). The check letter is the remainder mod 23 of the
# weighted sum of characters 2..13 (weights 2..13), letters valued by their place in the same alphabet.

UPN_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"  # 23 letters: no I, O or S
_UPN_BODY = re.compile(r"^[0-9]{11}[0-9A-HJ-NP-RT-Z]$")


def _upn_char_value(char: str) -> int:
    return int(char) if char.isdigit() else UPN_ALPHABET.index(char)


def upn_check_letter(body: str) -> str:
    """The check letter for the 12 characters after it."""
    if not _UPN_BODY.match(body):
        raise ValueError(f"a UPN body is 11 digits and a digit or letter, got {body!r}")
    total = sum(_upn_char_value(c) * w for c, w in zip(body, range(2, 14)))
    return UPN_ALPHABET[total % 23]


def canonical_upn(raw: str | None) -> str | None:
    if raw is None:
        return None
    value = re.sub(r"\s", "", raw).upper()
    return value or None


def upn_is_valid(raw: str | None) -> bool:
    value = canonical_upn(raw)
    if value is None or len(value) != 13 or not _UPN_BODY.match(value[1:]):
        return False
    return value[0] == upn_check_letter(value[1:])


# --- Postcodes: upper case, one space before the inward code (the last three characters).

POSTCODE_PATTERN = r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$"
_POSTCODE = re.compile(POSTCODE_PATTERN)


def canonical_postcode(raw: str | None) -> str | None:
    """Upper case with one space before the last three characters; None when empty."""
    if raw is None:
        return None
    compact = re.sub(r"\s", "", raw).upper()
    if not compact:
        return None
    if len(compact) < 4:
        return compact
    return f"{compact[:-3]} {compact[-3:]}"


def postcode_is_valid(raw: str | None) -> bool:
    value = canonical_postcode(raw)
    return value is not None and bool(_POSTCODE.match(value))


def postcode_district(postcode: str | None) -> str | None:
    """The outward code ("SW1A 1AA" -> "SW1A")."""
    value = canonical_postcode(postcode)
    return value.split(" ")[0] if value else None


# --- Names: for linkage, compared without accents, case or punctuation.


def canonical_name(raw: str | None) -> str | None:
    """"Zoë O'Brien-Smith " -> "ZOE OBRIEN SMITH"."""
    if raw is None:
        return None
    decomposed = unicodedata.normalize("NFKD", raw)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
    stripped = stripped.replace("'", "").replace("\u2019", "")
    stripped = re.sub(r"[^A-Z]+", " ", stripped).strip()
    return stripped or None
