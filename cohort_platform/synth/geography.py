"""A synthetic but England-shaped geography: local authorities, LSOAs, postcodes and schools.

Everything sits in a compact region of British National Grid (about 60-120 km across, centred on
easting 450000, northing 300000) so that the environmental grids stay small. Sizes scale with the
number of children born a year, in England's proportions (about 650,000 births, 150 LAs, 33,000 LSOAs,
17,000 primary and 3,400 secondary schools):

- LAs carry real DfE 3-digit codes and ONS codes of the matching kind (E06 unitary, E07 district,
  E08 metropolitan, E09 London) and cover Voronoi cells of the region.
- LSOAs cluster around towns; their IMD decile follows a smooth spatial field plus urbanness, so
  deprivation is spatially clustered, and their "diversity" (used for ethnicity) follows it too.
- Postcodes (several per LSOA) have UK shapes: outward codes share an area per LA with district
  numbers running on, inward codes use only the letters Royal Mail uses; every postcode is unique.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.spatial import cKDTree

from cohort_platform.synth import vocab

CENTRE = (450_000.0, 300_000.0)
BIRTHS_PER_LA = 4_300
BIRTHS_PER_LSOA = 20
POSTCODES_PER_LSOA = 10
BIRTHS_PER_PRIMARY = 35
BIRTHS_PER_SECONDARY = 190
LONDON_STYLE_AREAS = {"EC", "W", "SW"}


@dataclass(frozen=True)
class Geography:
    """Reference frames of the contract plus the generator's own views of the same places.

    `postcodes`, `lsoa_imd` and `schools` are exactly the reference files. `lsoas` adds each LSOA's
    LA, centroid, birth weight and diversity; `las` lists LAs (la_code, lad_code, provider code).
    Postcodes are sorted by LA then LSOA, so an LA's postcodes are one contiguous block.
    """

    postcodes: pl.DataFrame
    lsoa_imd: pl.DataFrame
    schools: pl.DataFrame
    lsoas: pl.DataFrame
    las: pl.DataFrame
    postcode_lsoa: np.ndarray  # row of `lsoas` for each postcode
    postcode_la: np.ndarray  # row of `las` for each postcode
    school_estab: np.ndarray  # DfE establishment number of each school (for UPNs)

    def reference_postcodes(self) -> pl.DataFrame:
        return self.postcodes

    def reference_schools(self) -> pl.DataFrame:
        return self.schools


def region_size_m(children_per_year: int) -> float:
    """60 km for a few thousand births a year, growing with the log of the size to 120 km."""
    return float(np.clip(60_000 + 20_000 * np.log10(max(children_per_year, 1000) / 1000), 60_000, 120_000))


def _farthest_points(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of k well spread points (greedy farthest-point sampling; k is at most ~150)."""
    chosen = [int(rng.integers(len(points)))]
    distance = np.hypot(*(points - points[chosen[0]]).T)
    for _ in range(1, k):
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        distance = np.minimum(distance, np.hypot(*(points - points[nxt]).T))
    return np.array(chosen)


def _smooth_field(rng: np.random.Generator, xy: np.ndarray, size: float, bumps: int, scale: float) -> np.ndarray:
    """A smooth random surface at the points: a sum of Gaussian bumps of random sign."""
    centres = rng.uniform(-size / 2, size / 2, (bumps, 2)) + np.array(CENTRE)
    signs = rng.normal(0, 1, bumps)
    out = np.zeros(len(xy))
    for c, s in zip(centres, signs):  # a few dozen bumps, each vectorised over all points
        out += s * np.exp(-((xy - c) ** 2).sum(axis=1) / (2 * scale**2))
    return out


