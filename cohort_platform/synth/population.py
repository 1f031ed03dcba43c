"""The true population: who exists, where they live, where they go to school, who is in care, who dies.

Nothing here is a provider's view: extracts (`extract_*.py`) read this truth and add each provider's
imperfections (`noise.py`). Everything is vectorised over people with numpy; the only Python loops
run over birth years, over move numbers (a dozen at most) or over fixed code lists.

Model, in order:

1. Maternities: `children_per_year` children each birth year, grouped into maternities (twins 1.5%,
   triplets 0.02% of maternities).
2. Mothers: each year a share of maternities (rising to ~42% once earlier years exist) go to women who
   already had a child in the window at least ~10 months earlier and are still under 46; the rest to
   new mothers aged 16-45. So families hold several children across the birth years.
3. Families (one per mother): a partner for ~78% (the father, a person only used by the census and
   the survey), an initial postcode weighted to areas with more births, a true ethnicity drawn from the
   area's diversity, names from that ethnicity's naming tradition, surnames that change on marriage
   or (for a few families) for the children.
4. Residence: each family's postcode history from the mother's 16th birthday (or three years before
   the first birth year) to the cut-off, with moves at 7-18% a year (more in deprived areas), three
   in four within the LA. Children live with their mother.
5. Deaths: infant mortality ~3.5/1000 (higher for multiples and preterm births), then ~0.12/1000 a
   year; mothers and fathers rarely.
6. School: reception the September after the 4th birthday, through year 11; ~93% in state schools;
   the school is one of the three nearest to the home postcode (a fixed choice per child), so it
   changes when the family moves. UPNs are allocated at the first state school.
7. Care: ~1% of children (more in deprived areas) have 1-3 periods of care, each split into episodes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy.spatial import cKDTree

from cohort_platform.contract.identifiers import UPN_ALPHABET
from cohort_platform.synth import vocab
from cohort_platform.synth.days import NEVER, DAYS_PER_YEAR, academic_cohort, add_years, day, days_from_ymd, ymd
from cohort_platform.synth.geography import Geography

RATES = {
    "twins": 0.015, "triplets": 0.0002,
    "repeat_mother_step": 0.16, "repeat_mother_max": 0.42,
    "partner": 0.78, "married_at_first_birth": 0.5, "marries_later": 0.25, "joint_registration": 0.75,
    "child_surname_change": 0.03, "partner_same_ethnicity": 0.85, "nickname_user": 0.3,
    "move_rate_least_deprived": 0.07, "move_rate_most_deprived": 0.18, "move_within_la": 0.75,
    "infant_death": 0.0025, "child_death_per_year": 0.00012, "mother_death_per_year": 0.0003,
    "father_death_per_year": 0.0006,
    "private_primary_min": 0.025, "private_primary_step": 0.009, "stay_private": 0.85, "move_private": 0.025,
    "care_base": 0.004, "care_step": 0.0015,
}


# ------------------------------------------------------------------------------------- helpers
def component_rng(seed: int, name: str) -> np.random.Generator:
    """An independent generator per model component, so adding one does not shift the others."""
    return np.random.default_rng([seed, sum(ord(c) * 131**i for i, c in enumerate(name)) % (2**32)])


def labels(choices, index: np.ndarray, name: str = "") -> pl.Series:
    """Text by index into a short list of choices (gathering is far cheaper than numpy strings)."""
    return pl.Series(name, list(choices), dtype=pl.Utf8).gather(pl.Series(np.asarray(index, dtype=np.int64)))


def weighted_pick(rng: np.random.Generator, groups: np.ndarray, table: list[list[str]],
                  zipf: float = 0.7) -> pl.Series:
    """For each row, a word from `table[group]`, earlier words more likely (weight 1/(rank+3)^zipf)."""
    words, keys = [], []
    for g, options in enumerate(table):
        w = 1 / (np.arange(len(options)) + 3.0) ** zipf
        cdf = np.cumsum(w) / w.sum()
        keys.append(g + np.concatenate([[0.0], cdf[:-1]]))
        words.extend(options)
    keys = np.concatenate(keys)
    u = np.minimum(rng.random(len(groups)), 1 - 1e-12)
    idx = np.searchsorted(keys, np.asarray(groups) + u, side="right") - 1
    return labels(words, idx)


def categorical(rng: np.random.Generator, n: int, probs) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, len(p) - 1)


def valid_nhs_numbers(rng: np.random.Generator, n: int) -> pl.Series:
    """`n` unique, valid 10-digit NHS numbers (Modulus 11), as text, in random order.

    Bodies are drawn one per stride of the issued ranges (400-499 and 600-708 million), so they are
    distinct by construction (no sort to de-duplicate); the ~1 in 11 without a check digit are dropped."""
    span = 209_000_000
    k = int(n * 1.15) + 100
    stride = span // k
    virtual = np.arange(k, dtype=np.int64) * stride + rng.integers(0, stride, k)
    body = np.where(virtual < 100_000_000, 400_000_000 + virtual, 500_000_000 + virtual)
    total = np.zeros(k, dtype=np.int64)
    rest = body.copy()
    for weight in range(2, 11):  # the last digit of the body carries weight 2, the first weight 10
        total += (rest % 10) * weight
        rest //= 10
    check = 11 - total % 11
    check = np.where(check == 11, 0, check)
    ok = np.flatnonzero(check != 10)
    if len(ok) < n:
        raise AssertionError("not enough NHS numbers drawn")
    pick = rng.permutation(ok)[:n]
    return pl.Series("nhs_number", body[pick] * 10 + check[pick]).cast(pl.Utf8).str.zfill(10)


def upn_check_letters(body_digits: np.ndarray) -> np.ndarray:
    """Check letters for (n, 12) arrays of UPN body digits (all-digit bodies)."""
    total = (body_digits * np.arange(2, 14)).sum(axis=1) % 23
    return np.array(list(UPN_ALPHABET))[total]


# --------------------------------------------------------------------------------- residence
@dataclass(frozen=True)
class Residence:
    """Postcode histories of families, as segments sorted by (family, start); a segment ends the day
    before the next one starts; the last is open."""

    family: np.ndarray  # int32 family index (= mother index)
    start: np.ndarray  # int32 days
    postcode: np.ndarray  # int32 index into geography.postcodes

    @property
    def end(self) -> np.ndarray:
        same = np.append(self.family[1:] == self.family[:-1], False)
        nxt = np.append(self.start[1:], NEVER)
        return np.where(same, nxt - 1, NEVER).astype(np.int32)

    def _keys(self) -> np.ndarray:
        return self.family.astype(np.int64) * 100_000 + self.start

    def segment_at(self, family: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The segment index holding (family, day), or -1 before the family's history starts."""
        keys = self._keys()
        q = np.asarray(family).astype(np.int64) * 100_000 + np.asarray(days)
        seg = np.searchsorted(keys, q, side="right") - 1
        ok = (seg >= 0) & (self.family[np.maximum(seg, 0)] == family)
        return np.where(ok, seg, -1)

    def postcode_at(self, family: np.ndarray, days: np.ndarray) -> np.ndarray:
        seg = self.segment_at(family, days)
        return np.where(seg >= 0, self.postcode[np.maximum(seg, 0)], -1)

    def previous_postcode(self, seg: np.ndarray, days: np.ndarray, within_days: int = 365) -> np.ndarray:
        """The postcode before the move into `seg`, when that move was within `within_days` of `days`
        (what a provider whose records lag a move would still hold); -1 otherwise."""
        seg = np.asarray(seg)
        prev = np.maximum(seg - 1, 0)
        ok = (seg > 0) & (self.family[prev] == self.family[np.maximum(seg, 0)]) \
            & (np.asarray(days) - self.start[np.maximum(seg, 0)] <= within_days)
        return np.where(ok, self.postcode[prev], -1)


