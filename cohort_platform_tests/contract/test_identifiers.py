"""The contract's identifier rules, spec-style, with property tests for the check digits."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cohort_platform.contract import identifiers as ids

nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)
upn_bodies = st.builds(lambda d, last: d + last, st.text(alphabet="0123456789", min_size=11, max_size=11),
                       st.sampled_from(list("0123456789") + list(ids.UPN_ALPHABET)))


class TestNhsNumber:
    def test_a_published_example_is_valid(self):
        assert ids.nhs_number_is_valid("9434765919")

    def test_spaces_and_hyphens_are_allowed(self):
        assert ids.nhs_number_is_valid("943 476 5919")
        assert ids.nhs_number_is_valid("943-476-5919")

    def test_a_wrong_check_digit_is_invalid(self):
        assert not ids.nhs_number_is_valid("9434765918")

    @pytest.mark.parametrize("raw", [None, "", "943476591", "94347659190", "94347659AB"])
    def test_wrong_length_or_letters_are_invalid(self, raw):
        assert not ids.nhs_number_is_valid(raw)

    def test_a_remainder_of_ten_has_no_check_digit(self):
        # weights 10..2 over 000000001 give 2; 11 - 2 % 11 = 9 ... find a body whose check would be 10
        body = next(f"{n:09d}" for n in range(10**6) if (11 - sum(int(d) * w for d, w in zip(f"{n:09d}", range(10, 1, -1))) % 11) == 10)
        assert ids.nhs_check_digit(body) is None
        assert not any(ids.nhs_number_is_valid(body + str(d)) for d in range(10))

    @given(nine_digits)
    def test_appending_the_check_digit_makes_a_valid_number(self, body):
        check = ids.nhs_check_digit(body)
        if check is not None:
            assert ids.nhs_number_is_valid(body + str(check))

    @given(nine_digits, st.integers(0, 9))
    def test_only_the_check_digit_is_valid(self, body, digit):
        check = ids.nhs_check_digit(body)
        assert ids.nhs_number_is_valid(body + str(digit)) == (check == digit)

    @given(nine_digits, st.integers(0, 8), st.integers(1, 9))
    def test_a_single_digit_error_is_always_caught(self, body, position, shift):
        check = ids.nhs_check_digit(body)
        if check is None:
            return
        changed = body[:position] + str((int(body[position]) + shift) % 10) + body[position + 1:]
        assert not ids.nhs_number_is_valid(changed + str(check))


class TestUpn:
    @pytest.mark.parametrize("upn", ["B801200005001", "P207000016049"])
    def test_published_examples_are_valid(self, upn):
        assert ids.upn_is_valid(upn)

    def test_a_wrong_check_letter_is_invalid(self):
        assert not ids.upn_is_valid("A801200005001")

    def test_lower_case_and_spaces_are_canonicalised(self):
        assert ids.canonical_upn(" b8012 00005001 ") == "B801200005001"
        assert ids.upn_is_valid("b801200005001")

    @pytest.mark.parametrize("raw", [None, "", "B80120000500", "B80120000A001", "I801200005001"])
    def test_malformed_upns_are_invalid(self, raw):
        assert not ids.upn_is_valid(raw)

    @given(upn_bodies)
    def test_prefixing_the_check_letter_makes_a_valid_upn(self, body):
        assert ids.upn_is_valid(ids.upn_check_letter(body) + body)

    @given(upn_bodies, st.sampled_from(list(ids.UPN_ALPHABET)))
    def test_only_the_check_letter_is_valid(self, body, letter):
        assert ids.upn_is_valid(letter + body) == (letter == ids.upn_check_letter(body))

    def test_the_check_letter_never_uses_i_o_or_s(self):
        assert not set("IOS") & set(ids.UPN_ALPHABET) and len(ids.UPN_ALPHABET) == 23


class TestPostcode:
    @pytest.mark.parametrize("raw", ["sw1a1aa", "SW1A 1AA", " sw1a   1aa ", "SW1A1AA"])
    def test_any_case_and_spacing_becomes_canonical(self, raw):
        assert ids.canonical_postcode(raw) == "SW1A 1AA"
        assert ids.postcode_is_valid(raw)

    @pytest.mark.parametrize("raw", ["M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "W1A 0AX", "EC1A 1BB"])
    def test_every_uk_shape_is_valid(self, raw):
        assert ids.postcode_is_valid(raw)

    @pytest.mark.parametrize("raw", ["SW1A 1A", "12345", "SW1A-1AA!", "QQQ", ""])
    def test_other_shapes_are_invalid(self, raw):
        assert not ids.postcode_is_valid(raw)

    def test_the_district_is_the_outward_code(self):
        assert ids.postcode_district("sw1a1aa") == "SW1A"

    @given(st.text(max_size=12))
    def test_canonicalising_twice_changes_nothing(self, raw):
        once = ids.canonical_postcode(raw)
        assert ids.canonical_postcode(once) == once


class TestNames:
    @pytest.mark.parametrize(("raw", "canonical"), [
        ("Zoë", "ZOE"), ("O'Brien", "OBRIEN"), ("Smith-Jones", "SMITH JONES"),
        ("  de la  Cruz ", "DE LA CRUZ"), ("Siân", "SIAN"), ("N\u2019Dour", "NDOUR"),
    ])
    def test_names_compare_without_accents_case_or_punctuation(self, raw, canonical):
        assert ids.canonical_name(raw) == canonical

    def test_an_empty_name_is_missing(self):
        assert ids.canonical_name(" - ") is None

    @given(st.text(max_size=20))
    def test_canonical_names_are_idempotent(self, raw):
        once = ids.canonical_name(raw)
        assert ids.canonical_name(once) == once


def test_only_ascii_digits_make_an_nhs_number():
    assert not ids.nhs_number_is_valid("\u0669\u0664\u0663\u0664\u0667\u0666\u0665\u0669\u0661\u0669")  # Arabic-Indic 9434765919
    assert not ids.nhs_number_is_valid("943476591\u00b2")
