"""The generator's entry point: a true population, then every provider's imperfect extract, then truth.

    generate(raw_dir, truth_dir, birth_years, children_per_year, seed, cutoff, environment=True)

writes `raw_dir/<dataset>/*.csv` for every person-level dataset of the contract, the reference files,
and (with `environment`) the environmental grids and roads; ground truth goes to `truth_dir`, which
must lie outside `raw_dir`. The same arguments give byte-identical files. A dataset folder's existing
CSV files are removed first, so a re-run into the same folder leaves no stale deliveries.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from cohort_platform.contract.datasets import DATASETS, GRIDS, PERSON_DATASETS, folder
from cohort_platform.synth import extract_education, extract_health, extract_social, noise
from cohort_platform.synth.delivery import MALFORMED_SCHEMA, REDELIVERIES, write_dataset
from cohort_platform.synth.geography import Geography, build_geography
from cohort_platform.synth.population import RATES as POPULATION_RATES
from cohort_platform.synth.population import Population, build_population, component_rng
from cohort_platform.synth.truth import check_outside, write_truth

Builder = Callable[[Population, np.random.Generator], pl.DataFrame]


@dataclass
class GenerationSummary:
    children: int = 0
    mothers: int = 0
    fathers: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # data lines written per dataset (all files)
    malformed: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)  # where the (wall) time went
    stage_cpu_seconds: dict[str, float] = field(default_factory=dict)  # CPU, all threads: robust to a busy machine


def write_reference(raw_dir: Path, geo: Geography) -> dict[str, int]:
    ref = raw_dir / "reference"
    ref.mkdir(parents=True, exist_ok=True)
    frames = {"postcodes": geo.reference_postcodes(), "lsoa_imd": geo.lsoa_imd, "schools": geo.reference_schools()}
    for name, frame in frames.items():
        frame.select(DATASETS[name].column_names).write_csv(ref / f"{name}.csv")
    return {name: f.height for name, f in frames.items()}


def _clear(folder_path: Path) -> None:
    if folder_path.is_dir():
        for old in folder_path.glob("*.csv"):
            old.unlink()


def _not_after_cutoff(frame: pl.DataFrame, dataset_name: str, cutoff: dt.date) -> pl.DataFrame:
    """A last guard: drop any row with a date after the cut-off (builders should already have)."""
    cols = [c.name for c in DATASETS[dataset_name].columns if c.kind == "date" and c.name in frame.columns]
    if not cols or frame.height == 0:
        return frame
    late = pl.any_horizontal([pl.col(c) > pl.lit(cutoff) for c in cols]).fill_null(False)
    return frame.filter(~late)


def generate(raw_dir: Path, truth_dir: Path, birth_years: Sequence[int], children_per_year: int, seed: int,
             cutoff: dt.date, environment: bool = True) -> GenerationSummary:
    started = time.perf_counter()
    raw_dir, truth_dir = Path(raw_dir), Path(truth_dir)
    check_outside(raw_dir, truth_dir)
    years = sorted({int(y) for y in birth_years})
    if not years:
        raise ValueError("no birth years")
    if children_per_year < 1:
        raise ValueError("children_per_year must be at least 1")
    stages: dict[str, float] = {}
    cpu_stages: dict[str, float] = {}
    clock = [time.perf_counter(), time.process_time()]

    def lap(stage: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        stages[stage] = round(stages.get(stage, 0.0) + now - clock[0], 2)
        cpu_stages[stage] = round(cpu_stages.get(stage, 0.0) + cpu - clock[1], 2)
        clock[0], clock[1] = now, cpu

    geo = build_geography(component_rng(seed, "geography"), children_per_year)
    lap("geography")
    pop = build_population(seed, geo, years, children_per_year, cutoff)
    lap("population")
    raw_dir.mkdir(parents=True, exist_ok=True)
    reference_rows = write_reference(raw_dir, geo)
    lap("reference")

    truth: dict[str, pl.DataFrame] = {}
    malformed, errors = [], []
    rows: dict[str, int] = {}

    def deliver(name: str, frame: pl.DataFrame) -> None:
        dataset = DATASETS[name]
        target = raw_dir / folder(name)
        _clear(target)
        if frame.height == 0:
            truth[name] = pl.DataFrame(schema={"record_id": pl.Utf8, "person_id": pl.Int64, "role": pl.Utf8,
                                               "file": pl.Utf8})
            rows[name] = 0
            return
        frame = _not_after_cutoff(frame, name, cutoff)
        lap(f"build:{name}")
        noisy, errs = noise.apply_noise(frame, dataset, noise.RATES[name], component_rng(seed, f"noise:{name}"), cutoff)
        lap(f"noise:{name}")
        written = write_dataset(target, dataset, noisy, component_rng(seed, f"delivery:{name}"))
        lap(f"write:{name}")
        if written.id_map is not None:  # keyless (opt-outs): errors name the row by file and line
            errs = errs.join(written.id_map, left_on="record_id", right_on="row_id", how="inner").select(
                "dataset", pl.col("record_id_right").alias("record_id"), "error")
        truth[name] = written.truth
        malformed.append(written.malformed)
        errors.extend([errs, written.errors])
        rows[name] = written.rows

    builders: dict[str, Builder] = {
        "births": extract_health.births, "deaths": extract_health.deaths, "hes_apc": extract_health.hes_apc,
        "mhsds": extract_health.mhsds, "cla": extract_education.cla,
        "census_2011": extract_social.census_2011, "census_2021": extract_social.census_2021,
        "survey": extract_social.survey, "opt_outs": extract_health.opt_outs,
    }
    for name, build in builders.items():
        deliver(name, build(pop, component_rng(seed, f"extract:{name}")))
    census = extract_education.npd_census(pop, component_rng(seed, "extract:npd_census"))
    deliver("npd_ks2", extract_education.npd_ks2(pop, component_rng(seed, "extract:npd_ks2"), census))
    deliver("npd_ks4", extract_education.npd_ks4(pop, component_rng(seed, "extract:npd_ks4"), census))
    deliver("npd_census", census)
    del census
    missing = set(PERSON_DATASETS) - set(truth)
    if missing:
        raise AssertionError(f"no builder for {sorted(missing)}")

    if environment:
        from cohort_platform.synth.environment import write_environment

        for grid in GRIDS.values():  # no stale years from an earlier run
            for old in (raw_dir / grid.folder).glob(f"{grid.prefix}*.nc"):
                old.unlink()
        write_environment(raw_dir, geo.reference_postcodes(), list(range(years[0] - 1, cutoff.year + 1)), seed, truth_dir)
        lap("environment")

    malformed_frame = pl.concat(malformed) if malformed else pl.DataFrame(schema=MALFORMED_SCHEMA)
    errors_frame = pl.concat(errors) if errors else pl.DataFrame(schema={"dataset": pl.Utf8, "record_id": pl.Utf8,
                                                                         "error": pl.Utf8})
    roles = pop.persons["role"].value_counts()
    count = dict(zip(roles["role"].to_list(), roles["count"].to_list()))
    summary = GenerationSummary(children=count.get("child", 0), mothers=count.get("mother", 0),
                                fathers=count.get("father", 0), rows={n: rows[n] for n in PERSON_DATASETS},
                                malformed=malformed_frame.height)
    summary.stage_seconds, summary.stage_cpu_seconds = stages, cpu_stages
    summary.seconds = round(time.perf_counter() - started, 2)
    write_truth(truth_dir, pop, truth, malformed_frame, errors_frame, {
        "seed": seed, "birth_years": years, "children_per_year": children_per_year, "cutoff": cutoff.isoformat(),
        "environment": environment, "children": summary.children, "mothers": summary.mothers,
        "fathers": summary.fathers, "rows": summary.rows, "reference_rows": reference_rows,
        "malformed_rows": summary.malformed,
        "errors_by_kind": {f"{d}/{e}": n for d, e, n in errors_frame.group_by("dataset", "error").len()
                           .sort("dataset", "error").iter_rows()},
        "population_rates": POPULATION_RATES,
        "noise_rates": {n: r.as_dict() for n, r in noise.RATES.items()},
        "redeliveries": {n: {"share": r.share, "changed": r.changed, "column": r.column} for n, r in REDELIVERIES.items()},
    })
    lap("truth")
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary
