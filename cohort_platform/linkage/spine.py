"""The births spine: one person per live birth, duplicate registrations of one child folded together.

The internal person id is a births record_id: the smallest record_id among the registrations of one
child (stable when a later delivery adds another copy). Every registration stays on the spine with its
person_id, so the probabilistic model can use whichever registration carries the better identifiers;
links are made to registrations and then lifted to persons.

Duplicate registrations are found by `DUPLICATE_RULES`: each is a set of columns that must be equal
and present on both records, and the two must not carry different valid NHS numbers. Twins share date of
birth, mother, postcode and surname but never a valid NHS number, so no rule folds twins together,
not even twins registered under the same forename.

Partitioning by birth year: `spine_for_year` takes the persons whose (kept) date of birth falls in the
year; `candidate_records` takes the records of another dataset whose date of birth could belong to
such a person, i.e. the year plus `edge_days` either side, so that a date of birth that is one day out
across New Year does not lose its link. A record near the edge is thus a candidate in two partitions:
`link_map.combine_partitions` keeps its better row.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

DUPLICATE_RULES: dict[str, tuple[str, ...]] = {
    "same_nhs_number": ("nhs_number",),
    "same_name_dob_sex_postcode": ("forename", "surname", "dob", "sex", "postcode"),
}
"""Named rules under which two birth registrations are the same child."""


def connected_components(nodes: pl.Series, edges: pl.DataFrame) -> pl.DataFrame:
    """Label every node with the smallest node of its component (edges: columns `a`, `b`).

    Min-label propagation, vectorised: each round every node takes the smallest label among its
    neighbours; it stops when nothing changes. Duplicate groups are tiny, so a few rounds suffice.
    """
    labels = pl.DataFrame({"node": nodes.unique()}).with_columns(pl.col("node").alias("label"))
    both_ways = pl.concat([edges.select("a", "b"), edges.select(pl.col("b").alias("a"), pl.col("a").alias("b"))])
    while True:
        proposed = (
            both_ways.join(labels, left_on="b", right_on="node")
            .group_by("a").agg(pl.col("label").min().alias("proposed"))
        )
        updated = (
            labels.join(proposed, left_on="node", right_on="a", how="left")
            .with_columns(pl.min_horizontal("label", "proposed").alias("label"))
            .drop("proposed")
        )
        if updated.join(labels, on=["node", "label"], how="anti").is_empty():
            return updated
        labels = updated


def duplicate_pairs(births: pl.DataFrame) -> pl.DataFrame:
    """Pairs of registrations (a < b) that `DUPLICATE_RULES` call the same child, with the rule.

    Two registrations with different valid NHS numbers are two children whatever else they share:
    twins given the same name at the same address agree on every other identifier."""
    found = []
    nhs = births.select("record_id", "nhs_number")
    for rule, columns in DUPLICATE_RULES.items():
        keyed = births.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in columns)).select("record_id", *columns)
        pairs = (
            keyed.join(keyed, on=list(columns), suffix="_b")
            .filter(pl.col("record_id") < pl.col("record_id_b"))
            .select(pl.col("record_id").alias("a"), pl.col("record_id_b").alias("b"), pl.lit(rule).alias("rule"))
            .join(nhs.rename({"record_id": "a", "nhs_number": "nhs_a"}), on="a", how="left")
            .join(nhs.rename({"record_id": "b", "nhs_number": "nhs_b"}), on="b", how="left")
            .filter(pl.col("nhs_a").is_null() | pl.col("nhs_b").is_null() | (pl.col("nhs_a") == pl.col("nhs_b")))
            .drop("nhs_a", "nhs_b")
        )
        found.append(pairs)
    return pl.concat(found).unique(["a", "b"], keep="first")


def deduplicate_births(births: pl.DataFrame) -> pl.DataFrame:
    """The spine: every births identifier row plus `person_id` (the smallest record_id among the
    child's registrations), `is_kept` (this row is the person's own registration) and
    `duplicate_rule` (the rule that folded a duplicate in; null for kept rows)."""
    pairs = duplicate_pairs(births)
    labels = connected_components(births["record_id"], pairs)
    # a registration without an NHS number that matches two children (twins given one name) would
    # join them into one: in a group holding two valid NHS numbers only NHS-number folds stand
    nhs = births.select(pl.col("record_id").alias("node"), "nhs_number")
    mixed = (labels.join(nhs, on="node").filter(pl.col("nhs_number").is_not_null())
             .group_by("label").agg(pl.col("nhs_number").n_unique().alias("n")).filter(pl.col("n") > 1))
    if not mixed.is_empty():
        in_mixed = labels.join(mixed, on="label", how="semi")["node"].implode()
        pairs = pairs.filter((pl.col("rule") == "same_nhs_number") | ~pl.col("a").is_in(in_mixed))
        labels = connected_components(births["record_id"], pairs)
    labels = labels.rename({"node": "record_id", "label": "person_id"})
    rule_of = pl.concat([pairs.select(pl.col("b").alias("record_id"), "rule"),
                         pairs.select(pl.col("a").alias("record_id"), "rule")]).unique("record_id", keep="first")
    return (
        births.join(labels, on="record_id", how="left")
        .with_columns(pl.col("person_id").fill_null(pl.col("record_id")))
        .with_columns((pl.col("person_id") == pl.col("record_id")).alias("is_kept"))
        .join(rule_of, on="record_id", how="left")
        .with_columns(pl.when(pl.col("is_kept")).then(None).otherwise(pl.col("rule")).alias("duplicate_rule"))
        .drop("rule")
    )


def year_window(birth_year: int, edge_days: int = 1) -> tuple[dt.date, dt.date]:
    """The dates of birth a record may carry and still belong to a child born in `birth_year`."""
    edge = dt.timedelta(days=edge_days)
    return dt.date(birth_year, 1, 1) - edge, dt.date(birth_year, 12, 31) + edge


def candidate_records(ids: pl.DataFrame, birth_year: int, edge_days: int = 1) -> pl.DataFrame:
    """Records whose date of birth could belong to a child born in `birth_year` (see module doc)."""
    first, last = year_window(birth_year, edge_days)
    return ids.filter(pl.col("dob").is_between(first, last))


def spine_for_year(spine: pl.DataFrame, birth_year: int) -> pl.DataFrame:
    """Every registration of the persons whose own registration is dated in `birth_year`."""
    persons = spine.filter(pl.col("is_kept") & (pl.col("dob").dt.year() == birth_year)).select("person_id")
    return spine.join(persons, on="person_id", how="semi")


ALIAS_COLUMNS = ("forename", "surname", "postcode")
ALIAS_RULE = "alias"


def enrich_spine(spine: pl.DataFrame, observed: pl.DataFrame) -> pl.DataFrame:
    """The spine plus alias rows: the names and postcodes other datasets have seen for a person.

    A child moves, takes a step-parent's surname, goes by "Ollie" at school: the birth registration
    knows none of it, but a record already linked with confidence (an NHS number, a UPN, a strong model
    score) does. Each distinct (forename, surname, postcode) observed for a person becomes another row
    of that person on the spine, with the registration's NHS number, date of birth and sex, and the
    registration's own names where the observing dataset has none (HES, MHSDS). Links to an alias lift
    to its person like links to any registration.

    observed: person_id plus any of forename, surname, postcode (null = not observed).
    """
    if observed.is_empty():
        return spine
    kept = spine.filter(pl.col("is_kept")).drop(*ALIAS_COLUMNS, "postcode_district", "record_id", "is_kept",
                                                "duplicate_rule")
    own = spine.filter(pl.col("is_kept")).select("person_id", *[pl.col(c).alias(f"__{c}") for c in ALIAS_COLUMNS])
    obs = (
        observed.select("person_id", *[pl.col(c) if c in observed.columns else pl.lit(None, pl.String).alias(c)
                                       for c in ALIAS_COLUMNS])
        .join(own, on="person_id")
        .select("person_id", *[pl.coalesce(c, f"__{c}").alias(c) for c in ALIAS_COLUMNS])
        .unique()
        .join(spine.select("person_id", *ALIAS_COLUMNS), on=["person_id", *ALIAS_COLUMNS], how="anti", nulls_equal=True)
    )
    aliases = (
        obs.join(kept, on="person_id")
        .with_columns(
            (pl.lit("alias:") + pl.struct("person_id", *ALIAS_COLUMNS).hash(seed=0).cast(pl.String)).alias("record_id"),
            pl.col("postcode").str.split(" ").list.first().alias("postcode_district"),
            pl.lit(False).alias("is_kept"),
            pl.lit(ALIAS_RULE).alias("duplicate_rule"),
        )
        .select(spine.columns)
    )
    return pl.concat([spine, aliases])