def build_residence(rng: np.random.Generator, geo: Geography, start: np.ndarray, initial_pc: np.ndarray,
                    cutoff_day: int) -> Residence:
    """Each family's moves from `start` to the cut-off; destinations within the LA three times in four."""
    n = len(start)
    la_of_pc = geo.postcode_la
    lsoa_of_pc = geo.postcode_lsoa
    imd = geo.lsoas["imd_decile"].to_numpy()[lsoa_of_pc[initial_pc]]
    lo, hi = RATES["move_rate_least_deprived"], RATES["move_rate_most_deprived"]
    rate = hi - (hi - lo) * (imd - 1) / 9
    years = np.maximum(cutoff_day - start, 0) / DAYS_PER_YEAR
    n_moves = np.minimum(rng.poisson(rate * years), 12)
    la_first = np.searchsorted(la_of_pc, np.arange(geo.las.height))
    la_count = np.bincount(la_of_pc, minlength=geo.las.height)
    weights = postcode_birth_weights(geo)
    cdf = np.cumsum(weights) / weights.sum()

    fam = np.repeat(np.arange(n, dtype=np.int32), n_moves)
    when = start[fam] + np.floor(rng.random(len(fam)) * np.maximum(cutoff_day - start[fam], 1)).astype(np.int32)
    order = np.lexsort((when, fam))
    fam, when = fam[order], when[order]
    k = np.arange(len(fam)) - np.repeat(np.cumsum(n_moves) - n_moves, n_moves)
    dest = np.empty(len(fam), dtype=np.int32)
    current = initial_pc.astype(np.int32).copy()
    for move in range(int(n_moves.max(initial=0))):
        rows = np.flatnonzero(k == move)
        f = fam[rows]
        here = current[f]
        within = rng.random(len(rows)) < RATES["move_within_la"]
        la = la_of_pc[here]
        local = la_first[la] + np.floor(rng.random(len(rows)) * la_count[la]).astype(np.int32)
        anywhere = np.searchsorted(cdf, rng.random(len(rows)), side="right").clip(0, len(cdf) - 1)
        to = np.where(within, local, anywhere).astype(np.int32)
        to = np.where(to == here, (to + 1) % len(la_of_pc), to)  # a move goes somewhere else
        dest[rows] = to
        current[f] = to
    family = np.concatenate([np.arange(n, dtype=np.int32), fam])
    starts = np.concatenate([start.astype(np.int32), when]).astype(np.int32)
    postcode = np.concatenate([initial_pc.astype(np.int32), dest])
    order = np.lexsort((np.concatenate([np.zeros(n), np.ones(len(fam))]), starts, family))
    family, starts, postcode = family[order], starts[order], postcode[order]
    # two moves on one day: keep the later destination only
    keep = np.append((family[1:] != family[:-1]) | (starts[1:] != starts[:-1]), True)
    return Residence(family[keep], starts[keep], postcode[keep])


def postcode_birth_weights(geo: Geography) -> np.ndarray:
    lsoa = geo.postcode_lsoa
    per_lsoa = np.bincount(lsoa, minlength=geo.lsoas.height)
    return geo.lsoas["birth_weight"].to_numpy()[lsoa] / per_lsoa[lsoa]


