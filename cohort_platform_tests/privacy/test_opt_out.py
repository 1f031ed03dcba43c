"""The national data opt-out: the current list, removal before linkage, removal after, and the check."""

import dataclasses
import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cohort_platform.privacy.opt_out import (
    OPT_OUT_COLUMNS,
    apply_opt_outs,
    assert_no_opted_out,
    current_opt_outs,
    describe_opt_outs,
    opted_out_people,
    remove_opted_out_people,
)
from cohort_platform_tests.privacy.factories import births, link_map, nhs, opt_out_snapshots

JAN, FEB, MAR = dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)
CHILD, OTHER_CHILD, MOTHER = nhs(1), nhs(2), nhs(3)


def current(*numbers):
    return pl.DataFrame({"nhs_number": list(numbers)}, schema={"nhs_number": pl.String})


def spine():
    return births([
        {"record_id": "B1", "nhs_number": CHILD, "mother_nhs_number": nhs(10)},
        {"record_id": "B2", "nhs_number": OTHER_CHILD, "mother_nhs_number": MOTHER},
        {"record_id": "B3", "nhs_number": None, "mother_nhs_number": None},
    ])


class TestTheCurrentList:
    def test_only_the_newest_snapshot_counts(self):
        snapshots = opt_out_snapshots({JAN: [CHILD, MOTHER], FEB: [MOTHER, OTHER_CHILD]})
        assert current_opt_outs(snapshots)["nhs_number"].to_list() == sorted([MOTHER, OTHER_CHILD])

    def test_someone_absent_from_the_newest_snapshot_has_opted_back_in(self):
        snapshots = opt_out_snapshots({JAN: [CHILD], FEB: [CHILD], MAR: [MOTHER]})
        assert CHILD not in current_opt_outs(snapshots)["nhs_number"].to_list()

    def test_a_newest_snapshot_with_nobody_in_it_empties_the_list_when_its_date_is_given(self):
        snapshots = opt_out_snapshots({JAN: [CHILD]})
        assert current_opt_outs(snapshots, newest_snapshot=FEB).height == 0

    def test_invalid_numbers_are_ignored_and_counted(self):
        snapshots = opt_out_snapshots({JAN: [CHILD, "1234567890"]}).with_columns(
            (pl.col("nhs_number") == CHILD).alias("nhs_number_valid")
        )
        assert current_opt_outs(snapshots)["nhs_number"].to_list() == [CHILD]
        assert describe_opt_outs(snapshots) == {"snapshots": 1, "newest_snapshot": "2024-01-01", "opted_out": 1, "invalid_ignored": 1}

    def test_no_snapshot_at_all_means_nobody_is_opted_out(self):
        assert current_opt_outs(opt_out_snapshots({})).height == 0

    def test_a_number_listed_twice_appears_once(self):
        assert current_opt_outs(opt_out_snapshots({JAN: [CHILD, CHILD]})).height == 1


class TestBeforeLinkage:
    def test_an_opted_out_child_is_removed_from_the_births(self):
        kept, removal = apply_opt_outs("births", spine(), current(CHILD))
        assert kept["record_id"].to_list() == ["B2", "B3"]
        assert (removal.rows_removed, removal.parent_details_cleared) == (1, 0)

    def test_an_opted_out_mother_loses_her_details_but_her_child_stays(self):
        kept, removal = apply_opt_outs("births", spine(), current(MOTHER))
        row = kept.filter(pl.col("record_id") == "B2").row(0, named=True)
        assert row["nhs_number"] == OTHER_CHILD and row["forename"] == "ADA" and row["postcode"] == "SW1A 1AA"
        assert all(row[c] is None for c in ("mother_nhs_number", "mother_nhs_number_valid", "mother_forename", "mother_surname", "mother_dob"))
        assert (removal.rows_removed, removal.parent_details_cleared) == (0, 1)

    def test_other_mothers_keep_their_details(self):
        kept, _ = apply_opt_outs("births", spine(), current(MOTHER))
        assert kept.filter(pl.col("record_id") == "B1")["mother_forename"].to_list() == ["MARY"]

    def test_a_new_snapshot_that_opts_someone_back_in_keeps_them_on_rebuild(self):
        before = current_opt_outs(opt_out_snapshots({JAN: [CHILD]}))
        after = current_opt_outs(opt_out_snapshots({JAN: [CHILD], FEB: []}), newest_snapshot=FEB)
        assert apply_opt_outs("births", spine(), before)[0].height == 2
        assert apply_opt_outs("births", spine(), after)[0].height == 3

    def test_a_newly_opted_out_person_is_removed_on_rebuild(self):
        newer = current_opt_outs(opt_out_snapshots({JAN: [], FEB: [OTHER_CHILD]}))
        assert "B2" not in apply_opt_outs("births", spine(), newer)[0]["record_id"].to_list()

    @pytest.mark.parametrize(("dataset", "column"), [("hes_apc", "newnhsno"), ("deaths", "nhs_number"),
                                                     ("mhsds", "nhs_number"), ("cla", "nhs_number")])
    def test_each_dataset_is_filtered_on_its_own_nhs_number(self, dataset, column):
        frame = pl.DataFrame({"record_id": ["R1", "R2", "R3"], column: [CHILD, OTHER_CHILD, None]})
        kept, removal = apply_opt_outs(dataset, frame, current(CHILD))
        assert kept["record_id"].to_list() == ["R2", "R3"]
        assert removal.rows_removed == 1

    def test_a_dataset_without_nhs_numbers_is_left_for_linkage_to_catch(self):
        frame = pl.DataFrame({"record_id": ["P1"], "upn": ["A801200000001"]})
        kept, removal = apply_opt_outs("npd_census", frame, current(CHILD))
        assert kept.equals(frame) and removal.rows_removed == 0

    def test_every_dataset_with_an_nhs_number_is_covered(self):
        assert set(OPT_OUT_COLUMNS) == {"births", "deaths", "hes_apc", "mhsds", "cla"}

    def test_the_removal_record_holds_counts_only(self):
        _, removal = apply_opt_outs("births", spine(), current(CHILD, MOTHER))
        values = dataclasses.asdict(removal)
        assert values == {"dataset": "births", "rows_removed": 1, "parent_details_cleared": 1}

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30) | st.none()), max_size=25),
           st.sets(st.integers(0, 30), max_size=10))
    def test_no_opted_out_number_survives_and_rows_reconcile(self, people, opted):
        frame = births([
            {"record_id": f"B{i}", "nhs_number": nhs(c), "mother_nhs_number": None if m is None else nhs(100 + m)}
            for i, (c, m) in enumerate(people)
        ]) if people else births([{"record_id": "B0", "nhs_number": None, "mother_nhs_number": None}])
        listed = current(*[nhs(o) for o in opted], *[nhs(100 + o) for o in opted])
        kept, removal = apply_opt_outs("births", frame, listed)
        assert assert_no_opted_out({"births": kept}, listed) == []
        assert kept.height + removal.rows_removed == frame.height


