"""Disclosure control of aggregate outputs: each rule, secondary suppression, rounding, release."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cohort_platform.outputs.disclosure import (
    DEFAULT_RULES,
    CellFinding,
    SdcRules,
    check_frequency_table,
    check_magnitude_table,
    round_to_base,
    secondary_suppression,
)


def people(counts: dict[tuple[str, str], int]) -> pl.DataFrame:
    """One row per child: (la, sex) repeated as often as `counts` says."""
    rows = [(la, sex) for (la, sex), n in counts.items() for _ in range(n)]
    return pl.DataFrame(rows, schema={"la": pl.String, "sex": pl.String}, orient="row")


SAFE = {("A", "F"): 40, ("A", "M"): 42, ("B", "F"): 31, ("B", "M"): 29}


def cells(result, rule):
    return {(f.row, f.column) for f in result.findings if f.rule == rule}


class TestRelease:
    def test_a_table_breaking_no_rule_is_released_rounded(self):
        result = check_frequency_table(people(SAFE), "la", "sex")
        assert result.released and result.findings == ()
        assert result.table.rows() == [("A", 40, 40, 80), ("B", 30, 30, 60), ("All", 70, 70, 140)]

    def test_a_table_breaking_a_rule_is_not_released_and_not_returned(self):
        result = check_frequency_table(people({**SAFE, ("C", "F"): 3, ("C", "M"): 12}), "la", "sex")
        assert not result.released and result.table is None
        assert "NOT released" in result.describe()

    def test_the_findings_frame_names_cells_and_rules(self):
        result = check_frequency_table(people({**SAFE, ("C", "F"): 3, ("C", "M"): 12}), "la", "sex")
        frame = result.findings_frame()
        assert frame.filter(pl.col("rule") == "threshold").select("row", "column").rows() == [("C", "F")]


class TestPrimaryRules:
    def test_threshold_a_cell_of_fewer_than_ten_fails(self):
        result = check_frequency_table(people({**SAFE, ("C", "F"): 9, ("C", "M"): 12}), "la", "sex")
        assert cells(result, "threshold") == {(("C",), "F")}

    def test_threshold_ten_passes(self):
        assert check_frequency_table(people({**SAFE, ("C", "F"): 10, ("C", "M"): 12}), "la", "sex").released

    def test_the_threshold_can_be_set(self):
        result = check_frequency_table(people(SAFE), "la", "sex", rules=SdcRules(threshold=35))
        assert cells(result, "threshold") == {(("B",), "F"), (("B",), "M")}

    def test_zeros_a_zero_cell_fails(self):
        result = check_frequency_table(people({**SAFE, ("C", "M"): 30}), "la", "sex")
        assert (("C",), "F") in cells(result, "zeros")

    def test_zeros_from_declared_levels_show_and_fail(self):
        result = check_frequency_table(people(SAFE), "la", "sex", levels={"la": ["A", "B", "D"]})
        assert {(("D",), "F"), (("D",), "M")} <= cells(result, "zeros")

    def test_dominance_two_contributors_making_most_of_a_sum_fail(self):
        records = pl.DataFrame({
            "la": ["A"] * 20 + ["B"] * 20, "sex": ["F", "M"] * 20,
            "cost": [100.0] * 20 + [1.0] * 16 + [5000.0, 1.0, 5000.0, 1.0],  # two large payments, both B / F
        })
        result = check_magnitude_table(records, "la", "sex", "cost", aggfunc="sum")
        assert cells(result, "dominance_nk") == {(("B",), "F"), (("B",), "All"), (("All",), "F")}
        assert not result.released

    def test_p_ratio_the_rest_being_tiny_beside_the_largest_fails(self):
        records = pl.DataFrame({
            "la": ["A"] * 24, "sex": ["F"] * 12 + ["M"] * 12,
            "cost": [100.0] * 12 + [1000.0, 1.0] + [1.0] * 10,
        })
        result = check_magnitude_table(records, "la", "sex", "cost", aggfunc="sum")
        assert (("A",), "M") in cells(result, "p_ratio")

    def test_a_mean_of_few_contributors_fails_the_threshold(self):
        records = pl.DataFrame({"la": ["A"] * 15 + ["B"] * 5, "sex": ["F"] * 20, "score": [float(i) for i in range(20)]})
        result = check_magnitude_table(records, "la", "sex", "score", aggfunc="mean")
        assert (("B",), "F") in cells(result, "threshold")


class TestSecondarySuppression:
    def test_a_lone_suppressed_cell_takes_another_in_its_row_and_column(self):
        counts = {("A", "F"): 40, ("A", "M"): 42, ("B", "F"): 31, ("B", "M"): 29, ("C", "F"): 4, ("C", "M"): 50}
        result = check_frequency_table(people(counts), "la", "sex", suppress=True)
        assert cells(result, "threshold") == {(("C",), "F")}
        assert cells(result, "secondary") == {(("C",), "M"), (("B",), "F"), (("B",), "M")}
        table = {r[0]: r[1:] for r in result.table.rows()}
        assert table["C"] == (None, None, 55) and table["B"] == (None, None, 60) and table["All"] == (75, 120, 195)

    def test_every_row_and_column_of_a_released_table_hides_none_or_at_least_two_cells(self):
        counts = {("A", "F"): 40, ("A", "M"): 42, ("B", "F"): 31, ("B", "M"): 3, ("C", "F"): 4, ("C", "M"): 50}
        table = check_frequency_table(people(counts), "la", "sex", suppress=True).table
        hidden = table.select(pl.exclude("la").is_null()).to_numpy()
        assert all(n != 1 for n in hidden.sum(axis=0)) and all(n != 1 for n in hidden.sum(axis=1))

    def test_without_margins_there_is_nothing_to_difference_against(self):
        counts = {**SAFE, ("C", "F"): 4, ("C", "M"): 50}
        result = check_frequency_table(people(counts), "la", "sex", margins=False, suppress=True)
        assert cells(result, "secondary") == set()

    def test_a_mean_needs_no_secondary_suppression(self):
        records = pl.DataFrame({"la": ["A"] * 25 + ["B"] * 5, "sex": ["F", "M", "F"] * 10, "score": [float(i) for i in range(30)]})
        result = check_magnitude_table(records, "la", "sex", "score", aggfunc="mean", suppress=True)
        assert cells(result, "secondary") == set()

    @settings(max_examples=150, deadline=None)
    @given(st.integers(1, 5), st.integers(1, 5), st.data())
    def test_the_rule_holds_for_any_table(self, n_rows, n_cols, data):
        inner = np.array(data.draw(st.lists(st.integers(0, 60), min_size=n_rows * n_cols, max_size=n_rows * n_cols))).reshape(n_rows, n_cols)
        full = np.zeros((n_rows + 1, n_cols + 1))
        full[:n_rows, :n_cols] = inner
        full[:n_rows, n_cols] = inner.sum(axis=1)
        full[n_rows, :] = full[:n_rows, :].sum(axis=0)
        primary = full < 10
        hidden = primary | secondary_suppression(full, primary)
        assert all(n != 1 for n in hidden.sum(axis=0)) and all(n != 1 for n in hidden.sum(axis=1))
        assert not (secondary_suppression(full, primary) & primary).any()


class TestRounding:
    def test_counts_round_to_the_nearest_five_halves_up(self):
        assert round_to_base(np.array([0, 2, 3, 12, 13, 15, 17.5]), 5).tolist() == [0, 0, 5, 10, 15, 15, 20]

    def test_totals_are_rounded_from_the_true_totals_not_summed_from_rounded_cells(self):
        counts = {("A", "F"): 12, ("A", "M"): 12, ("B", "F"): 12, ("B", "M"): 12}
        table = check_frequency_table(people(counts), "la", "sex").table
        assert table.rows() == [("A", 10, 10, 25), ("B", 10, 10, 25), ("All", 25, 25, 50)]

    def test_a_base_of_one_leaves_counts_exact(self):
        table = check_frequency_table(people(SAFE), "la", "sex", rules=SdcRules(round_base=1)).table
        assert table.row(0) == ("A", 40, 42, 82)

    def test_magnitudes_are_not_rounded(self):
        records = pl.DataFrame({"la": ["A"] * 20, "sex": ["F"] * 20, "score": [float(i) + 0.25 for i in range(20)]})
        table = check_magnitude_table(records, "la", "sex", "score", aggfunc="mean").table
        assert table["F"][0] == pytest.approx(9.75)


class TestAcro:
    def test_the_default_rules_are_acros_defaults(self):
        import acro
        config = yaml.safe_load((Path(acro.__file__).parent / "default.yaml").read_text())
        assert {k: config[k] for k in DEFAULT_RULES.acro_config()} == DEFAULT_RULES.acro_config()

    def test_acro_evidence_goes_only_where_asked(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        check_frequency_table(people(SAFE), "la", "sex", evidence_dir=tmp_path / "evidence")
        assert (tmp_path / "evidence" / "results.json").exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence"]

    def test_acro_changes_no_logging_and_logs_no_table(self):
        script = (
            "import logging, sys, polars as pl\n"
            "from cohort_platform.outputs.disclosure import check_frequency_table\n"
            "records = pl.DataFrame({'la': ['A'] * 12 + ['B'] * 3, 'sex': ['F'] * 15})\n"
            "root = logging.getLogger(); before = (list(root.handlers), root.level)\n"
            "check_frequency_table(records, 'la', 'sex')\n"
            "assert (list(root.handlers), root.level) == before, 'root logger changed'\n"
            "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format='%(name)s|%(message)s')\n"
            "check_frequency_table(records, 'la', 'sex')\n"
            "logging.getLogger('app').info('still works')\n"
        )
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        assert not [line for line in run.stderr.splitlines() if line.startswith("acro")]
        assert "app|still works" in run.stderr

    def test_several_row_keys_are_labelled(self):
        records = people(SAFE).with_columns(pl.lit(2016).alias("year"))
        result = check_frequency_table(records, ["la", "year"], "sex")
        assert result.table.columns == ["la", "year", "F", "M", "All"]
        assert result.table.row(0) == ("A", "2016", 40, 40, 80)

    def test_a_null_key_is_counted_as_unknown(self):
        records = pl.concat([people(SAFE), pl.DataFrame({"la": [None] * 20, "sex": ["F", "M"] * 10}, schema={"la": pl.String, "sex": pl.String})])
        assert "unknown" in check_frequency_table(records, "la", "sex").table["la"].to_list()

    def test_findings_are_plain_cells_and_rules(self):
        result = check_frequency_table(people({**SAFE, ("C", "F"): 3, ("C", "M"): 12}), "la", "sex")
        assert CellFinding(("C",), "F", "threshold") in result.findings
        assert result.rule_counts["threshold"] >= 1
