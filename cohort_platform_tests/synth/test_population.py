"""The true population: families, multiples, identifiers, school, care and death follow the model."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from cohort_platform.contract.identifiers import nhs_number_is_valid, upn_is_valid
from cohort_platform.synth.days import NEVER, academic_cohort, day
from cohort_platform.synth.geography import build_geography
from cohort_platform.synth.population import build_population, component_rng

CUTOFF = dt.date(2025, 3, 31)


@pytest.fixture(scope="module")
def pop():
    geo = build_geography(component_rng(4, "geography"), 8_000)
    return build_population(4, geo, [2006, 2007, 2008, 2009], 8_000, CUTOFF)


def test_each_birth_year_has_exactly_the_requested_children(pop):
    counts = pop.children().group_by("birth_year").len().sort("birth_year")
    assert counts["len"].to_list() == [8_000] * 4


def test_multiples_share_mother_and_dob_with_consecutive_birth_orders(pop):
    kids = pop.children()
    by_maternity = kids.group_by("maternity").agg(
        pl.col("mother_id").n_unique().alias("mothers"), pl.col("dob").n_unique().alias("dobs"),
        pl.col("birth_order").sort().alias("orders"), pl.col("multiplicity").first(), pl.len())
    assert (by_maternity["mothers"] == 1).all() and (by_maternity["dobs"] == 1).all()
    assert (by_maternity["len"] == by_maternity["multiplicity"]).all()
    assert all(o == list(range(1, len(o) + 1)) for o in by_maternity["orders"].to_list())
    shares = pop.maternities["multiplicity"].value_counts(normalize=True).sort("multiplicity")
    twins = shares.filter(pl.col("multiplicity") == 2)["proportion"].item()
    assert 0.01 < twins < 0.02


def test_multiples_are_lighter_and_earlier(pop):
    kids = pop.children()
    means = kids.group_by(pl.col("multiplicity") > 1).agg(pl.col("birthweight_g").mean(), pl.col("gestation_weeks").mean())
    single, multiple = means.sort("multiplicity").rows()
    assert multiple[1] < single[1] - 400 and multiple[2] < single[2] - 2


def test_mothers_are_16_to_45_at_every_birth_and_many_have_several_children(pop):
    kids = pop.children().join(pop.role_rows("mother").select(pl.col("person_id").alias("mother_id"),
                                                             pl.col("dob").alias("mother_dob")), on="mother_id")
    age = (kids["dob"] - kids["mother_dob"]) / 365.2425
    assert age.min() >= 16 and age.max() < 46
    per_mother = kids.group_by("mother_id").agg(pl.col("maternity").n_unique())
    assert (per_mother["maternity"] >= 2).mean() > 0.15


def test_nhs_numbers_are_unique_and_valid_and_upns_carry_their_check_letter(pop):
    nhs = pop.persons["nhs_number"]
    assert nhs.is_unique().all() and all(nhs_number_is_valid(x) for x in nhs.sample(3000, seed=1).to_list())
    upn = pop.persons["upn"].drop_nulls()
    assert upn.is_unique().all() and all(upn_is_valid(x) for x in upn.to_list())


def test_reception_is_the_september_after_the_fourth_birthday(pop):
    first = pop.schooling.group_by("person_id").agg(pl.col("academic_year").min(), pl.col("ncyear").min())
    kids = pop.children().join(first, on="person_id")
    started_in_reception = kids.filter(pl.col("ncyear") == 0)
    cohort = academic_cohort(started_in_reception["dob"].to_numpy())
    assert (started_in_reception["academic_year"].to_numpy() == cohort + 5).all()


def test_about_93_percent_of_children_attend_state_schools(pop):
    in_school = pop.schooling.filter(pl.col("ncyear") == 3)
    eligible = pop.children().filter(pl.col("person_id").is_in(pop.schooling["person_id"].implode())
                                     | (pl.col("dod") == int(NEVER)))
    share = in_school["person_id"].n_unique() / eligible.height
    assert 0.89 < share < 0.96


def test_about_one_percent_of_children_are_looked_after_with_some_several_episodes(pop):
    share = pop.care["person_id"].n_unique() / pop.children().height
    assert 0.006 < share < 0.016
    assert (pop.care.group_by("person_id").len()["len"] > 1).any()
    assert (pop.care["decom"] >= pop.care.join(pop.persons.select("person_id", "dob"), on="person_id")["dob"]).all()


def test_infant_mortality_is_near_3_5_per_thousand(pop):
    kids = pop.children()
    infant = ((kids["dod"] != int(NEVER)) & ((kids["dod"] - kids["dob"]) < 365)).sum() / kids.height * 1000
    assert 1.5 < infant < 6


def test_every_child_has_an_address_from_birth_and_nobody_dies_after_the_cutoff(pop):
    kids = pop.children()
    pc = pop.residence.postcode_at(kids["family"].to_numpy(), kids["dob"].to_numpy())
    assert (pc >= 0).all()
    dod = pop.persons["dod"].to_numpy()
    assert ((dod == NEVER) | (dod <= day(CUTOFF))).all()


def test_moves_are_more_frequent_in_deprived_areas(pop):
    r = pop.residence
    moves = np.bincount(r.family, minlength=pop.families.height) - 1
    first_pc = pop.families["initial_postcode"].to_numpy()
    imd = pop.geo.lsoas["imd_decile"].to_numpy()[pop.geo.postcode_lsoa[first_pc]]
    years = (day(CUTOFF) - pop.families["history_start"].to_numpy()) / 365.25
    assert (moves[imd <= 3] / years[imd <= 3]).mean() > 1.3 * (moves[imd >= 8] / years[imd >= 8]).mean()


def test_the_same_seed_gives_the_same_population():
    geo = build_geography(component_rng(9, "geography"), 500)
    a = build_population(9, geo, [2010], 500, CUTOFF).persons
    b = build_population(9, geo, [2010], 500, CUTOFF).persons
    assert a.equals(b)