class TestAfterLinkage:
    def links(self):
        return link_map([
            ("births", "B1", "B1", "child"),
            ("npd_census", "P1", "B1", "child"),       # no NHS number: only linkage finds it
            ("mhsds", "M1", "B1", "child"),
            ("hes_apc", "H1", "B1", "mother"),         # the delivery episode, keyed on the child
            ("births", "B2", "B2", "child"),
            ("npd_census", "P2", "B2", "child"),
            ("hes_apc", "H2", "B2", "mother"),
            ("hes_apc", "H9", None, "child"),          # unlinked
        ])

    def test_every_link_of_an_opted_out_child_goes_including_records_without_nhs_numbers(self):
        result = remove_opted_out_people(self.links(), ["B1"])
        assert "B1" not in result.link_map["person_id"].to_list()
        assert result.counts == {"births": 1, "hes_apc": 1, "mhsds": 1, "npd_census": 1}
        assert result.removed.height == 4

    def test_an_opted_out_mothers_links_go_but_her_childs_own_records_stay(self):
        result = remove_opted_out_people(self.links(), [], mothers_of=["B2"])
        assert result.removed.select("record_id").to_series().to_list() == ["H2"]
        assert {"B2", "P2"} <= set(result.link_map["record_id"].to_list())

    def test_a_mothers_record_shared_by_twins_stays_linked_to_the_twin_who_did_not_opt_out(self):
        twins = link_map([("hes_apc", "H1", "T1", "mother"), ("hes_apc", "H1", "T2", "mother")])
        kept = remove_opted_out_people(twins, ["T1"]).link_map
        assert kept.select("record_id", "person_id").rows() == [("H1", "T2")]

    def test_unlinked_records_are_untouched(self):
        assert "H9" in remove_opted_out_people(self.links(), ["B1", "B2"]).link_map["record_id"].to_list()

    def test_the_people_to_remove_come_from_births_before_opt_outs_are_applied(self):
        people = opted_out_people(spine(), current(CHILD, MOTHER))
        assert people.children.to_list() == ["B1"]
        assert people.mothers_of.to_list() == ["B2"]


class TestTheBlockingCheck:
    def test_a_clean_set_of_frames_passes(self):
        kept, _ = apply_opt_outs("births", spine(), current(CHILD, MOTHER))
        assert assert_no_opted_out({"births": kept}, current(CHILD, MOTHER)) == []

    def test_an_opted_out_number_in_any_text_column_is_found_and_counted(self):
        leaky = pl.DataFrame({"note": [CHILD, CHILD, "x"], "nhs_number": [None, OTHER_CHILD, CHILD], "n": [1, 2, 3]})
        found = assert_no_opted_out({"hes_apc": leaky}, current(CHILD))
        assert [(v.dataset, v.column, v.rows) for v in found] == [("hes_apc", "note", 2), ("hes_apc", "nhs_number", 1)]

    def test_the_check_runs_on_research_ids_too(self):
        research = pl.DataFrame({"research_id": ["r1", "r2"]})
        found = assert_no_opted_out({"children": research}, pl.DataFrame({"research_id": ["r2"]}), column="research_id")
        assert [(v.column, v.rows) for v in found] == [("research_id", 1)]

    def test_a_finding_never_holds_the_number(self):
        found = assert_no_opted_out({"x": pl.DataFrame({"a": [CHILD]})}, current(CHILD))
        assert CHILD not in repr(found)