# ------------------------------------------------------------------------------- population
@dataclass
class Population:
    """The truth. `persons` has one row per person (children, then mothers, then fathers); `families`
    one row per mother; `maternities` one per delivery; `schooling` one per child and spring census in
    a state school; `care` one per episode of care. Day columns are int32 days since 1970 (NEVER = open)."""

    geo: Geography
    cutoff: dt.date
    birth_years: list[int]
    persons: pl.DataFrame
    families: pl.DataFrame
    maternities: pl.DataFrame
    residence: Residence
    schooling: pl.DataFrame
    care: pl.DataFrame
    extra: dict = field(default_factory=dict)

    @property
    def cutoff_day(self) -> int:
        return day(self.cutoff)

    def children(self) -> pl.DataFrame:
        return self.persons.filter(pl.col("role") == "child")

    def role_rows(self, role: str) -> pl.DataFrame:
        return self.persons.filter(pl.col("role") == role)


def _maternities(rng: np.random.Generator, years: list[int], n_children: int) -> dict[str, np.ndarray]:
    """Per year, maternities whose babies add up to exactly `n_children`."""
    year_l, dob_l, mult_l = [], [], []
    p = [1 - RATES["twins"] - RATES["triplets"], RATES["twins"], RATES["triplets"]]
    for y in years:
        mult = 1 + categorical(rng, n_children, p)
        mult = mult[np.cumsum(mult) <= n_children]
        mult = np.concatenate([mult, np.ones(n_children - mult.sum(), dtype=mult.dtype)])
        mult = rng.permutation(mult)
        first, last = day(dt.date(y, 1, 1)), day(dt.date(y, 12, 31))
        dob = rng.integers(first, last + 1, len(mult)).astype(np.int32)
        year_l.append(np.full(len(mult), y, dtype=np.int32))
        dob_l.append(dob)
        mult_l.append(mult.astype(np.int8))
    dob = np.concatenate(dob_l)
    order = np.argsort(dob, kind="stable")
    return {"year": np.concatenate(year_l)[order], "dob": dob[order], "mult": np.concatenate(mult_l)[order]}


def _mother_ages(rng: np.random.Generator, n: int) -> np.ndarray:
    """Age at a first maternity in the window, in days: ~N(29.5, 5.8) years, within 16..45."""
    age = rng.normal(29.5, 5.8, n)
    for _ in range(3):
        bad = (age < 16.05) | (age > 45.9)
        age[bad] = rng.normal(29.5, 5.8, bad.sum())
    return (np.clip(age, 16.05, 45.9) * DAYS_PER_YEAR).astype(np.int32)


