"""The generated extract as the platform sees it: files, columns, rules, truth, determinism."""

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl
import pytest

from cohort_platform.contract.datasets import DATASETS, PERSON_DATASETS, REFERENCE_DATASETS, folder
from cohort_platform.ingest.pipeline import ingest
from cohort_platform.synth.generate import generate
from cohort_platform_tests.synth.conftest import CUTOFF


def _header(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n", 1)[0].split(",")


def test_every_person_level_dataset_is_delivered_in_several_files_where_the_contract_expects(extract):
    raw, _, _ = extract
    for name in PERSON_DATASETS:
        files = sorted((raw / folder(name)).glob(DATASETS[name].glob))
        assert files, name
    for name in ("births", "hes_apc", "npd_census", "cla"):
        assert len(list((raw / name).glob("*.csv"))) >= 3, name
    assert all(p.name.startswith("ndop_") for p in (raw / "opt_outs").iterdir())
    assert len(list((raw / "opt_outs").glob("ndop_*.csv"))) == 3


def test_every_file_has_exactly_the_contract_columns_in_contract_order(extract):
    raw, _, _ = extract
    for name in PERSON_DATASETS:
        for path in (raw / folder(name)).glob(DATASETS[name].glob):
            assert _header(path) == DATASETS[name].column_names, path
    for name in REFERENCE_DATASETS:
        assert _header(raw / "reference" / f"{name}.csv") == DATASETS[name].column_names


@pytest.mark.parametrize("name", PERSON_DATASETS + REFERENCE_DATASETS)
def test_only_the_planted_malformed_rows_and_superseded_copies_are_quarantined(extract, ingested, name):
    raw, truth, _ = extract
    result = ingested(name)
    assert result.reconciles
    rejected = result.quarantine.filter(pl.col("rule") != "superseded").select(
        pl.col("source_file").alias("file"), pl.col("source_line").alias("line")).unique().sort("file", "line")
    planted = pl.read_parquet(truth / "malformed.parquet").filter(pl.col("dataset") == name) \
        .select("file", "line").sort("file", "line")
    assert rejected.to_dicts() == planted.to_dicts()
    if name in PERSON_DATASETS and name != "opt_outs":
        assert result.rows_accepted > 0


def test_malformed_rows_are_recorded_with_their_physical_line(extract):
    raw, truth, _ = extract
    malformed = pl.read_parquet(truth / "malformed.parquet")
    assert set(malformed["defect"]) == {"impossible_date", "code_outside_list", "text_in_numeric",
                                        "empty_record_id", "wrong_field_count"}
    for row in malformed.iter_rows(named=True):
        line = (raw / row["file"]).read_text(encoding="utf-8").split("\n")[row["line"] - 1]
        if row["defect"] == "empty_record_id":
            assert line.startswith(",")
        elif row["record_id"] is not None:
            assert line.startswith(row["record_id"] + ",")
        if row["defect"] == "impossible_date":
            assert "-02-30" in line


def test_each_record_id_maps_to_one_true_person(extract, ingested):
    raw, truth, _ = extract
    persons = pl.read_parquet(truth / "persons.parquet").select("person_id", "role")
    for name in PERSON_DATASETS:
        t = pl.read_parquet(truth / f"{name}.parquet")
        assert t["record_id"].is_unique().all(), name
        assert t.join(persons, on="person_id", how="anti").height == 0, name
        assert set(t["role"]) <= {"child", "mother", "father", "other"}
        accepted = ingested(name).accepted
        if DATASETS[name].key:
            assert set(accepted["record_id"]) == set(t["record_id"]), name


def test_record_ids_repeat_only_in_redelivery_files(extract):
    raw, _, _ = extract
    for name in PERSON_DATASETS:
        if not DATASETS[name].key:
            continue
        frames = [pl.read_csv(p, infer_schema=False, truncate_ragged_lines=True).select("record_id")
                  .with_columns(pl.lit(p.name).alias("file")) for p in (raw / name).glob("*.csv")]
        rows = pl.concat(frames).drop_nulls()
        repeated = rows.filter(pl.col("record_id").is_duplicated())
        assert repeated.filter(pl.col("file").str.ends_with("_r2.csv")).height * 2 == repeated.height, name


def test_nothing_is_dated_after_the_cutoff(extract):
    raw, truth, _ = extract
    malformed = pl.read_parquet(truth / "malformed.parquet")
    for name in PERSON_DATASETS:
        dates = [c.name for c in DATASETS[name].columns if c.kind == "date"]
        for path in (raw / name).glob("*.csv"):
            bad_lines = set(malformed.filter(pl.col("file") == f"{name}/{path.name}")["line"])
            frame = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True).with_row_index("line", 2)
            frame = frame.filter(~pl.col("line").is_in(list(bad_lines)))
            for c in dates:
                latest = frame[c].str.to_date("%Y-%m-%d", strict=False).max()
                assert latest is None or latest <= CUTOFF, (path, c)
    ndop = sorted(p.name for p in (raw / "opt_outs").glob("*.csv"))
    assert dt.date.fromisoformat(ndop[-1][5:15]) <= CUTOFF


