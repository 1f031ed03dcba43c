"""Ground truth, written only outside the raw folder, so linkage and cleaning can be scored.

- `<dataset>.parquet`: record_id, person_id, role (child, mother, father, other), file.
- `persons.parquet`: one row per person with every true attribute.
- `addresses.parquet`: each person's postcode history (children and fathers share the family's).
- `schools.parquet`: person_id, academic_year, urn (spring census enrolments in state schools).
- `care.parquet`: the true episodes of care.
- `malformed.parquet`: dataset, file, line (1-based, header = line 1), record_id, defect, person_id.
- `errors.parquet`: dataset, record_id, error (`<column>:<kind>` for each imperfection made).
- `summary.json`: parameters, counts and rates.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from cohort_platform.synth.days import NEVER
from cohort_platform.synth.population import Population


def check_outside(raw_dir: Path, truth_dir: Path) -> None:
    """Truth must never sit inside the raw folder the pipeline reads (nor be the same folder)."""
    raw, truth = Path(raw_dir).resolve(), Path(truth_dir).resolve()
    if truth == raw or raw in truth.parents:
        raise ValueError(f"truth_dir {truth} is inside raw_dir {raw}: ground truth must be kept outside "
                         "the raw extracts, or the pipeline could read it")


def _date(name: str) -> pl.Expr:
    return pl.when(pl.col(name) != int(NEVER)).then(pl.col(name)).cast(pl.Int32).cast(pl.Date).alias(name)


def persons_frame(pop: Population) -> pl.DataFrame:
    return pop.persons.with_columns(
        _date("dob"), _date("dod"), _date("surname_change"), _date("registration").alias("registration_date"),
    ).drop("registration").rename({"family": "family_index", "maternity": "maternity_index"})


def addresses_frame(pop: Population) -> pl.DataFrame:
    """Every person's postcode history: the family's segments from birth (or history start) to death."""
    r = pop.residence
    seg = pl.DataFrame({"family": r.family, "seg_start": r.start, "seg_end": r.end, "pc": r.postcode})
    people = pop.persons.select("person_id", "family", "dob", "dod")
    joined = people.join(seg, on="family", how="inner").filter(
        (pl.col("seg_end") >= pl.col("dob")) & (pl.col("seg_start") <= pl.col("dod")))
    pcs = pop.geo.postcodes.select("postcode", "easting", "northing").with_row_index("pc")
    out = joined.with_columns(
        pl.max_horizontal("seg_start", "dob").alias("start_date"),
        pl.when(pl.col("dod") < pl.col("seg_end")).then(pl.col("dod")).otherwise(pl.col("seg_end")).alias("end_date"),
    ).join(pcs.with_columns(pl.col("pc").cast(pl.Int32)), on="pc", how="left")
    return out.select(
        "person_id", "postcode", "easting", "northing", _date("start_date"), _date("end_date"),
    ).sort("person_id", "start_date")


def schools_frame(pop: Population) -> pl.DataFrame:
    return pop.schooling.select("person_id", "academic_year", "urn").sort("person_id", "academic_year")


def care_frame(pop: Population) -> pl.DataFrame:
    pcs = pop.geo.postcodes["postcode"]
    return pop.care.select(
        "person_id", "period", _date("decom"), _date("dec"), "la_code", "ls", "cin", "place", "rne", "rec",
        pcs.gather(pop.care["placement_postcode"]).alias("placement_postcode"),
    )


def write_truth(truth_dir: Path, pop: Population, datasets: dict[str, pl.DataFrame], malformed: pl.DataFrame,
                errors: pl.DataFrame, summary: dict) -> None:
    truth_dir = Path(truth_dir)
    truth_dir.mkdir(parents=True, exist_ok=True)
    frames = {**datasets, "persons": persons_frame(pop), "addresses": addresses_frame(pop),
              "schools": schools_frame(pop), "care": care_frame(pop), "malformed": malformed, "errors": errors}
    for name, frame in frames.items():
        frame.write_parquet(truth_dir / f"{name}.parquet", compression="snappy")
    (truth_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
