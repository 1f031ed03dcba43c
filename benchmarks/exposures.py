"""Exposure benchmark: speed of the vectorised path beside a naive one, and error against synthetic truth.

    .venv/bin/python benchmarks/exposures.py --children 650000 [--year 2010] [--data DIR] [--naive-sample 1500]

1. Data (not timed): `synth.generate` writes one birth year of raw extracts with the environment and
   truth (reused when `--data DIR` already holds them); ingestion cleans the datasets with dated
   postcodes; grids are normalised (`normalise_grid`). The link map is built from the generator's
   truth (record -> true person; mothers' episodes in the 365 days before each of their children's
   births), because linkage has its own benchmark: this one measures exposures given the links.
2. Vectorised path, in a child process so its peak RSS is its own: `dated_addresses`,
   `residential_spells`, `school_enrolments`, `assign_exposures`, `quality`. Prints wall time per
   stage, peak RSS, grid values sampled per second and child-months assigned per second.
3. Naive path, in this process on a sample of location-months: per point, xarray
   `.sel(x, y, time, method="nearest")` for NO2 and PM2.5, `.sel` for NDVI, and shapely distance
   from the point to every road for the major road and motorway distances. Its per-point time
   extrapolated to the birth year's location-months, and the ratio.
4. Truth (benchmark only): exposures from the true address history (daily segments, exact day
   weights), true schools and the mothers' true addresses with the true gestation; the error of the
   platform's exposures against them per child-year and trimester; the share of child-months whose
   address matches the truth, for the documented rules and for variants of the excursion rule.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cohort_platform.exposures.histories import SOURCES  # noqa: E402

DATASETS = tuple(SOURCES)
TARGET_SECONDS = 300


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


# ------------------------------------------------------------------------------------------ data
def prepare(base: Path, children: int, year: int, seed: int, cutoff: dt.date) -> dict[str, float]:
    """Generate (unless present), ingest, build the truth link map and normalise the grids."""
    from cohort_platform.contract.datasets import GRIDS
    from cohort_platform.ingest.environment import discover, normalise_grid
    from cohort_platform.ingest.pipeline import ingest
    from cohort_platform.synth.generate import generate

    timings: dict[str, float] = {}
    raw, truth, clean, env = base / "raw", base / "truth", base / "clean", base / "env"
    if not (truth / "summary.json").is_file():
        t = time.perf_counter()
        generate(raw, truth, [year], children, seed, cutoff, environment=True)
        timings["generate"] = time.perf_counter() - t
    if not (clean / "link_map.parquet").is_file():
        t = time.perf_counter()
        clean.mkdir(parents=True, exist_ok=True)
        for name in (*DATASETS, "postcodes", "schools"):
            ingest(raw, name, cutoff).accepted.write_parquet(clean / f"{name}.parquet")
        timings["ingest"] = time.perf_counter() - t
        truth_link_map(clean, truth).write_parquet(clean / "link_map.parquet")
    if not (env / "done").is_file():
        t = time.perf_counter()
        found = discover(raw)
        for name, grid in GRIDS.items():
            for path in found[name]:
                normalise_grid(path, grid, env / grid.folder / path.name, raw)
        (env / "roads").mkdir(parents=True, exist_ok=True)
        if found["roads"]:
            (env / "roads" / found["roads"][0].name).write_bytes(found["roads"][0].read_bytes())
        (env / "done").write_text("ok")
        timings["normalise"] = time.perf_counter() - t
    return timings


def truth_link_map(clean: Path, truth: Path) -> pl.DataFrame:
    """A link map from the generator's truth: child records to the child's births record_id; mothers'
    HES episodes to each of her children born within 365 days after the episode."""
    from cohort_platform.linkage.link_map import conform

    births = pl.read_parquet(truth / "births.parquet").filter(pl.col("role") == "child")
    child_rid = births.sort("record_id").unique("person_id", keep="first").select(
        pl.col("person_id").alias("true_id"), pl.col("record_id").alias("person_id"))
    persons = pl.read_parquet(truth / "persons.parquet", columns=["person_id", "mother_id", "dob", "role"])
    kids = persons.filter(pl.col("role") == "child").select(pl.col("person_id").alias("true_id"), "mother_id",
                                                            pl.col("dob").alias("child_dob"))
    parts = []
    for name in DATASETS:
        t = pl.read_parquet(truth / f"{name}.parquet").select("record_id", pl.col("person_id").alias("true_id"), "role")
        child = t.filter(pl.col("role") == "child").join(child_rid, on="true_id").select(
            pl.lit(name).alias("dataset"), "record_id", "person_id", pl.lit("child").alias("role"))
        parts.append(child)
        if name == "hes_apc":
            dates = pl.read_parquet(clean / "hes_apc.parquet", columns=["record_id", "epistart"])
            mothers = (t.filter(pl.col("role") == "mother").join(dates, on="record_id")
                       .join(kids.rename({"true_id": "child_true"}), left_on="true_id", right_on="mother_id")
                       .filter(((pl.col("child_dob") - pl.col("epistart")).dt.total_days()).is_between(0, 365))
                       .join(child_rid, left_on="child_true", right_on="true_id")
                       .select(pl.lit(name).alias("dataset"), "record_id", "person_id", pl.lit("mother").alias("role")))
            parts.append(mothers)
    return conform(pl.concat(parts), step="truth")


def load_inputs(base: Path) -> dict:
    from cohort_platform.exposures.assign import Environment

    clean = base / "clean"
    from cohort_platform.exposures.histories import required_columns

    tables = {name: pl.read_parquet(clean / f"{name}.parquet", columns=required_columns(name))
              for name in DATASETS if (clean / f"{name}.parquet").is_file()}
    return {
        "clean": tables,
        "link_map": pl.read_parquet(clean / "link_map.parquet"),
        "postcodes": pl.read_parquet(clean / "postcodes.parquet"),
        "schools": pl.read_parquet(clean / "schools.parquet"),
        "environment": Environment.from_folder(base / "env"),
    }


# ------------------------------------------------------------------------------- vectorised path
def run_path(base: Path, cutoff: dt.date, out: Path) -> None:
    """The timed vectorised path (run in a child process); writes results and a JSON of figures."""
    from cohort_platform.exposures import quality
    from cohort_platform.exposures.assign import assign_exposures
    from cohort_platform.exposures.histories import cohort_children, dated_addresses, residential_spells, school_enrolments

    inputs = load_inputs(base)
    rss_loaded = peak_rss_gb()
    stages: dict[str, float] = {}
    started = t = time.perf_counter()
    cpu_started = time.process_time()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        stages[name] = round(now - t, 2)
        t = now
        print(f"  [{now - started:7.1f} s] {name} done; peak RSS {peak_rss_gb():.2f} GB", file=sys.stderr, flush=True)

    clean, link_map = inputs["clean"], inputs["link_map"]
    children = cohort_children(clean, link_map)
    dated = dated_addresses(clean, link_map, known_postcodes=inputs["postcodes"]["postcode"])
    lap("dated_addresses")
    spells = residential_spells(dated, cutoff, children)
    lap("residential_spells")
    enrolments = school_enrolments(clean, link_map)
    lap("school_enrolments")
    exposures = assign_exposures(spells, children, enrolments, inputs["postcodes"], inputs["schools"],
                                 inputs["environment"], cutoff, timings=stages)  # records its own stages
    t = time.perf_counter()
    cover = quality.coverage(exposures)
    ranges = quality.range_checks(exposures)
    lap("quality")
    wall = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    spells.write_parquet(out / "spells.parquet")
    exposures.home.write_parquet(out / "home.parquet")
    exposures.school.write_parquet(out / "school.parquet")
    exposures.pregnancy.write_parquet(out / "pregnancy.parquet")
    cover.write_parquet(out / "coverage.parquet")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures = {
        "wall_s": round(wall, 1), "cpu_s": round(time.process_time() - cpu_started, 1),
        "cpu_s_including_loading": round(usage.ru_utime + usage.ru_stime, 1),
        "load_average_1min": round(__import__("os").getloadavg()[0], 1), "stages_s": stages, "peak_rss_gb": round(peak_rss_gb(), 2),
        "rss_after_loading_inputs_gb": round(rss_loaded, 2),
        "children": children.height, "observations": dated.height, "spells": spells.height,
        "locations": exposures.locations, "grid_values_sampled": exposures.points_sampled,
        "location_months": exposures.location_months,
        "child_years_home": exposures.home.height, "child_years_school": exposures.school.height,
        "pregnancy_rows": exposures.pregnancy.height,
        "range_problems": ranges.filter(pl.col("out_of_range") > 0).height,
    }
    (out / "figures.json").write_text(json.dumps(figures, indent=1))


# ------------------------------------------------------------------------------------ naive path
def naive_sample(base: Path, spells: pl.DataFrame, postcodes: pl.DataFrame, n: int, seed: int) -> dict[str, float]:
    """Seconds per location-month of a per-point implementation, on `n` sampled child spell-months."""
    import shapely
    import xarray as xr

    from cohort_platform.exposures.assign import Environment
    from cohort_platform.exposures.histories import monthly

    env = Environment.from_folder(base / "env")
    months = (monthly(spells.filter(pl.col("role") == "child").sample(min(n, spells.height), seed=seed))
              .sample(n, seed=seed, with_replacement=True)
              .join(postcodes.select("postcode", "easting", "northing"), on="postcode"))
    opened: dict[tuple[str, int], xr.Dataset] = {}

    def grid(name: str, year: int):
        files = getattr(env, name)
        if year not in files:
            return None
        if (name, year) not in opened:
            opened[(name, year)] = xr.open_dataset(files[year], engine="netcdf4")
        return opened[(name, year)][name]

    geoms = env.roads.geometry.to_numpy()
    motorway = geoms[(env.roads["road_class"] == "Motorway").to_numpy()]
    for name in ("no2", "pm25", "ndvi"):  # open (and cache) the files outside the timing
        for y in {m.year for m in months["month"]}:
            grid(name, y)
    started = time.perf_counter()
    values = []
    for e, nn, month in months.select("easting", "northing", "month").iter_rows():
        row = []
        for name in ("no2", "pm25"):
            da = grid(name, month.year)
            row.append(float(da.sel(x=e, y=nn, time=np.datetime64(month, "ns"), method="nearest"))
                       if da is not None else np.nan)
        da = grid("ndvi", month.year)
        row.append(float(da.sel(x=e, y=nn, method="nearest")) if da is not None else np.nan)
        point = shapely.Point(e, nn)
        row.append(float(shapely.distance(point, geoms).min()))
        row.append(float(shapely.distance(point, motorway).min()))
        values.append(row)
    seconds = time.perf_counter() - started
    for ds in opened.values():
        ds.close()
    return {"points": months.height, "seconds": seconds, "seconds_per_location_month": seconds / max(months.height, 1)}


# ----------------------------------------------------------------------------------------- truth
CHUNK = 100_000


def _segment_rows(segments: pl.DataFrame, start_day: np.ndarray, end_day: np.ndarray, cutoff: dt.date):
    """(segment index, month key, days) of every month a true address segment overlaps, within
    [start_day, end_day) of its person."""
    from cohort_platform.exposures import assign as A
    from cohort_platform.exposures.histories import month_key

    cut_mk = cutoff.year * 12 + cutoff.month - 1
    s_mk = segments.select(month_key(pl.col("start_date"))).to_series().to_numpy().astype(np.int64)
    e_mk = segments.select(month_key(pl.col("end_date").fill_null(cutoff))).to_series().to_numpy().astype(np.int64)
    which, mk = A._expand(s_mk, np.minimum(e_mk, cut_mk))
    seg_start = A._days(segments["start_date"])[which]
    seg_end = np.minimum(A._days(segments["end_date"]), A._days(pl.Series([cutoff]))[0])[which] + 1
    days = A.overlap_days(mk, np.maximum(seg_start, start_day[which]), np.minimum(seg_end, end_day[which]))
    return which, mk, days


def _month_matrix(p: np.ndarray, mk: np.ndarray, loc: np.ndarray, weight: np.ndarray, n: int, mk0: int,
                  width: int) -> np.ndarray:
    """(n, width) location per person and month (-1 unknown); where several, the one of most weight."""
    out = np.full((n, width), -1, dtype=np.int64)
    order = np.argsort(weight, kind="stable")
    col = mk[order] - mk0
    ok = (col >= 0) & (col < width)
    out[p[order][ok], col[ok]] = loc[order][ok]
    return out


def truth_evaluation(base: Path, cutoff: dt.date, variants: dict[str, pl.DataFrame]) -> dict:
    """Exposures from the true histories with the platform's own sampler and weighting, in chunks of
    children (integer indices, never per-month strings: 650,000 children have ~120 M true months);
    and for each spells variant the share of child-months at the true address."""
    from cohort_platform.exposures import assign as A
    from cohort_platform.exposures.sampling import sample_locations

    truth = base / "truth"
    inputs = load_inputs(base)
    births = pl.read_parquet(truth / "births.parquet").filter(pl.col("role") == "child")
    child_rid = births.sort("record_id").unique("person_id", keep="first").select(
        pl.col("person_id").alias("true_id"), pl.col("record_id").alias("person_id"))
    persons = pl.read_parquet(truth / "persons.parquet", columns=["person_id", "mother_id", "role", "dob", "dod",
                                                                  "gestation_weeks"])
    kids_truth = persons.filter(pl.col("role") == "child").rename({"person_id": "true_id"}).join(child_rid, on="true_id")
    kids = A._children_frame(kids_truth.select("person_id", "dob", "gestation_weeks", "dod"), cutoff)
    addresses = pl.read_parquet(truth / "addresses.parquet", columns=["person_id", "postcode", "start_date", "end_date"])
    schools_truth = (pl.read_parquet(truth / "schools.parquet").rename({"person_id": "true_id"})
                     .join(child_rid, on="true_id").select("person_id", "academic_year", "urn"))
    locations = A._location_table(inputs["postcodes"].select("postcode"), inputs["schools"].select("urn"),
                                  inputs["postcodes"], inputs["schools"])
    first_year, last_year = int(kids["dob"].dt.year().min()) - 1, cutoff.year
    n_years = last_year - first_year + 1
    env = inputs["environment"]
    values = sample_locations(locations["easting"].to_numpy(), locations["northing"].to_numpy(),
                              list(range(first_year, last_year + 1)), env.no2, env.pm25, env.ndvi, env.roads)
    del inputs
    pc_loc = locations.filter(pl.col("kind") == "postcode").select(pl.col("key").alias("postcode"), "loc")
    p_of = kids.select("person_id", "p")
    child_seg = (addresses.rename({"person_id": "true_id"}).join(child_rid, on="true_id")
                 .join(kids.select("person_id", "p", "dob_day", "end_day"), on="person_id")
                 .join(pc_loc, on="postcode", how="left").with_columns(pl.col("loc").fill_null(-1)).sort("p"))
    mum_seg = (addresses.rename({"person_id": "mother_id"}).join(kids_truth.select("person_id", "mother_id"), on="mother_id")
               .join(kids.select("person_id", "p", "birth_mk", "dob_day"), on="person_id")
               .join(pc_loc, on="postcode", how="left").with_columns(pl.col("loc").fill_null(-1)).sort("p"))
    enrol = A._attach(schools_truth, locations, "urn", "urn")
    variant_spells = {name: A._attach(v.filter(pl.col("role") == "child"), locations, "postcode", "postcode")
                      .join(p_of, on="person_id").sort("p") for name, v in variants.items()}
    mk0 = int(kids["birth_mk"].min())
    width = cutoff.year * 12 + cutoff.month - 1 - mk0 + 1
    hits = {name: 0 for name in variants}
    months_total = 0
    home, school, pregnancy = [], [], []
    ids = kids["person_id"].to_numpy()
    for a in range(0, kids.height, CHUNK):
        b = min(a + CHUNK, kids.height)
        chunk = kids.slice(a, b - a).with_columns(pl.col("p") - a)
        cids = ids[a:b]
        seg = child_seg.filter(pl.col("p").is_between(a, b - 1)).with_columns(pl.col("p") - a)
        which, mk, days = _segment_rows(seg, seg["dob_day"].to_numpy(), seg["end_day"].to_numpy(), cutoff)
        keep = days > 0
        which, mk, days = which[keep], mk[keep], days[keep]
        p, loc, year = seg["p"].to_numpy()[which], seg["loc"].to_numpy()[which], mk // 12
        rows = A.LocationMonths(unit=p * n_years + year - first_year, year=year, month=mk % 12 + 1, loc=loc, days=days)
        home.append(A._yearly_frame(rows, values, cids, first_year, n_years))
        true_loc = _month_matrix(p, mk, loc, days, b - a, mk0, width)
        known = true_loc >= 0
        months_total += int(known.sum())
        for name, sp in variant_spells.items():
            part = sp.filter(pl.col("p").is_between(a, b - 1))
            w, m = A._expand(*A._spell_months(part))
            ours = _month_matrix(part["p"].to_numpy()[w] - a, m, part["loc"].to_numpy()[w], np.zeros(m.size), b - a,
                                 mk0, width)
            hits[name] += int(((ours == true_loc) & known).sum())
        e = enrol.join(chunk.select("person_id"), on="person_id", how="semi")
        school.append(A._yearly_frame(A.school_rows(e, chunk, first_year, n_years), values, cids, first_year, n_years))
        ms = mum_seg.filter(pl.col("p").is_between(a, b - 1)).with_columns(pl.col("p") - a)
        window_start = A.month_first_day(ms["birth_mk"].to_numpy() - 12)
        which, mk, days = _segment_rows(ms, window_start, ms["dob_day"].to_numpy() + 1, cutoff)
        keep = days > 0
        p = ms["p"].to_numpy()[which][keep]
        offset = mk[keep] - (ms["birth_mk"].to_numpy()[which][keep] - 12)
        mloc = _month_matrix(p, offset, ms["loc"].to_numpy()[which][keep], days[keep], b - a, 0, 13)
        rows = A.pregnancy_rows(chunk, mloc)
        stats = A.summarise(rows, values, (b - a) * 4)
        keep_u = np.flatnonzero(stats["days"] > 0)
        pregnancy.append(A._frame(stats, {"person_id": pl.Series(cids[keep_u // 4], dtype=pl.String),
                                          "trimester": pl.Series(np.asarray(A.TRIMESTERS)[keep_u % 4])}, keep_u))
    return {"home": pl.concat(home), "school": pl.concat(school), "pregnancy": pl.concat(pregnancy),
            "history_accuracy": {name: hits[name] / max(months_total, 1) for name in variants},
            "true_child_months": months_total}


def errors(ours: pl.DataFrame, truth: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Per exposure: pairs compared, mean absolute error, RMSE, bias, correlation, share within tolerance."""
    from cohort_platform.exposures.sampling import EXPOSURES

    tolerance = {"no2": 1.0, "pm25": 0.5, "ndvi_300m": 0.02, "road_m": 100.0, "motorway_m": 100.0}
    joined = ours.join(truth, on=keys, suffix="_true")
    rows = []
    for e in EXPOSURES:
        pair = joined.select(pl.col(e).cast(pl.Float64).alias("a"), pl.col(f"{e}_true").cast(pl.Float64).alias("b")).drop_nulls()
        d = pair["a"] - pair["b"]
        rows.append({"exposure": e, "pairs": pair.height, "true_mean": pair["b"].mean(),
                     "mae": d.abs().mean(), "rmse": float(np.sqrt((d**2).mean())) if pair.height else None,
                     "bias": d.mean(), "corr": pair.select(pl.corr("a", "b")).item() if pair.height > 2 else None,
                     "share_within_tolerance": float((d.abs() <= tolerance[e]).mean()) if pair.height else None,
                     "tolerance": tolerance[e]})
    return pl.DataFrame(rows)


