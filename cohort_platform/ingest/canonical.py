"""Vectorised polars forms of the identifier rules in `contract.identifiers`.

The scalar functions in `contract.identifiers` are the definition; these expressions compute the same
thing over millions of rows. Pure-ASCII values (nearly all of them) are handled by native polars
string operations. The rare values holding other characters are given to the scalar rule itself,
once per distinct value: Python's Unicode tables (case mapping, NFKD, combining classes) are not the
ones polars' Rust code carries, and a linkage key must not depend on which of the two computed it.

One deliberate difference: an NHS number is valid only when made of ASCII digits. The scalar
`nhs_number_is_valid` uses `str.isdigit`, which also accepts other scripts' digits (and raises on
superscript digits such as "²"). Only ASCII digits make sense in an NHS number.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from cohort_platform.contract import identifiers

# Python's `\s` (str.isspace) is Rust's `\s` plus the four ASCII information separators.
WHITESPACE = r"[\s\x1c-\x1f]"
_NHS_WEIGHTS = tuple(range(10, 1, -1))
_UPN_CANONICAL_SHAPE = r"^[A-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$"
_UPN_VALUES = {str(d): d for d in range(10)} | {c: i for i, c in enumerate(identifiers.UPN_ALPHABET)}


def _null_if_empty(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.str.len_bytes() > 0).then(expr)


def _ascii_fast_path(
    expr: pl.Expr,
    fast: Callable[[pl.Expr], pl.Expr],
    scalar: Callable[[str | None], str | None],
    already_canonical: str,
) -> pl.Expr:
    """Canonicalise a column in three tiers, cheapest first.

    Values matching `already_canonical` (a regex over ASCII values that the rule maps to themselves,
    such as "SW1A 1AA") are kept as they are; other ASCII values go through `fast`; the rest (not
    ASCII, a small minority) through the scalar rule, once per distinct value.
    """

    def apply(series: pl.Series) -> pl.Series:
        is_ascii = series.str.len_bytes() == series.str.len_chars()
        todo = (is_ascii & ~series.str.contains(already_canonical)).fill_null(False)
        other = (~is_ascii).fill_null(False)
        result = series.clone()
        if bool(todo.any()):
            indices = todo.arg_true()
            # lazily, so that polars computes each sub-expression of `fast` once
            done = series.gather(indices).to_frame("v").lazy().select(fast(pl.col("v"))).collect().to_series()
            result.scatter(indices, done)
        if bool(other.any()):
            indices = other.arg_true()
            values = series.gather(indices)
            mapping = {value: scalar(value) for value in values.unique().to_list()}
            result.scatter(indices, values.replace_strict(mapping, return_dtype=pl.String))
        return result

    return expr.map_batches(apply, return_dtype=pl.String, is_elementwise=True)


# Printable ASCII except lower-case letters (and so without whitespace): kept by upper-casing and
# whitespace removal.
_UPPER_PRINTABLE = r"[!-`{-~]"


# --- NHS number


def canonical_nhs_number(expr: pl.Expr) -> pl.Expr:
    """Spaces and hyphens removed ("943 476 5919" -> "9434765919"); null when nothing is left."""
    return _null_if_empty(expr.str.replace_all(r"[\s\x1c-\x1f\-]", ""))


def nhs_number_is_valid(canonical: pl.Expr) -> pl.Expr:
    """Ten ASCII digits whose Modulus 11 check digit agrees; false for any other value, null stays null."""
    return canonical.map_batches(_nhs_number_is_valid, return_dtype=pl.Boolean, is_elementwise=True)


def _nhs_number_is_valid(series: pl.Series) -> pl.Series:
    # step by step in named columns: as one nested expression polars re-evaluated the shared parts
    number = pl.col("number")
    digit = [(number // 10 ** (9 - i)) % 10 for i in range(10)]
    check = 11 - sum(d * w for d, w in zip(digit, _NHS_WEIGHTS)) % 11
    return (
        series.to_frame("v").lazy()
        .with_columns(number=pl.when(pl.col("v").str.contains(r"^[0-9]{10}$")).then(pl.col("v").cast(pl.Int64, strict=False)))
        .with_columns(check=pl.when(check == 11).then(0).when(check < 10).then(check), last=digit[9])
        .select(pl.when(pl.col("v").is_not_null()).then((pl.col("check") == pl.col("last")).fill_null(False)))
        .collect().to_series().alias(series.name)
    )


# --- UPN


def _canonical_upn_ascii(expr: pl.Expr) -> pl.Expr:
    return _null_if_empty(expr.str.replace_all(WHITESPACE, "").str.to_uppercase())


def canonical_upn(expr: pl.Expr) -> pl.Expr:
    """Upper case without whitespace; null when nothing is left."""
    return _ascii_fast_path(expr, _canonical_upn_ascii, identifiers.canonical_upn, f"^{_UPPER_PRINTABLE}+$")


def upn_is_valid(canonical: pl.Expr) -> pl.Expr:
    """13 characters whose first is the check letter of the other twelve; null stays null."""
    return canonical.map_batches(_upn_is_valid, return_dtype=pl.Boolean, is_elementwise=True)


def _upn_is_valid(series: pl.Series) -> pl.Series:
    eleven = pl.col("eleven")
    digits = [(eleven // 10 ** (10 - i)) % 10 for i in range(11)]
    total = sum(d * w for d, w in zip([*digits, pl.col("last")], range(2, 14)))
    letters = dict(enumerate(identifiers.UPN_ALPHABET))
    v = pl.col("v")
    return (
        series.to_frame("v").lazy()
        .with_columns(
            eleven=pl.when(v.str.contains(_UPN_CANONICAL_SHAPE)).then(v.str.slice(1, 11).cast(pl.Int64, strict=False)),
            last=v.str.slice(12, 1).replace_strict(_UPN_VALUES, default=None, return_dtype=pl.Int64),
        )
        .with_columns(letter=(total % 23).replace_strict(letters, default=None, return_dtype=pl.String))
        .select(pl.when(v.is_not_null()).then((pl.col("letter") == v.str.slice(0, 1)).fill_null(False)))
        .collect().to_series().alias(series.name)
    )


# --- Postcode


def _canonical_postcode_ascii(expr: pl.Expr) -> pl.Expr:
    compact = _null_if_empty(expr.str.replace_all(WHITESPACE, "").str.to_uppercase())
    n = compact.str.len_chars()
    spaced = pl.concat_str([compact.str.slice(0, n - 3), pl.lit(" "), compact.str.slice(-3)])
    return pl.when(n < 4).then(compact).otherwise(spaced)


def canonical_postcode(expr: pl.Expr) -> pl.Expr:
    """Upper case with one space before the last three characters ("sw1a1aa" -> "SW1A 1AA")."""
    return _ascii_fast_path(
        expr, _canonical_postcode_ascii, identifiers.canonical_postcode,
        f"^{_UPPER_PRINTABLE}+ {_UPPER_PRINTABLE}{{3}}$",
    )


def postcode_is_valid(canonical: pl.Expr) -> pl.Expr:
    """A canonical postcode of the contract's shape (`identifiers.POSTCODE_PATTERN`); null stays null."""
    return canonical.str.contains(identifiers.POSTCODE_PATTERN)


# --- Names


def _canonical_name_ascii(expr: pl.Expr) -> pl.Expr:
    letters = expr.str.to_uppercase().str.replace_all("'", "", literal=True)
    return _null_if_empty(letters.str.replace_all(r"[^A-Z]+", " ").str.strip_chars(" "))


def canonical_name(expr: pl.Expr) -> pl.Expr:
    """Accents stripped, upper case, apostrophes removed, other non-letters to single spaces."""
    return _ascii_fast_path(expr, _canonical_name_ascii, identifiers.canonical_name, r"^[A-Z]+( [A-Z]+)*$")


# --- by contract kind

CANONICAL = {
    "nhs_number": canonical_nhs_number,
    "upn": canonical_upn,
    "postcode": canonical_postcode,
    "name": canonical_name,
}
IS_VALID = {
    "nhs_number": nhs_number_is_valid,
    "upn": upn_is_valid,
    "postcode": postcode_is_valid,
}
