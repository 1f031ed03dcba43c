"""Pseudonyms: keyed HMAC-SHA256 of the internal person id, so ids are stable but not reversible.

The research person id is HMAC-SHA256(master key, internal person id): the same child gets the same
research id in every build, and without the key nobody can compute it from an id they know. A
project extract uses a key derived from the master key and the project name, so two projects'
extracts cannot be joined on their person ids, and neither can be joined to the research tables.

The master key comes from `COHORT_PSEUDONYM_KEY` (hex, at least 32 bytes) or from a key file (same
hex form; default `<home>/secure/pseudonym.key`, git-ignored), created once from `os.urandom(32)`
with owner-only permissions. A key file readable by anyone else is refused. The key is held in a
`PseudonymKey`, whose repr and str never show it and which refuses to be pickled, so it cannot slip
into logs, Dagster metadata or a warehouse table. Never pass it as Dagster run config: load it in
the asset.

Pseudonyms are the first 128 bits (32 hex characters) of the HMAC, which is what RFC 2104 allows
(at least half the hash output) and plenty for tens of millions of ids.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from cohort_platform.config import Settings

logger = logging.getLogger(__name__)

KEY_ENV = "COHORT_PSEUDONYM_KEY"
KEY_FILE_NAME = "pseudonym.key"
KEY_BYTES = 32
PSEUDONYM_BYTES = 16
RESEARCH_ID_COLUMN = "research_id"
"""The person column of every research table: the research pseudonym of the spine child."""
_HEX_KEY = re.compile(r"^(?:[0-9a-fA-F]{2}){%d,}$" % KEY_BYTES)
_PROJECT_LABEL = b"\x00cohort_platform project key v1\x00"
_BLOCK = 64  # SHA-256 block size


class PseudonymKeyError(ValueError):
    """A pseudonym key that cannot be used; the message never holds the key."""


class PseudonymKey:
    """A secret HMAC key. Its repr/str show only where it came from; it cannot be pickled."""

    __slots__ = ("_secret", "source")

    def __init__(self, secret: bytes, source: str) -> None:
        if len(secret) < KEY_BYTES:
            raise PseudonymKeyError(f"a pseudonym key needs at least {KEY_BYTES} bytes")
        self._secret = bytes(secret)
        self.source = source

    def __repr__(self) -> str:
        return f"PseudonymKey(source={self.source!r})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a PseudonymKey is never pickled or copied out of the process")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PseudonymKey) and hmac.compare_digest(self._secret, other._secret)

    __hash__ = None  # type: ignore[assignment]

    def for_project(self, project_name: str) -> PseudonymKey:
        """A key for one project: HMAC(master, label + name), so projects' pseudonyms differ."""
        if not project_name:
            raise ValueError("a project key needs a project name")
        derived = hmac.new(self._secret, _PROJECT_LABEL + project_name.encode("utf-8"), hashlib.sha256).digest()
        return PseudonymKey(derived, f"project {project_name!r} of {self.source}")

    def pseudonymise(self, values: pl.Series) -> pl.Series:
        """HMAC-SHA256 of each value's UTF-8 bytes, as 32 hex characters; null stays null.

        Person ids are usually all distinct and are hashed in place; a column with repeats (one row
        per episode) has each distinct value hashed once and joined back.
        """
        name = values.name
        if values.dtype != pl.String:
            values = values.cast(pl.String)
        present = values.drop_nulls()
        if present.n_unique() == present.len():
            hashed = self._hash(present)
            if values.null_count() == 0:
                return hashed.alias(name)
            empty = pl.Series(name, [None] * values.len(), dtype=pl.String)
            return empty.scatter(values.is_not_null().arg_true(), hashed)
        distinct = present.unique()
        lookup = pl.DataFrame({"v": distinct, "h": self._hash(distinct)})
        joined = values.to_frame("v").join(lookup, on="v", how="left", maintain_order="left")
        return joined["h"].alias(name)

    def _hash(self, values: pl.Series) -> pl.Series:
        """The truncated HMAC of each (non-null) value. Computed from SHA-256 states pre-loaded with
        the padded key (what `hmac` does inside), copied per value: about three times as fast as
        `hmac.new` per value, and the same result (tested against it)."""
        inner_pad, outer_pad = _pads(self._secret)
        inner_copy, outer_copy = hashlib.sha256(inner_pad).copy, hashlib.sha256(outer_pad).copy

        def digest(message: bytes) -> bytes:
            inner = inner_copy()
            inner.update(message)
            outer = outer_copy()
            outer.update(inner.digest())
            return outer.digest()

        hashed = pl.Series(list(map(digest, values.cast(pl.Binary).to_list())), dtype=pl.Binary)
        return hashed.bin.slice(0, PSEUDONYM_BYTES).bin.encode("hex")


