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

import numpy as np
import polars as pl

from cohort_platform.contract import identifiers

# Python's `\s` (str.isspace) is Rust's `\s` plus the four ASCII information separators.
WHITESPACE = r"[\s\x1c-\x1f]"
_NHS_WEIGHTS = tuple(range(10, 1, -1))
_UPN_CANONICAL_SHAPE = r"^[A-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$"
_UPN_VALUES = {str(d): d for d in range(10)} | {c: i for i, c in enumerate(identifiers.UPN_ALPHABET)}
_UPN_LETTER_INDEX = {c: i for i, c in enumerate(identifiers.UPN_ALPHABET)}
_NHS_SEPARATORS = r"[\s\x1c-\x1f\-]"  # Python's `\s` is Rust's plus \x1c-\x1f


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
    return expr.map_batches(_canonical_nhs_number, return_dtype=pl.String, is_elementwise=True)


def _canonical_nhs_number(series: pl.Series) -> pl.Series:
    # most values hold nothing to remove: finding those is three times cheaper than rewriting all
    todo = series.str.contains(_NHS_SEPARATORS).fill_null(False) | (series.str.len_bytes() == 0).fill_null(False)
    if not bool(todo.any()):
        return series
    indices = todo.arg_true()
    done = series.gather(indices).to_frame("v").select(_null_if_empty(pl.col("v").str.replace_all(_NHS_SEPARATORS, "")))
    result = series.clone()
    result.scatter(indices, done.to_series())
    return result


def nhs_number_is_valid(canonical: pl.Expr) -> pl.Expr:
    """Ten ASCII digits whose Modulus 11 check digit agrees; false for any other value, null stays null."""
    return canonical.map_batches(_nhs_number_is_valid, return_dtype=pl.Boolean, is_elementwise=True)


def _nhs_number_is_valid(series: pl.Series) -> pl.Series:
    # digit arithmetic in numpy: a tenth of the cost of the same arithmetic as polars expressions
    shape = series.str.contains(r"^[0-9]{10}$").fill_null(False).to_numpy()
    rest = series.cast(pl.Int64, strict=False).fill_null(0).to_numpy().copy()
    last = rest % 10
    total = np.zeros(len(rest), dtype=np.int64)
    for weight in range(2, 11):  # the ninth digit has weight 2, the first weight 10
        rest //= 10
        total += (rest % 10) * weight
    check = 11 - total % 11
    check[check == 11] = 0  # a check of 10 matches no digit: no valid number has that body
    return _with_nulls_of(series, shape & (check == last))


def _with_nulls_of(series: pl.Series, values: np.ndarray) -> pl.Series:
    out = pl.Series(series.name, values, dtype=pl.Boolean)
    if series.null_count():
        out = pl.select(pl.when(series.is_null()).then(None).otherwise(out)).to_series().alias(series.name)
    return out


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
    shape = series.str.contains(_UPN_CANONICAL_SHAPE).fill_null(False).to_numpy()
    rest = series.str.slice(1, 11).cast(pl.Int64, strict=False).fill_null(0).to_numpy().copy()
    last = series.str.slice(12, 1).replace_strict(_UPN_VALUES, default=0, return_dtype=pl.Int64).fill_null(0).to_numpy()
    letter = series.str.slice(0, 1).replace_strict(_UPN_LETTER_INDEX, default=-1, return_dtype=pl.Int64).fill_null(-1).to_numpy()
    total = last * 13
    for weight in range(12, 1, -1):  # the twelfth character has weight 13, the second weight 2
        total += (rest % 10) * weight
        rest //= 10
    return _with_nulls_of(series, shape & (total % 23 == letter))


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