def _assign_mothers(rng: np.random.Generator, mat: dict[str, np.ndarray], years: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(mother index of each maternity, each mother's dob)."""
    mother = np.full(len(mat["dob"]), -1, dtype=np.int64)
    m_dob = np.empty(0, dtype=np.int32)
    m_last = np.empty(0, dtype=np.int32)
    for i, y in enumerate(years):
        rows = np.flatnonzero(mat["year"] == y)
        dob = mat["dob"][rows]
        share = min(RATES["repeat_mother_max"], RATES["repeat_mother_step"] * i)
        target = int(round(share * len(rows)))
        y_start = day(dt.date(y, 1, 1))
        gap_years = (y_start - m_last) / DAYS_PER_YEAR
        age = (y_start - m_dob) / DAYS_PER_YEAR
        w = np.exp(-((gap_years - 2.5) ** 2) / (2 * 1.4**2)) * (age < 44.5) * (gap_years > 0)
        target = min(target, int((w > 0).sum()))
        assigned = np.zeros(len(rows), dtype=bool)
        if target > 0:
            cands = rng.choice(len(m_dob), target, replace=False, p=w / w.sum())
            slots = rng.choice(len(rows), target, replace=False)
            ok = (dob[slots] - m_last[cands] >= 300) & (dob[slots] - m_dob[cands] < 46 * DAYS_PER_YEAR - 1)
            mother[rows[slots[ok]]] = cands[ok]
            m_last[cands[ok]] = dob[slots[ok]]
            assigned[slots[ok]] = True
        new = np.flatnonzero(~assigned)
        new_dob = dob[new] - _mother_ages(rng, len(new))
        mother[rows[new]] = len(m_dob) + np.arange(len(new))
        m_dob = np.concatenate([m_dob, new_dob])
        m_last = np.concatenate([m_last, dob[new]])
    return mother, m_dob


def _ethnicity(rng: np.random.Generator, diversity: np.ndarray) -> np.ndarray:
    """Index into ETHNICITIES, from the area's diversity (0 most diverse .. 1 least)."""
    low, high = np.array(vocab.ETHNICITY_SHARE_LOW), np.array(vocab.ETHNICITY_SHARE_HIGH)
    classes = np.round(diversity * 9).astype(int)
    table = np.cumsum([c / 9 * low + (1 - c / 9) * high for c in range(10)], axis=1)
    table /= table[:, -1:]
    u = rng.random(len(diversity))
    return (u[:, None] > table[classes]).sum(axis=1).clip(0, len(vocab.ETHNICITIES) - 1)


def _child_ethnicity(mother_eth: np.ndarray, partner_eth: np.ndarray) -> np.ndarray:
    """Index into ETHNICITIES of the parents' children: the shared group, the mixed group of a white
    and a minority parent, or "other mixed"."""
    eth = list(vocab.ETHNICITIES)
    white = np.isin(np.arange(len(eth)), [eth.index(e) for e in ("WBRI", "WIRI", "WOTH")])
    mixed = np.array([eth.index(vocab.MIXED_WITH_WHITE.get(e, "MOTH")) for e in eth])
    other_mixed = eth.index("MOTH")
    m_white, p_white = white[mother_eth], white[partner_eth]
    return np.where(mother_eth == partner_eth, mother_eth,
                    np.where(m_white & p_white, mother_eth,
                             np.where(m_white, mixed[partner_eth],
                                      np.where(p_white, mixed[mother_eth], other_mixed))))


def _name_group(eth_index: np.ndarray) -> np.ndarray:
    lut = np.array([vocab.NAME_GROUPS.index(vocab.ETHNICITY_NAME_GROUP[e]) for e in vocab.ETHNICITIES])
    return lut[eth_index]


def _forename_table(sex: int, generation: str) -> list[list[str]]:
    table = []
    for g in vocab.NAME_GROUPS:
        boys, girls = vocab.CHILD_FORENAMES[g]
        if generation == "parent" and g == "british":
            table.append(vocab.FATHER_FORENAMES_BRITISH if sex == 1 else vocab.MOTHER_FORENAMES_BRITISH)
        else:
            table.append(boys if sex == 1 else girls)
    return table


def _forenames(rng: np.random.Generator, group: np.ndarray, sex: np.ndarray, generation: str) -> pl.Series:
    """Forenames by naming tradition and sex: one pick over a table of boys' then girls' lists."""
    table = _forename_table(1, generation) + _forename_table(2, generation)
    return weighted_pick(rng, np.asarray(group) + len(vocab.NAME_GROUPS) * (np.asarray(sex) - 1), table)


def _surnames(rng: np.random.Generator, group: np.ndarray) -> pl.Series:
    return weighted_pick(rng, group, [vocab.SURNAMES[g] for g in vocab.NAME_GROUPS], zipf=0.5)


def _known_as(rng: np.random.Generator, forename: pl.Series) -> pl.Series:
    """The name a person goes by: a nickname for a share of those whose name has one."""
    nick = forename.replace_strict(vocab.NICKNAMES, default=None, return_dtype=pl.Utf8)
    uses = pl.Series(rng.random(len(forename)) < RATES["nickname_user"]) & nick.is_not_null()
    return pl.select(pl.when(uses).then(nick).otherwise(forename)).to_series().alias("known_as")


def _when(mask: np.ndarray, then: pl.Series, otherwise: pl.Series | None = None) -> pl.Series:
    expr = pl.when(pl.Series(np.asarray(mask, dtype=bool))).then(then)
    return pl.select((expr.otherwise(otherwise) if otherwise is not None else expr).alias("x")).to_series()


def build_population(seed: int, geo: Geography, birth_years, children_per_year: int, cutoff: dt.date) -> Population:
    years = sorted(int(y) for y in birth_years)
    cut = day(cutoff)
    rng = component_rng(seed, "maternities")
    mat = _maternities(rng, years, children_per_year)
    mother_of_mat, m_dob = _assign_mothers(component_rng(seed, "mothers"), mat, years)
    n_mat, n_m = len(mat["dob"]), len(m_dob)

    # ---- families
    rng = component_rng(seed, "families")
    first_mat = np.full(n_m, NEVER, dtype=np.int32)
    np.minimum.at(first_mat, mother_of_mat, mat["dob"])
    history_start = np.maximum(add_years(m_dob, 16), day(dt.date(years[0] - 3, 1, 1))).astype(np.int32)
    history_start = np.minimum(history_start, first_mat)
    pc_w = postcode_birth_weights(geo)
    initial_pc = np.searchsorted(np.cumsum(pc_w) / pc_w.sum(), rng.random(n_m), side="right").clip(0, len(pc_w) - 1)
    lsoa_of_pc = geo.postcode_lsoa
    diversity = geo.lsoas["diversity"].to_numpy()[lsoa_of_pc[initial_pc]]
    m_eth = _ethnicity(rng, diversity)
    has_partner = rng.random(n_m) < RATES["partner"]
    same = rng.random(n_m) < RATES["partner_same_ethnicity"]
    p_eth = np.where(same, m_eth, _ethnicity(rng, np.full(n_m, 0.6)))
    c_eth = np.where(has_partner, _child_ethnicity(m_eth, p_eth), m_eth)
    m_group, p_group = _name_group(m_eth), _name_group(p_eth)
    c_group = np.where(rng.random(n_m) < 0.5, _name_group(c_eth), m_group)
    maiden = _surnames(rng, m_group)
    partner_surname = _surnames(rng, p_group)
    married_first = has_partner & (rng.random(n_m) < RATES["married_at_first_birth"])
    m_surname_1 = _when(married_first, partner_surname, maiden)
    marries = has_partner & ~married_first & (rng.random(n_m) < RATES["marries_later"])
    m_change = np.where(marries, first_mat + (rng.random(n_m) * np.maximum(cut - first_mat, 1)).astype(np.int32), NEVER)
    m_surname_2 = _when(marries, partner_surname)
    joint = has_partner & (rng.random(n_m) < RATES["joint_registration"])
    c_change_family = np.where(rng.random(n_m) < RATES["child_surname_change"],
                               first_mat + (rng.random(n_m) * np.maximum(cut - first_mat, 1)).astype(np.int32), NEVER)
    step_surname = _surnames(rng, m_group)
    residence = build_residence(component_rng(seed, "residence"), geo, history_start, initial_pc, cut)

    # ---- children
    rng = component_rng(seed, "children")
    c_mat = np.repeat(np.arange(n_mat), mat["mult"])
    n_c = len(c_mat)
    birth_order = (np.arange(n_c) - np.repeat(np.cumsum(mat["mult"]) - mat["mult"], mat["mult"]) + 1).astype(np.int8)
    c_mother = mother_of_mat[c_mat]
    c_dob = mat["dob"][c_mat]
    c_mult = mat["mult"][c_mat]
    sex = (1 + (rng.random(n_c) >= 0.513)).astype(np.int8)
    gest_mat = _gestation(rng, mat["mult"])
    gest = gest_mat[c_mat]
    weight = _birthweight(rng, gest, c_mult, sex)
    mat_place = np.where(mat["mult"] > 1, 0, categorical(rng, n_mat, [0.975, 0.023, 0.002]))
    reg_delay = np.clip(np.round(rng.gamma(3.0, 6.0, n_mat)), 1, 42).astype(np.int32)
    registration = (mat["dob"] + reg_delay)[c_mat]
    c_forename = _forenames(rng, c_group[c_mother], sex, "child")
    by_mother = pl.Series(c_mother)
    mother_surname_at_birth = _when(c_dob >= m_change[c_mother], m_surname_2.gather(by_mother),
                                    m_surname_1.gather(by_mother))
    c_surname_1 = _when(joint[c_mother], partner_surname.gather(by_mother), mother_surname_at_birth)
    fam_change = c_change_family[c_mother]
    maiden_c = maiden.gather(by_mother)
    double = maiden_c + "-" + c_surname_1
    c_new = _when((rng.random(n_c) < 0.5) & (maiden_c != c_surname_1).to_numpy(), double,
                  step_surname.gather(by_mother))
    born_after = c_dob >= fam_change
    c_surname_1 = _when(born_after, c_new, c_surname_1)
    c_surname_2 = _when(~born_after & (fam_change != NEVER), c_new)
    c_change = np.where(~born_after, fam_change, NEVER).astype(np.int32)

    # ---- fathers
    rng = component_rng(seed, "fathers")
    f_mother = np.flatnonzero(has_partner)
    n_f = len(f_mother)
    f_dob = (m_dob[f_mother] + rng.normal(2.5, 4.0, n_f) * DAYS_PER_YEAR).astype(np.int32)
    f_dob = np.minimum(f_dob, (first_mat[f_mother] - 17 * DAYS_PER_YEAR).astype(np.int32))
    f_forename = _forenames(rng, p_group[f_mother], np.ones(n_f, dtype=np.int8), "parent")
    m_forename = _forenames(rng, m_group, np.full(n_m, 2, dtype=np.int8), "parent")

    # ---- identifiers and persons table
    rng = component_rng(seed, "identifiers")
    n_all = n_c + n_m + n_f
    nhs = valid_nhs_numbers(rng, n_all)
    ids = np.arange(1, n_all + 1, dtype=np.int64)
    child_ids, mother_ids, father_ids = ids[:n_c], ids[n_c:n_c + n_m], ids[n_c + n_m:]
    father_of_mother = np.full(n_m, -1, dtype=np.int64)
    father_of_mother[f_mother] = father_ids
    forename = pl.concat([c_forename, m_forename, f_forename])
    no_text = pl.Series([None] * (n_m + n_f), dtype=pl.Utf8)
    persons = pl.DataFrame({
        "person_id": ids,
        "role": labels(["child", "mother", "father"], np.repeat([0, 1, 2], [n_c, n_m, n_f])),
        "sex": np.concatenate([sex, np.full(n_m, 2, np.int8), np.ones(n_f, np.int8)]),
        "dob": np.concatenate([c_dob, m_dob, f_dob]).astype(np.int32),
        "mother_id": np.concatenate([mother_ids[c_mother], np.full(n_m + n_f, -1)]),
        "father_id": np.concatenate([father_of_mother[c_mother], np.full(n_m + n_f, -1)]),
        "family": np.concatenate([c_mother, np.arange(n_m), f_mother]).astype(np.int32),
        "ethnicity": labels(vocab.ETHNICITIES, np.concatenate([c_eth[c_mother], m_eth, p_eth[f_mother]])),
        "birth_year": np.concatenate([mat["year"][c_mat], _year(m_dob), _year(f_dob)]).astype(np.int32),
        "multiplicity": np.concatenate([c_mult, np.zeros(n_m + n_f, np.int8)]),
        "birth_order": np.concatenate([birth_order, np.zeros(n_m + n_f, np.int8)]),
        "maternity": np.concatenate([c_mat, np.full(n_m + n_f, -1)]).astype(np.int32),
        "nhs_number": nhs,
        "forename": forename,
        "known_as": _known_as(rng, forename),
        "surname": pl.concat([c_surname_1, m_surname_1, partner_surname.gather(pl.Series(f_mother))]),
        "surname_2": pl.concat([c_surname_2, m_surname_2, no_text.slice(0, n_f)]),
        "surname_change": np.concatenate([c_change, m_change.astype(np.int32), np.full(n_f, NEVER, np.int32)]),
        "birthweight_g": np.concatenate([weight, np.zeros(n_m + n_f, np.int32)]),
        "gestation_weeks": np.concatenate([gest, np.zeros(n_m + n_f, np.int8)]),
        "place_of_birth": pl.concat([labels(["hospital", "home", "other"], mat_place[c_mat]), no_text]),
        "registration": np.concatenate([registration, np.full(n_m + n_f, NEVER, np.int32)]),
    }, strict=False).with_columns(
        pl.col("mother_id").replace(-1, None), pl.col("father_id").replace(-1, None),
        pl.col("multiplicity").replace(0, None), pl.col("birth_order").replace(0, None),
        pl.col("birthweight_g").replace(0, None), pl.col("gestation_weeks").replace(0, None),
    )
    dod = _deaths(component_rng(seed, "deaths"), persons, cut, first_mat)
    persons = persons.with_columns(pl.Series("dod", dod, dtype=pl.Int32))

    families = pl.DataFrame({
        "family": np.arange(n_m, dtype=np.int32), "mother_id": mother_ids, "father_id": father_of_mother,
        "first_maternity": first_mat, "history_start": history_start, "initial_postcode": initial_pc.astype(np.int32),
        "joint_registration": joint, "maiden_surname": maiden,
    }).with_columns(pl.col("father_id").replace(-1, None))
    delmeth_codes = list(vocab.DELIVERY_METHODS)
    shares = np.array([v[0] for v in vocab.DELIVERY_METHODS.values()])
    rng = component_rng(seed, "delivery")
    delmeth = categorical(rng, n_mat, shares)
    caesar = np.array([delmeth_codes.index("7"), delmeth_codes.index("8")])
    multiple_cs = (mat["mult"] > 1) & (rng.random(n_mat) < 0.6)
    delmeth = np.where(multiple_cs, caesar[rng.integers(0, 2, n_mat)], delmeth)
    maternities = pl.DataFrame({
        "maternity": np.arange(n_mat, dtype=np.int32), "mother_id": mother_ids[mother_of_mat],
        "family": mother_of_mat.astype(np.int32), "dob": mat["dob"], "birth_year": mat["year"],
        "multiplicity": mat["mult"], "gestation_weeks": gest_mat, "delmeth": labels(delmeth_codes, delmeth),
        "place": labels(["hospital", "home", "other"], mat_place),
        "first_child_id": child_ids[np.cumsum(mat["mult"]) - mat["mult"]],
    })
    pop = Population(geo=geo, cutoff=cutoff, birth_years=years, persons=persons, families=families,
                     maternities=maternities, residence=residence, schooling=pl.DataFrame(), care=pl.DataFrame())
    pop.schooling, upn = _schooling(component_rng(seed, "schooling"), pop)
    pop.persons = pop.persons.with_columns(upn)
    pop.care = _care(component_rng(seed, "care"), pop)
    pop.persons = pop.persons.with_columns(
        pl.col("person_id").is_in(pop.care["person_id"].implode()).alias("ever_in_care"))
    return pop


def _text(values: np.ndarray) -> pl.Series:
    """Text (with nulls) from a numpy array of str / None."""
    return pl.Series(values=[None if v is None else str(v) for v in values], dtype=pl.Utf8) \
        if values.dtype == object else pl.Series(values=values, dtype=pl.Utf8)


def _year(days: np.ndarray) -> np.ndarray:
    return ymd(days)[0]


def _gestation(rng: np.random.Generator, mult: np.ndarray) -> np.ndarray:
    """Completed weeks per maternity: singletons mostly 37-42 with ~7% preterm, twins ~36, triplets ~33."""
    n = len(mult)
    term = rng.normal(39.6, 1.15, n)
    preterm = rng.random(n) < 0.055
    term = np.where(preterm, 36.99 - rng.exponential(2.2, n), term)  # ~0.7% of singletons under 32 weeks
    term = np.where(mult == 2, rng.normal(35.8, 2.2, n), term)
    term = np.where(mult >= 3, rng.normal(32.5, 2.4, n), term)
    return np.clip(np.floor(term), 23, 43).astype(np.int8)


def _birthweight(rng: np.random.Generator, gest: np.ndarray, mult: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """Grams: a growth curve in gestation, lighter for multiples and girls, lognormal scatter."""
    short = np.maximum(40 - gest.astype(float), 0)
    mean = 3450 * np.exp(-0.035 * short**1.4) + 60 * np.maximum(gest - 40, 0)
    mean *= np.where(mult == 2, 0.9, np.where(mult >= 3, 0.82, 1.0)) * np.where(sex == 1, 1.02, 0.98)
    w = mean * np.exp(rng.normal(0, 0.12, len(gest)))
    return np.clip(np.round(w / 5) * 5, 350, 5900).astype(np.int32)


def _deaths(rng: np.random.Generator, persons: pl.DataFrame, cut: int, first_maternity: np.ndarray) -> np.ndarray:
    """Date of death (days) by the cut-off, or NEVER. Parents can only die after their family's first
    birth in the window (they are in the cohort's world from then on)."""
    role = persons["role"].to_numpy()
    dob = persons["dob"].to_numpy()
    n = len(dob)
    gest = persons["gestation_weeks"].fill_null(40).to_numpy()
    mult = persons["multiplicity"].fill_null(1).to_numpy()
    child = role == "child"
    p_infant = RATES["infant_death"] * np.where(mult > 1, 3.0, 1.0) * (1 + 1.5 * (gest < 37) + 12 * (gest < 32))
    infant = child & (rng.random(n) < p_infant)
    band = categorical(rng, n, [0.45, 0.2, 0.35])
    age = np.where(band == 0, rng.integers(0, 7, n), np.where(band == 1, rng.integers(7, 28, n), rng.integers(28, 365, n)))
    later = child & ~infant & (rng.random(n) < RATES["child_death_per_year"] * 17)
    age = np.where(later, rng.integers(365, int(18 * DAYS_PER_YEAR), n), age)
    since = first_maternity[persons["family"].to_numpy()].astype(np.int64) + 1
    adult_years = np.clip((cut - since) / DAYS_PER_YEAR, 0, None)
    rate = np.where(role == "mother", RATES["mother_death_per_year"], RATES["father_death_per_year"])
    adult = ~child & (rng.random(n) < rate * adult_years)
    adult_day = cut - (rng.random(n) * adult_years * DAYS_PER_YEAR).astype(np.int64)
    dod = np.where(infant | later, dob + age, np.where(adult, adult_day, NEVER)).astype(np.int64)
    return np.where(dod <= cut, dod, NEVER).astype(np.int32)


def _nearest_schools(geo: Geography, phase: str, k: int = 3) -> np.ndarray:
    """(n_postcodes, k) school row indices (into geo.schools) of the k nearest schools of a phase."""
    schools = geo.schools.with_row_index("row").filter(pl.col("phase") == phase)
    tree = cKDTree(schools.select("easting", "northing").to_numpy().astype(float))
    _, idx = tree.query(geo.postcodes.select("easting", "northing").to_numpy().astype(float), k=min(k, schools.height))
    idx = idx.reshape(len(idx), -1)
    if idx.shape[1] < k:
        idx = np.concatenate([idx, np.repeat(idx[:, :1], k - idx.shape[1], axis=1)], axis=1)
    return schools["row"].to_numpy()[idx]


def _school_anchor(child: np.ndarray, year: np.ndarray, secondary: np.ndarray, la: np.ndarray,
                   postcode: np.ndarray) -> np.ndarray:
    """The postcode a pupil's school was chosen from: the home at the start of the phase, or at the
    first census after a move to another LA. A move within the LA keeps the school."""
    frame = pl.DataFrame({"child": child, "year": year, "secondary": secondary, "la": la, "pc": postcode})
    frame = frame.with_row_index("k").sort("child", "year")
    new_run = ((pl.col("child") != pl.col("child").shift(1)) | (pl.col("secondary") != pl.col("secondary").shift(1))
               | (pl.col("la") != pl.col("la").shift(1))).fill_null(True)
    frame = frame.with_columns(new_run.cum_sum().alias("run"))
    frame = frame.with_columns(pl.col("pc").first().over("run").alias("anchor")).sort("k")
    return frame["anchor"].to_numpy()


def _schooling(rng: np.random.Generator, pop: Population) -> tuple[pl.DataFrame, pl.Series]:
    """One row per child and spring census (18 January) attended in a state school; the UPN column."""
    geo, cut = pop.geo, pop.cutoff_day
    persons = pop.persons
    child = (persons["role"] == "child").to_numpy()
    c = np.flatnonzero(child)
    dob = persons["dob"].to_numpy()[c]
    dod = persons["dod"].to_numpy()[c]
    family = persons["family"].to_numpy()[c]
    cohort = academic_cohort(dob)
    birth_pc = pop.residence.postcode_at(family, dob)
    imd_birth = geo.lsoas["imd_decile"].to_numpy()[geo.postcode_lsoa[birth_pc]]
    private_primary = rng.random(len(c)) < RATES["private_primary_min"] + RATES["private_primary_step"] * (imd_birth - 1)
    private_secondary = np.where(private_primary, rng.random(len(c)) < RATES["stay_private"],
                                 rng.random(len(c)) < RATES["move_private"])
    choice_p = categorical(rng, len(c), [0.65, 0.25, 0.10])
    choice_s = categorical(rng, len(c), [0.6, 0.28, 0.12])

    school_year = np.tile(np.arange(12, dtype=np.int8), len(c))
    row = np.repeat(np.arange(len(c)), 12)
    ay = cohort[row] + 5 + school_year
    census = days_from_ymd(ay + 1, 1, 18)
    private = np.where(school_year < 7, private_primary[row], private_secondary[row])
    keep = (census <= cut) & (census < dod[row]) & ~private
    row, school_year, ay, census = row[keep], school_year[keep], ay[keep], census[keep]
    order = np.argsort(ay, kind="stable")  # by census year (one delivery file each), children in order
    row, school_year, ay, census = row[order], school_year[order], ay[order], census[order]
    pc = pop.residence.postcode_at(family[row], census)
    anchor = _school_anchor(row, ay, school_year >= 7, geo.postcode_la[pc], pc)
    primary, secondary = _nearest_schools(geo, "primary"), _nearest_schools(geo, "secondary")
    school = np.where(school_year < 7, primary[anchor, choice_p[row]], secondary[anchor, choice_s[row]])
    sch = geo.schools
    schooling = pl.DataFrame({
        "person_id": persons["person_id"].to_numpy()[c][row], "child": row.astype(np.int32),
        "academic_year": ay.astype(np.int32), "ncyear": school_year, "census_day": census.astype(np.int32),
        "school": school.astype(np.int32), "postcode": pc.astype(np.int32),
        "urn": sch["urn"].gather(pl.Series(school)), "la_code": sch["la_code"].gather(pl.Series(school)),
    })
    # UPN at the first state school: LA, establishment number, two-digit year, serial within the intake
    first = schooling.filter(pl.col("person_id").is_first_distinct())
    first = first.with_columns(pl.int_range(pl.len()).over("school", "academic_year").alias("serial"))
    if first["serial"].max() is not None and first["serial"].max() > 999:
        raise AssertionError("a school intake exceeds 999 UPN serials")
    body = pl.concat_str(
        pl.col("la_code"), pl.Series(geo.school_estab[first["school"].to_numpy()]).cast(pl.Utf8).str.zfill(4),
        (pl.col("academic_year") % 100).cast(pl.Utf8).str.zfill(2), pl.col("serial").cast(pl.Utf8).str.zfill(3),
    )
    first = first.with_columns(body.alias("body"))
    digits = np.frombuffer("".join(first["body"].to_list()).encode(), dtype=np.uint8).reshape(-1, 12) - ord("0") \
        if first.height else np.zeros((0, 12), dtype=np.uint8)
    letters = upn_check_letters(digits.astype(np.int64))
    first = first.with_columns((pl.Series(letters, dtype=pl.Utf8) + pl.col("body")).alias("upn"))
    upn = persons.select("person_id").join(first.select("person_id", "upn"), on="person_id", how="left",
                                           maintain_order="left")["upn"]
    return schooling.join(first.select("person_id", "upn"), on="person_id", how="left", maintain_order="left"), upn


def _no_care() -> pl.DataFrame:
    ints = ("child", "period", "decom", "dec", "la_index", "home_postcode", "placement_postcode")
    return pl.DataFrame(schema={"person_id": pl.Int64, **{c: pl.Int32 for c in ints},
                                **{c: pl.Utf8 for c in ("la_code", "ls", "cin", "place", "rne", "rec")}})


def _care(rng: np.random.Generator, pop: Population) -> pl.DataFrame:
    """Episodes of care: periods (1-3 per child in care) split into episodes at placement changes."""
    geo, cut = pop.geo, pop.cutoff_day
    ch = pop.children()
    dob, dod = ch["dob"].to_numpy(), ch["dod"].to_numpy()
    family = ch["family"].to_numpy()
    pid = ch["person_id"].to_numpy()
    birth_pc = pop.residence.postcode_at(family, dob)
    lsoa_pc = geo.postcode_lsoa
    imd = geo.lsoas["imd_decile"].to_numpy()[lsoa_pc[birth_pc]]
    p = RATES["care_base"] + RATES["care_step"] * (10 - imd)
    kids = np.flatnonzero(rng.random(len(dob)) < p)
    if len(kids) == 0:
        return _no_care()
    u = rng.random(len(kids))
    n_periods = 1 + (u < 0.2) + (u < 0.04)
    k = np.repeat(kids, n_periods)
    m = len(k)
    start_age = np.where(rng.random(m) < 0.3, rng.integers(0, 365, m), rng.integers(365, int(17.5 * DAYS_PER_YEAR), m))
    order = np.lexsort((start_age, k))
    k, start_age = k[order], start_age[order]
    start = dob[k] + start_age
    eighteen = add_years(dob[k], 18) - 1
    long_term = rng.random(m) < 0.15
    end = np.where(long_term, eighteen, start + 30 + rng.exponential(650, m).astype(np.int64))
    same_next = np.append(k[1:] == k[:-1], False)
    next_start = np.append(start[1:], NEVER)
    end = np.minimum(np.minimum(end, np.where(same_next, next_start - 30, NEVER)), eighteen)
    died = dod[k] <= end
    end = np.where(died, dod[k], end)
    ok = (end > start) & (start <= cut) & (start < dod[k])
    k, start, end, died = k[ok], start[ok], end[ok], died[ok]
    m = len(k)
    if m == 0:
        return _no_care()
    open_ = end > cut
    period = np.arange(m)
    n_ep = np.minimum(1 + rng.poisson(0.7, m), 5)
    e_period = np.repeat(period, n_ep)
    frac = rng.random(len(e_period))
    firsts = np.cumsum(n_ep) - n_ep
    frac[firsts] = 0.0
    o = np.lexsort((frac, e_period))
    frac = frac[o]
    span = np.minimum(end, cut) - start
    e_start = start[e_period] + np.floor(frac * span[e_period]).astype(np.int64)
    last = np.append(e_period[1:] != e_period[:-1], True)
    e_end = np.where(last, np.where(open_[e_period], NEVER, end[e_period]), np.append(e_start[1:], 0))
    is_first = np.zeros(len(e_period), dtype=bool)
    is_first[firsts] = True
    n = len(e_period)
    la_home = pop.residence.postcode_at(family[k[e_period]], start[e_period])
    home_pc = pop.residence.postcode_at(family[k[e_period]], e_start)
    la_index = geo.postcode_la[la_home]
    la_of_pc = geo.postcode_la
    la_first = np.searchsorted(la_of_pc, np.arange(geo.las.height))
    la_count = np.bincount(la_of_pc, minlength=geo.las.height)
    local = la_first[la_index] + np.floor(rng.random(n) * la_count[la_index]).astype(np.int64)
    anywhere = rng.integers(0, len(la_of_pc), n)
    placement_pc = np.where(rng.random(n) < 0.75, local, anywhere)
    ls_period = categorical(rng, m, vocab.CLA_LEGAL_SHARE)
    cin_period = categorical(rng, m, vocab.CLA_CIN_SHARE)
    rec_final = np.array(vocab.CLA_REASON_END)[categorical(rng, m, vocab.CLA_REASON_END_SHARE)]
    rec_final = np.where(died, "E2", rec_final)
    rec = np.where(last, np.where(open_[e_period], None, rec_final[e_period]), "X1")
    rne = np.where(is_first, "S", np.array(vocab.CLA_REASON_NEW)[categorical(rng, n, [0.6, 0.15, 0.1, 0.1, 0.05])])
    return pl.DataFrame({
        "person_id": pid[k[e_period]], "child": k[e_period].astype(np.int32), "period": e_period.astype(np.int32),
        "decom": e_start.astype(np.int32), "dec": e_end.astype(np.int32),
        "la_index": la_index.astype(np.int32), "la_code": geo.las["la_code"].to_numpy()[la_index],
        "home_postcode": home_pc.astype(np.int32), "placement_postcode": placement_pc.astype(np.int32),
        "ls": np.array(vocab.CLA_LEGAL_STATUS)[ls_period][e_period],
        "cin": np.array(vocab.CLA_CIN)[cin_period][e_period],
        "place": np.array(vocab.CLA_PLACEMENTS)[categorical(rng, n, vocab.CLA_PLACEMENT_SHARE)],
        "rne": _text(rne), "rec": _text(rec),
    }, strict=False)