def _lsoa_points(rng: np.random.Generator, n: int, size: float) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) LSOA centroids, most around towns of lognormal size, some rural; and urbanness 0..1."""
    n_towns = max(4, n // 150)
    towns = rng.uniform(-0.45 * size, 0.45 * size, (n_towns, 2)) + np.array(CENTRE)
    town_size = rng.lognormal(0, 0.9, n_towns)
    urban_n = int(n * 0.85)
    which = rng.choice(n_towns, urban_n, p=town_size / town_size.sum())
    spread = 1_200 * np.sqrt(town_size[which] * 400 / max(n / n_towns, 1) + 1)
    urban = towns[which] + rng.normal(0, 1, (urban_n, 2)) * spread[:, None]
    rural = rng.uniform(-0.5 * size, 0.5 * size, (n - urban_n, 2)) + np.array(CENTRE)
    pts = np.vstack([urban, rural])
    lo, hi = np.array(CENTRE) - size / 2, np.array(CENTRE) + size / 2
    pts = np.clip(pts, lo, hi)
    neighbours = cKDTree(pts).query_ball_point(pts, r=1_500, return_length=True)
    urbanness = np.log1p(neighbours) / np.log1p(neighbours.max())
    return pts, urbanness


def _deciles(score: np.ndarray) -> np.ndarray:
    """1 for the highest-scoring tenth .. 10 for the lowest (so a high score means deprived)."""
    rank = np.argsort(np.argsort(-score, kind="stable"), kind="stable")
    return (rank * 10 // len(score) + 1).astype(np.int8)


def _unique_codes(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    return np.sort(rng.choice(np.arange(low, max(high, low + 2 * n)), n, replace=False))


def _outward_codes(la_of_lsoa: np.ndarray, n_la: int, rng: np.random.Generator) -> np.ndarray:
    """Each LSOA's outward code: the LA's postcode area, districts of consecutive LSOAs numbered on."""
    areas = list(vocab.POSTCODE_AREAS)
    rng.shuffle(areas)
    la_area = np.arange(n_la) % len(areas)
    las_per_area = int(np.ceil(n_la / len(areas)))
    per_la = np.bincount(la_of_lsoa, minlength=n_la)
    districts_per_la = max(1, 99 // las_per_area)
    per_district = max(20, int(np.ceil(per_la.max() / districts_per_la)))
    order = np.argsort(la_of_lsoa, kind="stable")
    rank_in_la = np.empty(len(la_of_lsoa), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(per_la)[:-1]])
    rank_in_la[order] = np.arange(len(order)) - np.repeat(starts, per_la)
    district_in_la = rank_in_la // per_district
    n_districts_la = -(-per_la // per_district)
    # district numbers run on across the LAs sharing an area
    offset = np.zeros(n_la, dtype=np.int64)
    for area in range(len(areas)):  # at most 50 areas
        las = np.flatnonzero(la_area == area)
        offset[las] = np.concatenate([[0], np.cumsum(n_districts_la[las])[:-1]])
    number = offset[la_of_lsoa] + district_in_la + 1
    if number.max() > 99:
        raise AssertionError("postcode districts overflow; raise per_district")
    area_name = np.array(areas, dtype=object)[la_area[la_of_lsoa]]
    suffix = np.where(np.isin(area_name, list(LONDON_STYLE_AREAS)) & (number == 1), "A", "")
    return (pl.Series(area_name.astype(str)) + pl.Series(number.astype(str)) + pl.Series(suffix.astype(str))).to_numpy()


def _inward_codes(outward: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unique inward codes within each outward code: a permutation of 10 sectors x 400 units."""
    frame = pl.DataFrame({"outward": outward.astype(str)}).with_row_index("i")
    frame = frame.with_columns(pl.int_range(pl.len()).over("outward").alias("j"))
    if frame["j"].max() >= 4000:
        raise AssertionError("too many postcodes in one district")
    salt = pl.col("outward").hash(seed=int(rng.integers(1 << 30))) % 4000
    letters = vocab.INWARD_LETTERS
    code = ((pl.col("j") * 7919 + salt) % 4000).alias("code")
    frame = frame.with_columns(code)
    lut = pl.Series([a + b for a in letters for b in letters])
    inward = frame.select(
        (pl.col("code") // 400).cast(pl.Utf8) + pl.col("code").mod(400).map_batches(lambda s: lut.gather(s)),
    ).to_series()
    return inward.to_numpy()


def build_geography(rng: np.random.Generator, children_per_year: int) -> Geography:
    """The region's LAs, LSOAs (with IMD deciles), postcodes and schools, scaled to `children_per_year`."""
    size = region_size_m(children_per_year)
    n_la = int(np.clip(round(children_per_year / BIRTHS_PER_LA), 3, len(vocab.DFE_LA_CODES)))
    n_lsoa = max(12 * n_la, round(children_per_year / BIRTHS_PER_LSOA))

    xy, urbanness = _lsoa_points(rng, n_lsoa, size)
    centres = _farthest_points(xy, n_la, rng)
    _, la_of_lsoa = cKDTree(xy[centres]).query(xy)
    la_of_lsoa = la_of_lsoa.astype(np.int32)

    deprivation = 1.2 * urbanness + _smooth_field(rng, xy, size, 40, size / 8) + rng.normal(0, 0.35, n_lsoa)
    imd = _deciles(deprivation)
    diversity_score = 1.5 * urbanness + 0.08 * (10 - imd) + 0.5 * _smooth_field(rng, xy, size, 30, size / 10)
    diversity = np.clip((_deciles(diversity_score) - 1) / 9.0, 0, 1)  # 0 most diverse .. 1 least
    birth_weight = rng.lognormal(0, 0.35, n_lsoa) * (1 + 0.05 * (10 - imd))

    la_pick = rng.choice(len(vocab.DFE_LA_CODES), n_la, replace=False)
    la_codes = [vocab.DFE_LA_CODES[i][0] for i in la_pick]
    lad_prefix = [vocab.DFE_LA_CODES[i][1] for i in la_pick]
    lad_numbers = _unique_codes(rng, n_la, 1, 80)
    lad_codes = [f"{p}{n:06d}" for p, n in zip(lad_prefix, rng.permutation(lad_numbers))]
    provider = _provider_codes(rng, 2 * n_la)
    las = pl.DataFrame({"la_index": np.arange(n_la, dtype=np.int32), "la_code": la_codes, "lad_code": lad_codes,
                        "procode3": provider[:n_la], "mh_provider": provider[n_la:]})

    lsoa_codes = np.array([f"E01{n:06d}" for n in rng.permutation(_unique_codes(rng, n_lsoa, 1, 34_000))])
    # LSOAs ordered by LA then easting so postcode districts are spatially coherent
    order = np.lexsort((xy[:, 0], la_of_lsoa))
    xy, urbanness, la_of_lsoa, imd = xy[order], urbanness[order], la_of_lsoa[order], imd[order]
    diversity, birth_weight = diversity[order], birth_weight[order]
    lsoas = pl.DataFrame({
        "lsoa_index": np.arange(n_lsoa, dtype=np.int32), "lsoa11cd": lsoa_codes,
        "la_index": la_of_lsoa, "la_code": np.array(la_codes)[la_of_lsoa],
        "easting": xy[:, 0], "northing": xy[:, 1], "imd_decile": imd, "urbanness": urbanness,
        "diversity": diversity, "birth_weight": birth_weight,
    })

    per_lsoa = 2 + rng.poisson(POSTCODES_PER_LSOA - 2, n_lsoa)
    pc_lsoa = np.repeat(np.arange(n_lsoa), per_lsoa)
    jitter = rng.normal(0, 220, (len(pc_lsoa), 2))
    outward = _outward_codes(la_of_lsoa, n_la, rng)[pc_lsoa]
    inward = _inward_codes(outward, rng)
    postcodes = pl.DataFrame({
        "postcode": pl.Series(outward.astype(str)) + " " + pl.Series(inward.astype(str)),
        "easting": np.round(xy[pc_lsoa, 0] + jitter[:, 0]).astype(np.int64),
        "northing": np.round(xy[pc_lsoa, 1] + jitter[:, 1]).astype(np.int64),
        "lsoa11cd": lsoa_codes[pc_lsoa],
        "lad_code": np.array(lad_codes)[la_of_lsoa[pc_lsoa]],
        "la_code": np.array(la_codes)[la_of_lsoa[pc_lsoa]],
    })
    lsoa_imd = pl.DataFrame({"lsoa11cd": lsoa_codes, "imd_decile": imd.astype(np.int64)}).sort("lsoa11cd")
    schools = _schools(rng, lsoas, children_per_year, la_codes)
    return Geography(postcodes=postcodes, lsoa_imd=lsoa_imd, schools=schools.drop("la_index", "estab"),
                     lsoas=lsoas, las=las, postcode_lsoa=pc_lsoa.astype(np.int32),
                     postcode_la=la_of_lsoa[pc_lsoa].astype(np.int32), school_estab=schools["estab"].to_numpy())


def _provider_codes(rng: np.random.Generator, n: int) -> list[str]:
    """Unique 3-character NHS trust codes (R + two letters or digits), one per LA."""
    alphabet = np.array(list("ABCDEFGHJKLMNPQRTUVWXYZ0123456789"))
    pairs = rng.choice(len(alphabet) ** 2, n, replace=False)
    return [f"R{alphabet[p // len(alphabet)]}{alphabet[p % len(alphabet)]}" for p in pairs]


def _schools(rng: np.random.Generator, lsoas: pl.DataFrame, children_per_year: int, la_codes: list[str]) -> pl.DataFrame:
    """Primary and secondary schools in each LA, placed at birth-weighted LSOAs."""
    la = lsoas["la_index"].to_numpy()
    w = lsoas["birth_weight"].to_numpy()
    xy = lsoas.select("easting", "northing").to_numpy()
    la_share = np.bincount(la, weights=w) / w.sum()
    births = la_share * children_per_year
    frames = []
    for phase, per, estab_base in (("primary", BIRTHS_PER_PRIMARY, 2000), ("secondary", BIRTHS_PER_SECONDARY, 4000)):
        counts = np.maximum(2 if phase == "primary" else 1, np.round(births / per)).astype(int)
        school_la = np.repeat(np.arange(len(counts)), counts)
        # an LSOA for each school: birth-weighted within its LA
        order = np.argsort(la, kind="stable")
        cw = np.cumsum(w[order])
        la_start = np.searchsorted(la[order], np.arange(len(counts)))
        la_end = np.searchsorted(la[order], np.arange(len(counts)), side="right")
        lo = np.where(la_start > 0, cw[np.maximum(la_start - 1, 0)], 0.0)
        hi = cw[la_end - 1]
        target = lo[school_la] + rng.random(len(school_la)) * (hi - lo)[school_la]
        pick = order[np.minimum(np.searchsorted(cw, target), len(order) - 1)]
        pos = xy[pick] + rng.normal(0, 300, (len(pick), 2))
        rank = np.arange(len(school_la)) - np.repeat(np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        names = [f"{vocab.TOWN_WORDS[a]} {s}" for a, s in zip(
            rng.integers(len(vocab.TOWN_WORDS), size=len(pick)),
            np.array(vocab.PRIMARY_SUFFIXES if phase == "primary" else vocab.SECONDARY_SUFFIXES)[
                rng.integers(6, size=len(pick))])]
        frames.append(pl.DataFrame({
            "easting": np.round(pos[:, 0]).astype(np.int64), "northing": np.round(pos[:, 1]).astype(np.int64),
            "la_code": np.array(la_codes)[school_la], "la_index": school_la.astype(np.int32), "phase": phase,
            "establishment_name": names, "estab": (estab_base + rank).astype(np.int32),
        }))
    schools = pl.concat(frames)
    urns = rng.choice(np.arange(100_000, 1_000_000), schools.height, replace=False)
    return schools.with_columns(pl.Series("urn", urns.astype(str))).select(
        "urn", "establishment_name", "easting", "northing", "la_code", "phase", "la_index", "estab")
