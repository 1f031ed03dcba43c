"""Linkage: every dataset to the births spine, Dagster-free.

The functions an asset needs, in the order a birth-year partition uses them:

- `identifiers.linkage_inputs(clean: dict[str, pl.DataFrame]) -> LinkageInputs`: the identifier
  projections (the only place linkage reads clean data; content never enters linkage).
- `spine.deduplicate_births(inputs.identifiers["births"]) -> pl.DataFrame`: the spine of every year
  (births identifier rows + person_id, is_kept, duplicate_rule); cheap, may be its own asset.
- `pipeline.link_birth_year(con, birth_year, inputs, spine=..., models=...) -> LinkageResult`:
  `.link_map` (link_map.LINK_MAP_SCHEMA), `.outcomes` (per-dataset model decisions, ids only),
  `.candidates`, `.spine`, `.timings`, `.models` (trained Splink models, reusable next partition).
- `quality.linkage_quality(result, inputs, characteristics=..., con=...) -> LinkageQuality`, with
  `.metadata()` for the asset and `report.render_markdown([quality, ...])` for a readable report.
- `link_map.combine_partitions(maps)` and `link_map.complete_link_map(map, records)` for the
  all-years link map; `link_map.link_map_problems(map, records)` as an asset check.
"""

from cohort_platform.linkage.identifiers import LinkageInputs, identifiers_of, linkage_inputs
from cohort_platform.linkage.link_map import (
    LINK_MAP_SCHEMA, combine_partitions, complete_link_map, link_map_problems,
)
from cohort_platform.linkage.pipeline import LinkageResult, LinkageSettings, link_birth_year
from cohort_platform.linkage.quality import LinkageQuality, characteristics_of, linkage_quality
from cohort_platform.linkage.report import render_markdown
from cohort_platform.linkage.spine import candidate_records, deduplicate_births, spine_for_year

__all__ = [
    "LINK_MAP_SCHEMA", "LinkageInputs", "LinkageQuality", "LinkageResult", "LinkageSettings",
    "candidate_records", "characteristics_of", "combine_partitions", "complete_link_map", "deduplicate_births",
    "identifiers_of", "link_birth_year", "link_map_problems", "linkage_inputs", "linkage_quality",
    "render_markdown", "spine_for_year",
]