def test_children_born_after_the_cutoff_are_not_delivered(tmp_path):
    cutoff = dt.date(2012, 6, 30)
    generate(tmp_path / "raw", tmp_path / "truth", [2012], 300, 3, cutoff, environment=False)
    births = pl.read_csv(tmp_path / "raw" / "births" / "births_2012.csv", infer_schema=False)
    registered = births["registration_date"].str.to_date(strict=False).drop_nulls()
    assert registered.max() <= cutoff
    persons = pl.read_parquet(tmp_path / "truth" / "persons.parquet").filter(pl.col("role") == "child")
    assert persons.height == 300 and persons["dob"].max() > cutoff


def test_truth_inside_the_raw_folder_is_refused(tmp_path):
    for truth in (tmp_path / "raw", tmp_path / "raw" / "truth"):
        with pytest.raises(ValueError, match="outside"):
            generate(tmp_path / "raw", truth, [2010], 50, 1, dt.date(2020, 1, 1), environment=False)
    assert not (tmp_path / "raw").exists()


def _digest(folder_path: Path) -> dict[str, str]:
    return {p.relative_to(folder_path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder_path.rglob("*")) if p.is_file()}


def test_the_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    args = ([2009, 2010], 250)
    cutoff = dt.date(2021, 12, 31)
    generate(tmp_path / "a" / "raw", tmp_path / "a" / "truth", *args, 5, cutoff, environment=False)
    generate(tmp_path / "b" / "raw", tmp_path / "b" / "truth", *args, 5, cutoff, environment=False)
    generate(tmp_path / "c" / "raw", tmp_path / "c" / "truth", *args, 6, cutoff, environment=False)
    a, b, c = (_digest(tmp_path / x / "raw") for x in "abc")
    assert a == b
    assert a["births/births_2010.csv"] != c["births/births_2010.csv"]
    assert _digest(tmp_path / "a" / "truth") == _digest(tmp_path / "b" / "truth")


def test_a_rerun_into_the_same_folder_leaves_no_stale_files(tmp_path):
    generate(tmp_path / "raw", tmp_path / "truth", [2008, 2009, 2010], 100, 1, dt.date(2020, 1, 1), environment=False)
    generate(tmp_path / "raw", tmp_path / "truth", [2010], 100, 1, dt.date(2020, 1, 1), environment=False)
    names = [p.name for p in (tmp_path / "raw" / "births").glob("*.csv")]
    assert "births_2010.csv" in names and all(n.startswith("births_2010") for n in names)


def test_the_environment_is_written_for_every_year_from_the_year_before_the_first_birth(tmp_path):
    generate(tmp_path / "raw", tmp_path / "truth", [2010], 200, 2, dt.date(2012, 3, 31), environment=True)
    for year in range(2009, 2013):
        for grid in ("air_quality/no2", "air_quality/pm25", "greenspace/ndvi"):
            assert (tmp_path / "raw" / f"{grid}_{year}.nc").is_file()
    assert (tmp_path / "raw" / "roads" / "major_roads.gpkg").is_file()
    assert (tmp_path / "truth" / "environment.json").is_file()


def test_the_summary_counts_what_was_written(extract):
    _, truth, summary = extract
    assert summary.children == 4500
    assert set(summary.rows) == set(PERSON_DATASETS)
    assert all(summary.rows[n] > 0 for n in PERSON_DATASETS)
    assert (truth / "summary.json").is_file()


@pytest.mark.parametrize(("name", "column", "rate"), [
    ("hes_apc", "newnhsno", 0.05), ("mhsds", "nhs_number", 0.10), ("deaths", "nhs_number", 0.20),
    ("cla", "nhs_number", 0.20), ("cla", "upn", None),
])
def test_missing_identifiers_in_the_extract_are_near_the_configured_rates(extract, ingested, name, column, rate):
    raw, truth, _ = extract
    result = ingested(name)
    missing = result.accepted[column].null_count() / result.accepted.height
    if rate is None:  # UPNs: missing before school age and for 15% of the rest
        assert 0.15 < missing < 0.9
    else:
        assert abs(missing - rate) < max(0.35 * rate, 3 / result.accepted.height ** 0.5), missing
    invalid = result.accepted.filter(pl.col(f"{column}_valid") == False).height if f"{column}_valid" in result.accepted.columns else 0  # noqa: E712
    assert invalid / result.accepted.height < 0.02


