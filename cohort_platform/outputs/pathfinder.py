"""Pathfinder outputs, as in the London linked local data project: questions a local authority asks
that no single service's data can answer. Built from the research tables only, Dagster-free.

1. `lac_mental_health`: looked-after children in contact with NHS mental health services, per local
   authority and calendar year, as counts and rates, beside England (looked-after children, and all
   cohort children as the reference).
2. Cross-sector questions, per local authority beside England:
   - `care_to_first_referral`: of children entering care for the first time, how many were referred
     to mental health services within `follow_up_months`, and the median time to that referral;
   - `ks2_looked_after_vs_peers`: KS2 attainment (expected standard in reading and maths) of children
     ever looked after before their tests, against their peers at schools in the same authority.

Definitions (the research tables place events by year and month, so periods are whole months):

- looked after in a year: an episode of care overlapping the year; by a local authority: that LA's
  episode. A child looked after by two LAs in a year counts in each, and once for England.
- in contact with mental health services in a year: a referral open at any time in the year (from
  its referral month to its discharge month, or on while open).
- time to first referral: months from the month of first entry to care to the first referral in or
  after that month (0 = the same month). Days cannot be computed: the research tables hold no full
  dates, by design.

Each aggregate has explicit `numerator` and `denominator` columns (counts of children) and the rate
computed from them; magnitudes (medians, means) come with the count they rest on. The matching
`*_records` functions give one row per contributing child, the form `outputs.disclosure` checks
(`check_frequency_table(records, rows, column)`, `check_magnitude_table(...)`): the aggregates are
for reading, the checked tables for release. `chart_png` draws a released frame (suppressed cells,
null, are drawn as gaps).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import polars as pl

ENGLAND = "England"
LA = "local_authority"
COUNTRY = "england"
LOOKED_AFTER = "looked_after"
ALL_CHILDREN = "all_children"
PEERS = "peers"
MAX_AGE = 17
KS2_TEST_MONTH = 5
"""KS2 tests are sat in May: care that started by then counts as before the tests."""
EXPECTED_STANDARD = 100
OPEN_END = 10_000 * 12
"""Month key of an open episode or referral: after any real month."""

AGGREGATE_COLUMNS = ("area_type", "area", "group", "numerator", "denominator", "rate_percent", "england_rate_percent")


def month_key(year: str, month: str) -> pl.Expr:
    """Months since year 0: consecutive months differ by 1."""
    return pl.col(year).cast(pl.Int32) * 12 + pl.col(month).cast(pl.Int32) - 1


def _rate(numerator: str = "numerator", denominator: str = "denominator") -> pl.Expr:
    return pl.when(pl.col(denominator) > 0).then(100.0 * pl.col(numerator) / pl.col(denominator)).alias("rate_percent")


def _years_spanned(frame: pl.DataFrame, start: pl.Expr, end: pl.Expr, years: Sequence[int]) -> pl.DataFrame:
    """`frame` with one row per calendar year in `years` that the month span [start, end] touches."""
    first, last = min(years), max(years)
    spanned = frame.with_columns(
        pl.int_ranges(pl.max_horizontal(start.floordiv(12), pl.lit(first)),
                      pl.min_horizontal(end.floordiv(12), pl.lit(last)) + 1, dtype=pl.Int32).alias("year")
    ).explode("year").filter(pl.col("year").is_not_null())
    return spanned.filter(pl.col("year").is_in(list(years)))


def _default_years(care_episodes: pl.DataFrame) -> list[int]:
    starts = care_episodes["start_year"].drop_nulls()
    ends = care_episodes["end_year"].drop_nulls()
    if starts.is_empty():
        return []
    return list(range(int(starts.min()), int(max(starts.max(), ends.max() if not ends.is_empty() else starts.max())) + 1))


def looked_after_years(care_episodes: pl.DataFrame, years: Sequence[int]) -> pl.DataFrame:
    """research_id, la_code, year: looked after by that LA at some time in that year (one row each)."""
    ep = care_episodes.with_columns(
        month_key("start_year", "start_month").alias("_s"),
        pl.when(pl.col("end_year").is_null()).then(pl.lit(OPEN_END))
        .otherwise(month_key("end_year", "end_month")).alias("_e"),
    )
    return _years_spanned(ep, pl.col("_s"), pl.col("_e"), years).select("research_id", "la_code", "year").unique()


def mental_health_contact_years(referrals: pl.DataFrame, years: Sequence[int]) -> pl.DataFrame:
    """research_id, year: a referral open at some time in that year."""
    ref = referrals.with_columns(
        month_key("referral_year", "referral_month").alias("_s"),
        pl.when(pl.col("discharge_year").is_null()).then(pl.lit(OPEN_END))
        .otherwise(month_key("discharge_year", "discharge_month")).alias("_e"),
    )
    return _years_spanned(ref, pl.col("_s"), pl.col("_e"), years).select("research_id", "year").unique()


# ------------------------------------------------------------------------------------------ output 1


def lac_mental_health_records(children: pl.DataFrame, care_episodes: pl.DataFrame,
                              mental_health_referrals: pl.DataFrame, years: Sequence[int] | None = None) -> pl.DataFrame:
    """One row per looked-after child, LA and year: research_id, la_code, year, mh_contact (Boolean).
    Only children of the `children` table count (the cohort)."""
    years = list(years) if years is not None else _default_years(care_episodes)
    cohort = children.select("research_id")
    if not years:
        return pl.DataFrame(schema={"research_id": pl.String, "la_code": pl.String, "year": pl.Int32,
                                    "mh_contact": pl.Boolean})
    lac = looked_after_years(care_episodes.join(cohort, on="research_id", how="semi"), years)
    contact = mental_health_contact_years(mental_health_referrals, years).with_columns(pl.lit(True).alias("mh_contact"))
    return (
        lac.join(contact, on=["research_id", "year"], how="left")
        .with_columns(pl.col("mh_contact").fill_null(False))
        .sort("year", "la_code", "research_id")
    )


def _all_children_years(children: pl.DataFrame, years: Sequence[int]) -> pl.DataFrame:
    """research_id, year: cohort children alive and aged 0-17 at some time in the year."""
    frame = children.select("research_id", "birth_year", "death_year").with_columns(
        pl.int_ranges(pl.col("birth_year"), pl.col("birth_year") + MAX_AGE + 1, dtype=pl.Int32).alias("year")
    ).explode("year")
    return frame.filter(
        pl.col("year").is_in(list(years)) & (pl.col("death_year").is_null() | (pl.col("year") <= pl.col("death_year")))
    ).select("research_id", "year")


def _summary(frame: pl.DataFrame, by: list[str], numerator: pl.Expr, area_type: str, area: pl.Expr,
             group: pl.Expr, extra: Sequence[pl.Expr] = ()) -> pl.DataFrame:
    """One row per `by` group (one row in all when `by` is empty): `numerator`, children (denominator),
    any `extra` aggregates, labelled with area_type, area and group (expressions over `by`)."""
    aggs = [numerator.alias("numerator"), pl.len().alias("denominator"), *extra]
    out = frame.group_by(by).agg(aggs) if by else frame.select(aggs)
    return out.select(
        *(["year"] if "year" in by else []), pl.lit(area_type).alias("area_type"), area.alias("area"),
        group.alias("group"), "numerator", "denominator", *(e.meta.output_name() for e in extra),
    )


def lac_mental_health(children: pl.DataFrame, care_episodes: pl.DataFrame, mental_health_referrals: pl.DataFrame,
                      years: Sequence[int] | None = None) -> pl.DataFrame:
    """Per year: each LA's looked-after children (denominator) and those in contact with mental health
    services (numerator), the same for England, and all cohort children in England for reference.

    Columns: year, area_type (local_authority, england), area (LA code or England), group
    (looked_after, all_children), numerator, denominator, rate_percent, england_rate_percent (the
    England rate of the same group and year, beside each row)."""
    years = list(years) if years is not None else _default_years(care_episodes)
    records = lac_mental_health_records(children, care_episodes, mental_health_referrals, years)
    per_child = records.group_by("year", "research_id").agg(pl.col("mh_contact").any())  # once for England
    if years:
        contact = mental_health_contact_years(mental_health_referrals, years).with_columns(
            pl.lit(True).alias("mh_contact"))
        everyone = (_all_children_years(children, years).join(contact, on=["research_id", "year"], how="left")
                    .with_columns(pl.col("mh_contact").fill_null(False)))
    else:
        everyone = per_child.clear()
    contacts = pl.col("mh_contact").sum()
    parts = [
        _summary(records, ["year", "la_code"], contacts, LA, pl.col("la_code"), pl.lit(LOOKED_AFTER)),
        _summary(per_child, ["year"], contacts, COUNTRY, pl.lit(ENGLAND), pl.lit(LOOKED_AFTER)),
        _summary(everyone, ["year"], contacts, COUNTRY, pl.lit(ENGLAND), pl.lit(ALL_CHILDREN)),
    ]
    return _with_rates(pl.concat(parts, how="vertical_relaxed"), keys=("year", "group"),
                       order=("year", "group", "area_type", "area"))


def _with_rates(frame: pl.DataFrame, keys: tuple[str, ...], order: tuple[str, ...]) -> pl.DataFrame:
    """Cast counts, add rate_percent and, beside each row, the England rate of the same `keys`."""
    frame = frame.with_columns(pl.col("numerator").cast(pl.Int64), pl.col("denominator").cast(pl.Int64))
    frame = frame.with_columns(_rate())
    england = frame.filter(pl.col("area_type") == COUNTRY).select(
        *keys, pl.col("rate_percent").alias("england_rate_percent"))
    return frame.join(england, on=list(keys), how="left", nulls_equal=True).sort(list(order))


# ------------------------------------------------------------------------------------------ output 2a


def care_entries(care_episodes: pl.DataFrame) -> pl.DataFrame:
    """Per child: the first episode of care (earliest month; then lowest LA code): research_id, la_code,
    entry_year, entry_month, entry_key (month key)."""
    return (
        care_episodes.with_columns(month_key("start_year", "start_month").alias("entry_key"))
        .sort("research_id", "entry_key", "la_code", nulls_last=True)
        .unique("research_id", keep="first", maintain_order=True)
        .select("research_id", "la_code", pl.col("start_year").alias("entry_year"),
                pl.col("start_month").alias("entry_month"), "entry_key")
    )


def care_to_first_referral_records(children: pl.DataFrame, care_episodes: pl.DataFrame,
                                   mental_health_referrals: pl.DataFrame, *, follow_up_months: int = 24,
                                   last_year_month: tuple[int, int] | None = None) -> pl.DataFrame:
    """One row per cohort child who entered care: research_id, la_code (of the first episode), entry_year,
    months_to_first_referral (first referral in or after the entry month; null if none within
    `follow_up_months`), referred_within (Boolean). With `last_year_month` (the data cut-off), children
    whose follow-up would run past it are left out, so every child has the same chance to be referred."""
    entries = care_entries(care_episodes.join(children.select("research_id"), on="research_id", how="semi"))
    if last_year_month is not None:
        last = last_year_month[0] * 12 + last_year_month[1] - 1
        entries = entries.filter(pl.col("entry_key") + follow_up_months <= last)
    referrals = mental_health_referrals.select("research_id",
                                               month_key("referral_year", "referral_month").alias("ref_key"))
    first = (
        entries.join(referrals, on="research_id", how="inner")
        .filter(pl.col("ref_key") >= pl.col("entry_key"))
        .group_by("research_id").agg((pl.col("ref_key") - pl.col("entry_key")).min().alias("months"))
    )
    return (
        entries.join(first, on="research_id", how="left")
        .with_columns(pl.when(pl.col("months") <= follow_up_months).then(pl.col("months")).cast(pl.Int32)
                      .alias("months_to_first_referral"))
        .with_columns(pl.col("months_to_first_referral").is_not_null().alias("referred_within"))
        .select("research_id", "la_code", "entry_year", "months_to_first_referral", "referred_within")
        .sort("la_code", "research_id")
    )


def care_to_first_referral(children: pl.DataFrame, care_episodes: pl.DataFrame, mental_health_referrals: pl.DataFrame,
                           *, follow_up_months: int = 24, last_year_month: tuple[int, int] | None = None) -> pl.DataFrame:
    """Per LA and England: children entering care (denominator), referred within `follow_up_months`
    (numerator), rate, and the median months to referral among those referred (`median_months`, resting
    on `numerator` children)."""
    records = care_to_first_referral_records(children, care_episodes, mental_health_referrals,
                                             follow_up_months=follow_up_months, last_year_month=last_year_month)
    referred = pl.col("referred_within").sum()
    median = [pl.col("months_to_first_referral").median().alias("median_months")]
    per_la = _summary(records, ["la_code"], referred, LA, pl.col("la_code"), pl.lit(LOOKED_AFTER), median)
    england = _summary(records, [], referred, COUNTRY, pl.lit(ENGLAND), pl.lit(LOOKED_AFTER), median)
    out = _with_rates(pl.concat([per_la, england], how="vertical_relaxed"), keys=("group",), order=("area_type", "area"))
    return out.with_columns(pl.lit(follow_up_months, pl.Int32).alias("follow_up_months"))


# ------------------------------------------------------------------------------------------ output 2b


def ks2_records(children: pl.DataFrame, care_episodes: pl.DataFrame, ks2: pl.DataFrame,
                school_census_years: pl.DataFrame) -> pl.DataFrame:
    """One row per cohort child with both KS2 scores: research_id, la_code (of the school in the KS2
    year, from the school census; null if none), group (looked_after: an episode of care began by May
    of the test year; peers: otherwise), expected_standard (both scores >= 100), ks2_read_scaled,
    ks2_mat_scaled. A child with two KS2 records keeps the earliest."""
    results = (
        ks2.join(children.select("research_id"), on="research_id", how="semi")
        .filter(pl.col("ks2_read_scaled").is_not_null() & pl.col("ks2_mat_scaled").is_not_null())
        .sort("research_id", "academic_year").unique("research_id", keep="first", maintain_order=True)
        .with_columns(((pl.col("academic_year").cast(pl.Int32) + 1) * 12 + KS2_TEST_MONTH - 1).alias("test_key"))
    )
    first_care = care_entries(care_episodes).select("research_id", "entry_key")
    school_la = (
        school_census_years.sort("research_id", "academic_year", "la_code", nulls_last=True)
        .unique(["research_id", "academic_year"], keep="first", maintain_order=True)
        .select("research_id", "academic_year", "la_code")
    )
    return (
        results.join(first_care, on="research_id", how="left")
        .join(school_la, on=["research_id", "academic_year"], how="left")
        .with_columns(
            pl.when(pl.col("entry_key") <= pl.col("test_key")).then(pl.lit(LOOKED_AFTER)).otherwise(pl.lit(PEERS))
            .alias("group"),
            ((pl.col("ks2_read_scaled") >= EXPECTED_STANDARD) & (pl.col("ks2_mat_scaled") >= EXPECTED_STANDARD))
            .alias("expected_standard"),
        )
        .select("research_id", "la_code", "group", "expected_standard", "ks2_read_scaled", "ks2_mat_scaled")
        .sort("la_code", "group", "research_id", nulls_last=True)
    )


def ks2_looked_after_vs_peers(children: pl.DataFrame, care_episodes: pl.DataFrame, ks2: pl.DataFrame,
                              school_census_years: pl.DataFrame) -> pl.DataFrame:
    """Per LA (of the school) and England, for looked-after children and their peers: pupils with both
    KS2 scores (denominator), reaching the expected standard in both (numerator), rate, and mean
    scaled scores (resting on `denominator` pupils). Pupils without a school census record in the
    KS2 year count for England only."""
    records = ks2_records(children, care_episodes, ks2, school_census_years)
    reached = pl.col("expected_standard").sum()
    means = [pl.col("ks2_read_scaled").mean().alias("mean_read_scaled"),
             pl.col("ks2_mat_scaled").mean().alias("mean_mat_scaled")]
    per_la = _summary(records.filter(pl.col("la_code").is_not_null()), ["la_code", "group"], reached, LA,
                      pl.col("la_code"), pl.col("group"), means)
    england = _summary(records, ["group"], reached, COUNTRY, pl.lit(ENGLAND), pl.col("group"), means)
    return _with_rates(pl.concat([per_la, england], how="vertical_relaxed"), keys=("group",),
                       order=("area_type", "area", "group"))


# ------------------------------------------------------------------------------------------ chart


def chart_png(frame: pl.DataFrame, value: str = "rate_percent", *, title: str | None = None,
              year: int | None = None) -> bytes:
    """A bar chart of `value` per local authority (grouped by `group` when there are several), with
    the England value of each group as a dashed line, as PNG bytes. Frames with a `year` column are
    drawn for `year` (default: the latest). Null values (suppressed cells) are gaps marked "s".
    Uses the Agg canvas through `matplotlib.figure.Figure`: no pyplot state, safe in any process."""
    from matplotlib.figure import Figure  # noqa: PLC0415  (imported late: matplotlib takes a moment)

    if value not in frame.columns:
        raise ValueError(f"no column {value!r} to chart; columns: {', '.join(frame.columns)}")
    if "year" in frame.columns and frame.height:
        year = year if year is not None else int(frame["year"].max())
        frame = frame.filter(pl.col("year") == year)
    groups = frame["group"].unique(maintain_order=True).to_list() if "group" in frame.columns else [None]
    local = frame.filter(pl.col("area_type") == LA)
    las = local["area"].unique().sort().to_list()
    bar_groups = [g for g in groups if g is None or g in set(local["group"].to_list())]  # England-only: a line
    fig = Figure(figsize=(max(6.0, 0.5 * len(las) * max(1, len(bar_groups)) + 2), 4.0), dpi=100)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(bar_groups))
    colours = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")
    for g, group in enumerate(groups):
        rows = frame if group is None else frame.filter(pl.col("group") == group)
        colour = colours[g % len(colours)]
        label = value if group is None else str(group)
        if group in bar_groups:
            slot = bar_groups.index(group)
            by_area = dict(zip(rows["area"].to_list(), rows[value].to_list()))
            for i, la in enumerate(las):
                x = i + (slot - (len(bar_groups) - 1) / 2) * width
                if la not in by_area:
                    continue
                if by_area[la] is None:  # suppressed
                    ax.text(x, 0, "s", ha="center", va="bottom", fontsize=8)
                else:
                    ax.bar(x, by_area[la], width=width, color=colour, label=label)
                    label = "_nolegend_"
        england = rows.filter(pl.col("area") == ENGLAND)[value].to_list()
        if england and england[0] is not None:
            ax.axhline(england[0], color=colour, linestyle="--", linewidth=1,
                       label=f"England{'' if group is None else f' ({group})'}")
    ax.set_xticks(range(len(las)), las, rotation=90 if len(las) > 12 else 0)
    ax.set_xlim(-0.6, max(len(las), 1) - 0.4)
    ax.set_xlabel("local authority")
    ax.set_ylabel(value.replace("_", " "))
    ax.set_title(title or (f"{value.replace('_', ' ')}" + (f", {year}" if year is not None else "")))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