def _pads(secret: bytes) -> tuple[bytes, bytes]:
    key = hashlib.sha256(secret).digest() if len(secret) > _BLOCK else secret
    key = key.ljust(_BLOCK, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def research_ids(person_ids: pl.Series, key: PseudonymKey) -> pl.Series:
    """The research person id of each internal person id (births record_id of the child)."""
    return key.pseudonymise(person_ids).alias(RESEARCH_ID_COLUMN)


def pseudonym_expr(column: str, key: PseudonymKey) -> pl.Expr:
    """`column` pseudonymised, as an expression for `with_columns` and lazy plans (elementwise: a
    value's pseudonym does not depend on its batch). The plan shows the key's repr only."""
    return pl.col(column).map_batches(key.pseudonymise, return_dtype=pl.String, is_elementwise=True)


def project_pseudonyms(research_id_values: pl.Series, key: PseudonymKey, project_name: str) -> pl.Series:
    """A project's person id for each research id: unjoinable with other projects and the research tables."""
    return key.for_project(project_name).pseudonymise(research_id_values)


# --- the key


def default_key_file(home: Path | None = None) -> Path:
    """`<home>/secure/pseudonym.key` (home from `COHORT_HOME` when not given): inside the secure zone,
    and git-ignored (`secure/`, `pseudonym.key`)."""
    settings = Settings.from_env() if home is None else None
    return (settings.secure_dir if settings else Path(home) / "secure") / KEY_FILE_NAME


def _parse_hex(text: str, where: str) -> bytes:
    text = text.strip()
    if not _HEX_KEY.match(text):
        raise PseudonymKeyError(
            f"{where} must hold at least {2 * KEY_BYTES} hex characters ({KEY_BYTES} bytes); it does not (value not shown)"
        )
    return bytes.fromhex(text)


def _read_key_file(path: Path) -> bytes:
    info = path.stat()
    loose = stat.S_IMODE(info.st_mode) & 0o077
    if loose:
        mode = stat.S_IMODE(info.st_mode)
        raise PseudonymKeyError(f"key file {path} is readable or writable by others (mode {mode:04o}); chmod 600 it")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise PseudonymKeyError(f"key file {path} belongs to another user")
    return _parse_hex(path.read_text(encoding="ascii", errors="replace"), f"key file {path}")


def _create_key_file(path: Path) -> None:
    """Write a new random key with mode 0600 from the start (O_EXCL: never overwrite, no race)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, (os.urandom(KEY_BYTES).hex() + "\n").encode("ascii"))
    finally:
        os.close(fd)
    logger.info("created a new pseudonym key file at %s", path)


def load_pseudonym_key(
    key_file: Path | None = None, env: Mapping[str, str] | None = None, *, create: bool = True
) -> PseudonymKey:
    """The master key: from `COHORT_PSEUDONYM_KEY` if set, else from `key_file` (default
    `default_key_file()`; created if absent and `create`). Changing the key changes every
    pseudonym, so it is created once and kept."""
    env = os.environ if env is None else env
    if env.get(KEY_ENV):
        return PseudonymKey(_parse_hex(env[KEY_ENV], KEY_ENV), f"environment variable {KEY_ENV}")
    key_file = Path(key_file) if key_file is not None else default_key_file(Settings.from_env(dict(env)).home)
    if not key_file.exists():
        if not create:
            raise PseudonymKeyError(f"no pseudonym key: set {KEY_ENV} or create {key_file}")
        try:
            _create_key_file(key_file)
        except FileExistsError:  # created by a concurrent run between exists() and open()
            pass
    return PseudonymKey(_read_key_file(key_file), f"key file {key_file}")