def test_postcodes_arrive_in_several_formats_and_some_lag_a_move(extract):
    raw, truth, _ = extract
    census = pl.concat([pl.read_csv(p, infer_schema=False, truncate_ragged_lines=True)
                        for p in (raw / "npd_census").glob("*.csv")])
    pc = census["postcode"].drop_nulls()
    assert pc.str.contains(r"^[a-z0-9 ]+$").sum() > 0 and pc.str.contains(r"^[A-Z0-9]+$").sum() > 0
    errors = pl.read_parquet(truth / "errors.parquet")
    assert errors.filter(pl.col("error") == "postcode:lagged").height > 0
    assert errors.filter(pl.col("error") == "forename:nickname").height > 0
    assert errors.filter(pl.col("error") == "surname:stale_surname").height > 0


DELIVERY_FIELDS = ["numbaby", "gestat_1", "birweit_1", "sexbaby_1", "delmeth_1"]


def test_hes_delivery_fields_are_filled_only_on_delivery_and_birth_episodes(extract, ingested):
    raw, _, _ = extract
    hes = ingested("hes_apc").accepted
    maternity = hes.filter(pl.col("epitype").is_in(["2", "3"]))
    other = hes.filter(~pl.col("epitype").is_in(["2", "3"]))
    assert maternity.height and other.height
    assert all(maternity[c].null_count() == 0 for c in DELIVERY_FIELDS)
    assert all(other[c].null_count() == other.height for c in DELIVERY_FIELDS)
    codes = pl.concat([hes[f"diag_4_0{i}"] for i in range(1, 6)]).drop_nulls()
    assert {"P072", "J069", "S099", "O800"} <= set(codes)
    assert {"R171", "R182"} <= set(hes["opertn_4_01"].drop_nulls())


def test_every_baby_has_a_birth_episode_and_every_maternity_a_delivery_episode(extract, ingested):
    raw, truth, _ = extract
    hes = ingested("hes_apc").accepted.join(pl.read_parquet(truth / "hes_apc.parquet"), on="record_id")
    persons = pl.read_parquet(truth / "persons.parquet")
    children = persons.filter(pl.col("role") == "child")
    births = hes.filter(pl.col("epitype") == "3")
    assert births["person_id"].is_unique().all() and births.height == children.height
    deliveries = hes.filter(pl.col("epitype") == "2").group_by("person_id").len()
    maternities = children.group_by("mother_id").agg(pl.col("maternity_index").n_unique().alias("n"))
    joined = maternities.join(deliveries, left_on="mother_id", right_on="person_id", how="left")
    assert (joined["n"] == joined["len"]).all()


def test_twins_in_the_births_extract_share_mother_and_dob(extract, ingested):
    raw, truth, _ = extract
    births = ingested("births").accepted.join(pl.read_parquet(truth / "births.parquet"), on="record_id")
    persons = pl.read_parquet(truth / "persons.parquet").select("person_id", "mother_id", "maternity_index")
    twins = births.join(persons, on="person_id").filter(pl.col("multiplicity") >= 2)
    by = twins.group_by("maternity_index").agg(pl.col("mother_id").n_unique(), pl.col("birth_order").sort(),
                                              pl.col("multiplicity").first(), pl.len())
    assert by.height > 10
    assert (by["mother_id"] == 1).all()
    complete = by.filter(pl.col("len") == pl.col("multiplicity"))
    assert all(o == list(range(1, len(o) + 1)) for o in complete["birth_order"].to_list())


def test_each_dataset_codes_the_same_true_ethnicity(extract, ingested):
    from cohort_platform.synth import vocab

    raw, truth, _ = extract
    persons = pl.read_parquet(truth / "persons.parquet").select("person_id", "ethnicity")
    checks = [("npd_census", "ethnicity", {e: e for e in vocab.ETHNICITIES}, {"REFU", "NOBT"}),
              ("hes_apc", "ethnos", vocab.HES_ETHNOS, {"99", "Z"}),
              ("census_2011", "ethnic_group", vocab.CENSUS_2011_GROUP, set()),
              ("census_2021", "ethnic_group", vocab.CENSUS_2021_GROUP, set())]
    for name, column, mapping, unknown in checks:
        rows = ingested(name).accepted.join(pl.read_parquet(truth / f"{name}.parquet"), on="record_id") \
            .join(persons, on="person_id").drop_nulls(column).filter(~pl.col(column).is_in(list(unknown)))
        expected = rows["ethnicity"].replace_strict(mapping, return_dtype=pl.Utf8)
        assert rows.height > 100 and (rows[column] == expected).all(), name