# ------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=650_000, help="children in the birth year")
    parser.add_argument("--year", type=int, default=2010, help="the birth year")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cutoff", default="2025-03-31")
    parser.add_argument("--data", default=None, help="folder for (and of) generated data, kept; default a temp folder")
    parser.add_argument("--naive-sample", type=int, default=1500, help="location-months for the naive path")
    parser.add_argument("--skip-truth", action="store_true")
    parser.add_argument("--run-path", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cutoff = dt.date.fromisoformat(args.cutoff)
    if args.run_path:
        run_path(Path(args.run_path), cutoff, Path(args.out))
        return 0

    base = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="exposure_bench_"))
    print(f"birth year {args.year}, {args.children:,} children, cut-off {cutoff}, data in {base}", flush=True)
    setup = prepare(base, args.children, args.year, args.seed, cutoff)
    print(f"set-up (not timed): {', '.join(f'{k} {v:.0f} s' for k, v in setup.items()) or 'reused'}", flush=True)

    out = base / "result"
    subprocess.run([sys.executable, __file__, "--run-path", str(base), "--out", str(out), "--cutoff", args.cutoff],
                   check=True)
    fig = json.loads((out / "figures.json").read_text())
    sampling_s = fig["stages_s"].get("sample_locations", float("nan"))
    print("\n== vectorised path ==")
    print(f"children {fig['children']:,}; observations {fig['observations']:,}; spells {fig['spells']:,}; "
          f"distinct locations {fig['locations']:,}")
    print(f"wall time {fig['wall_s']:.1f} s (target {TARGET_SECONDS} s: {'met' if fig['wall_s'] <= TARGET_SECONDS else 'MISSED'})"
          f"; peak RSS {fig['peak_rss_gb']:.2f} GB (inputs loaded: {fig['rss_after_loading_inputs_gb']:.2f} GB)")
    print(f"CPU time {fig['cpu_s']:.1f} s (user + system, all threads; machine load average at the end "
          f"{fig['load_average_1min']} on {__import__('os').cpu_count()} cores)")
    for stage, s in fig["stages_s"].items():
        print(f"  {stage:<22} {s:>7.1f} s")
    print(f"grid values and distances sampled: {fig['grid_values_sampled']:,} in {sampling_s:.1f} s = "
          f"{fig['grid_values_sampled'] / sampling_s:,.0f} points/s")
    print(f"location-months assigned (home, school, pregnancy): {fig['location_months']:,} = "
          f"{fig['location_months'] / fig['wall_s']:,.0f} per second end to end")
    print(f"child-years: home {fig['child_years_home']:,}, school {fig['child_years_school']:,}; "
          f"pregnancy rows {fig['pregnancy_rows']:,}; range problems {fig['range_problems']}")
    coverage = pl.read_parquet(out / "coverage.parquet")
    with pl.Config(tbl_rows=40, tbl_cols=12, tbl_width_chars=140):
        print(coverage)

    spells = pl.read_parquet(out / "spells.parquet")
    inputs = load_inputs(base)
    naive = naive_sample(base, spells, inputs["postcodes"], args.naive_sample, args.seed)
    naive_total = naive["seconds_per_location_month"] * fig["location_months"]
    print("\n== naive per-point path (same run, on a sample) ==")
    print(f"{naive['points']:,} location-months in {naive['seconds']:.1f} s = "
          f"{naive['points'] / naive['seconds']:,.0f} location-months/s (5 lookups each: NO2, PM2.5, NDVI .sel; "
          f"2 shapely distances)")
    print(f"extrapolated to the birth year's {fig['location_months']:,} location-months: {naive_total / 3600:,.1f} h; "
          f"vectorised is {naive_total / fig['wall_s']:,.0f}x faster end to end "
          f"({fig['location_months'] / fig['wall_s']:,.0f} vs {naive['points'] / naive['seconds']:,.0f} location-months/s)")

    if not args.skip_truth:
        from cohort_platform.exposures.histories import HistoryRules, cohort_children, dated_addresses, residential_spells

        t = time.perf_counter()
        children = cohort_children(inputs["clean"], inputs["link_map"])
        dated = dated_addresses(inputs["clean"], inputs["link_map"], known_postcodes=inputs["postcodes"]["postcode"])
        del inputs
        variants = {"documented rules (carried forward, excursions within 365 days)": spells}
        for label, rules in (("no excursion rule", HistoryRules(excursion_days=None)),
                             ("excursions within 31 days", HistoryRules(excursion_days=31)),
                             ("move at the midpoint of the unobserved months", HistoryRules(move_timing="midpoint"))):
            variants[label] = residential_spells(dated, cutoff, children, rules)
        del dated
        truth = truth_evaluation(base, cutoff, variants)
        print(f"\n== error against exposures from the true histories ({time.perf_counter() - t:.0f} s) ==")
        with pl.Config(tbl_rows=20, tbl_cols=12, tbl_width_chars=160, float_precision=3):
            for name, keys in (("home", ["person_id", "year"]), ("school", ["person_id", "year"]),
                               ("pregnancy", ["person_id", "trimester"])):
                print(f"{name} (per child-{'year' if name != 'pregnancy' else 'trimester'}):")
                print(errors(pl.read_parquet(out / f"{name}.parquet"), truth[name], keys))
        print(f"history: share of the {truth['true_child_months']:,} true child-months at the true address "
              "(the address of most days in the month)")
        for label, share in truth["history_accuracy"].items():
            print(f"  {label}: {share:.4f}")
    print(f"\npeak RSS of this process (set-up, naive, truth): {peak_rss_gb():.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
