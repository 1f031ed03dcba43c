"""Pseudonyms: key handling (creation, permissions, secrecy) and the HMAC pseudonyms themselves."""

import copy
import hashlib
import hmac
import logging
import pickle
import shutil
import stat
import subprocess
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cohort_platform.privacy.pseudonyms import (
    KEY_ENV,
    PseudonymKey,
    PseudonymKeyError,
    default_key_file,
    load_pseudonym_key,
    project_pseudonyms,
    pseudonym_expr,
    research_ids,
)

REPO = Path(__file__).resolve().parents[2]
HEX_KEY = "0123456789abcdef" * 4


@pytest.fixture
def key():
    return PseudonymKey(bytes.fromhex(HEX_KEY), "test")


def secret_of(key_file: Path) -> str:
    return key_file.read_text().strip()


class TestTheKeyFile:
    def test_it_is_created_once_with_owner_only_permissions(self, tmp_path):
        key_file = default_key_file(tmp_path)
        load_pseudonym_key(key_file, env={})
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert len(bytes.fromhex(secret_of(key_file))) == 32

    def test_it_is_created_owner_only_even_under_a_permissive_umask(self, tmp_path):
        import os
        old = os.umask(0)
        try:
            load_pseudonym_key(tmp_path / "k" / "pseudonym.key", env={})
        finally:
            os.umask(old)
        assert stat.S_IMODE((tmp_path / "k" / "pseudonym.key").stat().st_mode) == 0o600

    def test_it_is_never_rewritten(self, tmp_path, key):
        key_file = default_key_file(tmp_path)
        first = load_pseudonym_key(key_file, env={})
        second = load_pseudonym_key(key_file, env={})
        ids = pl.Series(["B1", "B2"])
        assert research_ids(ids, first).equals(research_ids(ids, second))

    def test_two_new_key_files_hold_different_keys(self, tmp_path):
        a = load_pseudonym_key(tmp_path / "a.key", env={})
        b = load_pseudonym_key(tmp_path / "b.key", env={})
        assert a != b

    def test_a_key_file_readable_by_others_is_refused(self, tmp_path):
        key_file = tmp_path / "pseudonym.key"
        load_pseudonym_key(key_file, env={})
        key_file.chmod(0o644)
        with pytest.raises(PseudonymKeyError, match="chmod 600"):
            load_pseudonym_key(key_file, env={})

    def test_a_missing_key_file_is_an_error_when_creation_is_not_allowed(self, tmp_path):
        with pytest.raises(PseudonymKeyError, match=KEY_ENV):
            load_pseudonym_key(tmp_path / "none.key", env={}, create=False)

    def test_the_default_key_file_is_in_the_secure_zone_and_git_ignored(self):
        key_file = default_key_file(Path("data"))
        assert key_file == Path("data/secure/pseudonym.key")
        if shutil.which("git") is None:
            pytest.skip("git not installed")
        for path in (key_file, Path("elsewhere/secure/pseudonym.key"), Path("other/pseudonym.key")):
            assert subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=REPO).returncode == 0, path


class TestTheEnvironment:
    def test_the_environment_variable_wins_over_the_file(self, tmp_path, key):
        from_env = load_pseudonym_key(tmp_path / "pseudonym.key", env={KEY_ENV: HEX_KEY})
        assert from_env == key and not (tmp_path / "pseudonym.key").exists()

    @pytest.mark.parametrize("bad", ["short", "zz" * 32, "ab" * 31])
    def test_a_bad_value_is_refused_without_being_echoed(self, tmp_path, bad):
        with pytest.raises(PseudonymKeyError) as error:
            load_pseudonym_key(tmp_path / "k", env={KEY_ENV: bad})
        assert bad not in str(error.value)


