"""Tiny delivery files for the ingestion tests: valid rows by default, one field changed at a time."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cohort_platform.contract.datasets import DATASETS, folder

NHS_BABY = "9434765919"
NHS_MOTHER = "2914177763"
UPN = "B801200005001"

VALID = {
    "births": {
        "record_id": "B1", "nhs_number": NHS_BABY, "forename": "Amir", "surname": "Khan", "dob": "2010-03-04",
        "sex": "1", "birthweight_g": "3200", "gestation_weeks": "39", "multiplicity": "1", "birth_order": "1",
        "mother_nhs_number": NHS_MOTHER, "mother_forename": "Fatima", "mother_surname": "Khan",
        "mother_dob": "1985-06-07", "postcode": "M1 1AE", "place_of_birth": "hospital",
        "registration_date": "2010-03-20",
    },
    "deaths": {
        "record_id": "D1", "nhs_number": NHS_BABY, "forename": "Amir", "surname": "Khan", "dob": "2010-03-04",
        "sex": "1", "dod": "2011-01-02", "underlying_cause": "P072", "postcode": "M1 1AE",
        "registration_date": "2011-01-09",
    },
    "npd_ks4": {
        "record_id": "K1", "upn": UPN, "dob": "2006-03-04", "sex": "F", "academic_year": "2021", "att8": "55.5",
        "ebacc_entered": "1",
    },
    "opt_outs": {"nhs_number": NHS_BABY},
    "lsoa_imd": {"lsoa11cd": "E01000001", "imd_decile": "3"},
}


def row(dataset: str, **changes: str | None) -> dict[str, str | None]:
    """A valid row of a dataset with some fields changed (None = empty)."""
    return VALID[dataset] | changes


def csv_text(header: list[str], rows: list[dict[str, str | None]], newline: str = "\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(header)
    for r in rows:
        writer.writerow(["" if r.get(h) is None else r[h] for h in header])
    return out.getvalue()


def write_delivery(
    raw_root: Path, dataset: str, name: str, rows: list[dict[str, str | None]], *,
    header: list[str] | None = None, newline: str = "\n", bom: bool = False,
) -> Path:
    """Write `<raw_root>/<folder>/<name>` with the contract's columns (or `header`) in that order."""
    header = header or DATASETS[dataset].column_names
    path = Path(raw_root) / folder(dataset) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + csv_text(header, rows, newline).encode("utf-8"))
    return path


def write_text(raw_root: Path, relative: str, text: str | bytes) -> Path:
    """Write a file as given, byte for byte."""
    path = Path(raw_root) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path
