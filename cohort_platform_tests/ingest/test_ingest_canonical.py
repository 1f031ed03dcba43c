"""The vectorised identifier rules agree with the contract's scalar forms, on any string."""

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cohort_platform.contract import identifiers as ids
from cohort_platform.ingest import canonical

# ASCII-heavy strings with the characters the rules care about, plus anything at all
ID_CHARS = "0123456789 -\t\n\x1c" + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
strings = st.one_of(
    st.text(),
    st.text(alphabet=ID_CHARS, max_size=16),
    st.text(alphabet=st.sampled_from("aeiouAEIOUéëÉøßıſ'’- \u0301\u00a0\u2019\u0903ﬀK"), max_size=12),
)
many = st.lists(st.one_of(st.none(), strings), max_size=25)
nhs_like = st.builds(
    lambda body, sep: sep.join([body[:3], body[3:6], body[6:]]),
    st.text(alphabet="0123456789", min_size=10, max_size=10), st.sampled_from(["", " ", "-", "  "]),
)
upn_like = st.builds(
    lambda letter, body, last, case: (letter + body + last).lower() if case else letter + body + last,
    st.sampled_from(ids.UPN_ALPHABET + "ISO"), st.text(alphabet="0123456789", min_size=11, max_size=11),
    st.sampled_from("0123456789" + ids.UPN_ALPHABET), st.booleans(),
)
postcode_like = st.builds(
    lambda out, inw, sep, lower: ((out + sep + inw).lower() if lower else out + sep + inw),
    st.from_regex(r"[A-Z]{1,2}[0-9][A-Z0-9]?", fullmatch=True), st.from_regex(r"[0-9][A-Z]{2}", fullmatch=True),
    st.sampled_from(["", " ", "  "]), st.booleans(),
)


def apply(expr_fn, values: list[str | None]) -> list:
    return pl.DataFrame({"v": values}, schema={"v": pl.String}).select(expr_fn(pl.col("v"))).to_series().to_list()


def nhs_scalar_valid(value: str | None) -> bool | None:
    """The scalar rule, read as ASCII digits only (see canonical's docstring)."""
    canon = ids.canonical_nhs_number(value)
    if canon is None:
        return None
    return canon.isascii() and ids.nhs_number_is_valid(canon)


class TestAgreementWithTheScalarForms:
    @given(st.lists(st.one_of(st.none(), strings, nhs_like), max_size=25))
    def test_nhs_number(self, values):
        canon = apply(canonical.canonical_nhs_number, values)
        assert canon == [ids.canonical_nhs_number(v) for v in values]
        assert apply(canonical.nhs_number_is_valid, canon) == [nhs_scalar_valid(v) for v in values]

    @given(st.lists(st.one_of(st.none(), strings, upn_like), max_size=25))
    def test_upn(self, values):
        canon = apply(canonical.canonical_upn, values)
        assert canon == [ids.canonical_upn(v) for v in values]
        assert apply(canonical.upn_is_valid, canon) == [None if c is None else ids.upn_is_valid(v) for v, c in zip(values, canon)]

    @given(st.lists(st.one_of(st.none(), strings, postcode_like), max_size=25))
    def test_postcode(self, values):
        canon = apply(canonical.canonical_postcode, values)
        assert canon == [ids.canonical_postcode(v) for v in values]
        assert apply(canonical.postcode_is_valid, canon) == [
            None if c is None else ids.postcode_is_valid(v) for v, c in zip(values, canon)
        ]

    @given(many)
    def test_name(self, values):
        assert apply(canonical.canonical_name, values) == [ids.canonical_name(v) for v in values]


class TestExamples:
    @pytest.mark.parametrize(("raw", "canon", "valid"), [
        ("943 476 5919", "9434765919", True), ("943-476-5919", "9434765919", True),
        ("9434765918", "9434765918", False), ("94347659AB", "94347659AB", False), ("  ", None, None),
    ])
    def test_nhs_numbers(self, raw, canon, valid):
        got = apply(canonical.canonical_nhs_number, [raw])
        assert got == [canon] and apply(canonical.nhs_number_is_valid, got) == [valid]

    def test_nhs_numbers_in_other_scripts_digits_are_not_valid(self):
        assert apply(canonical.nhs_number_is_valid, ["٩٤٣٤٧٦٥٩١٩", "²" * 10]) == [False, False]

    @pytest.mark.parametrize(("raw", "canon"), [("sw1a1aa", "SW1A 1AA"), (" SW1A  1AA ", "SW1A 1AA"), ("m11ae", "M1 1AE"), ("ab", "AB")])
    def test_postcodes(self, raw, canon):
        assert apply(canonical.canonical_postcode, [raw]) == [canon]

    def test_upn_check_letter(self):
        assert apply(canonical.upn_is_valid, ["B801200005001", "A801200005001"]) == [True, False]

    def test_names(self):
        assert apply(canonical.canonical_name, ["Zoë O'Brien-Smith ", "  ", "Anne–Marie"]) == ["ZOE OBRIEN SMITH", None, "ANNE MARIE"]


@settings(max_examples=25)
@given(st.lists(strings, min_size=1, max_size=5))
def test_a_large_frame_with_a_few_non_ascii_values_is_canonicalised_per_value(values):
    """The non-ASCII minority goes to the scalar rule by distinct value; rows keep their order."""
    column = ["Amir", *values, "Zoë"] * 50
    assert apply(canonical.canonical_name, column) == [ids.canonical_name(v) for v in column]