class TestSecrecy:
    def test_repr_and_str_never_show_the_key(self, tmp_path):
        key_file = tmp_path / "pseudonym.key"
        loaded = load_pseudonym_key(key_file, env={})
        secret = secret_of(key_file)
        for text in (repr(loaded), str(loaded), f"{loaded}", repr([loaded]), repr(loaded.for_project("p"))):
            assert secret not in text and secret.upper() not in text
            assert bytes.fromhex(secret).hex() not in text

    def test_a_key_cannot_be_pickled_or_copied(self, key):
        with pytest.raises(TypeError):
            pickle.dumps(key)
        with pytest.raises(TypeError):
            copy.deepcopy(key)

    def test_a_key_has_no_attribute_dict_to_dump(self, key):
        with pytest.raises(TypeError):
            vars(key)

    def test_creating_and_using_a_key_logs_no_secret(self, tmp_path, caplog):
        caplog.set_level(logging.DEBUG)
        key_file = tmp_path / "pseudonym.key"
        loaded = load_pseudonym_key(key_file, env={})
        research_ids(pl.Series(["B1"]), loaded)
        secret = secret_of(key_file)
        assert caplog.records, "creation is logged (path only)"
        assert all(secret not in r.getMessage() for r in caplog.records)


class TestPseudonyms:
    def test_the_same_id_always_gets_the_same_pseudonym(self, key):
        first = research_ids(pl.Series(["B1", "B2", "B1"]), key)
        again = research_ids(pl.Series(["B2", "B1"]), key)
        assert first[0] == first[2] == again[1] and first[1] == again[0]

    def test_different_ids_get_different_pseudonyms(self, key):
        assert research_ids(pl.Series([f"B{i}" for i in range(1000)]), key).n_unique() == 1000

    def test_it_is_hmac_sha256_truncated_to_128_bits(self, key):
        expected = hmac.new(bytes.fromhex(HEX_KEY), "B000123".encode(), hashlib.sha256).hexdigest()[:32]
        assert research_ids(pl.Series(["B000123"]), key).to_list() == [expected]

    def test_a_different_key_gives_different_pseudonyms(self, key):
        other = PseudonymKey(bytes(32), "zeros")
        assert research_ids(pl.Series(["B1"]), key)[0] != research_ids(pl.Series(["B1"]), other)[0]

    def test_the_expression_form_gives_the_same_pseudonyms_in_a_lazy_plan(self, key):
        frame = pl.LazyFrame({"person_id": ["B1", "B2", "B1"]})
        plan = frame.with_columns(pseudonym_expr("person_id", key).alias("research_id"))
        assert HEX_KEY not in plan.explain()
        got = plan.collect()["research_id"]
        assert got.equals(research_ids(pl.Series(["B1", "B2", "B1"]), key), check_names=False)

    @pytest.mark.parametrize("values", [["B1", None, "B2"], ["B1", None, "B1"]])
    def test_nulls_stay_null_and_the_others_keep_their_place(self, key, values):
        got = research_ids(pl.Series(values), key)
        assert got[1] is None and got[0] == research_ids(pl.Series(["B1"]), key)[0]
        assert got[2] == research_ids(pl.Series([values[2]]), key)[0]

    def test_two_projects_get_different_pseudonyms_for_the_same_person(self, key):
        ids = research_ids(pl.Series([f"B{i}" for i in range(100)]), key)
        one, two = project_pseudonyms(ids, key, "alpha"), project_pseudonyms(ids, key, "beta")
        assert not set(one.to_list()) & set(two.to_list())
        assert not set(one.to_list()) & set(ids.to_list())

    def test_a_project_always_gets_the_same_pseudonym_for_a_person(self, key):
        ids = research_ids(pl.Series(["B1"]), key)
        assert project_pseudonyms(ids, key, "alpha").equals(project_pseudonyms(ids, key, "alpha"))

    @settings(max_examples=50, deadline=None)
    @given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=30))
    def test_vectorised_pseudonyms_equal_the_standard_library_hmac(self, values):
        secret = bytes.fromhex(HEX_KEY)
        got = PseudonymKey(secret, "t").pseudonymise(pl.Series(values, dtype=pl.String)).to_list()
        assert got == [hmac.new(secret, v.encode(), hashlib.sha256).hexdigest()[:32] for v in values]

    def test_a_long_key_is_hashed_first_as_hmac_does(self):
        secret = bytes(range(100))
        got = PseudonymKey(secret, "t").pseudonymise(pl.Series(["x"]))[0]
        assert got == hmac.new(secret, b"x", hashlib.sha256).hexdigest()[:32]


def test_without_a_path_the_key_file_is_found_under_cohort_home(tmp_path):
    load_pseudonym_key(env={"COHORT_HOME": str(tmp_path)})
    assert (tmp_path / "secure" / "pseudonym.key").exists()
    assert stat.S_IMODE((tmp_path / "secure").stat().st_mode) & 0o077 == 0
