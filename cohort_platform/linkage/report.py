"""A readable Markdown report of linkage quality (one or more birth years).

`render_markdown(qualities)` writes the tables of `quality.LinkageQuality` as Markdown: link rate per
step, model-estimated and NHS-checked precision and recall, blocking recall, the match-weight
histogram (as a text bar chart), link rate by group (small cells suppressed), the mother-baby link,
and the clerical review sample. The sample is shown as ids and comparison levels only, unless
`secure_clerical` (from `quality.with_identifiers`) is given: pass it only when writing the report
into the secure zone.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from cohort_platform.linkage.quality import SMALL_CELL, LinkageQuality


def _table(frame: pl.DataFrame, floats: int = 4) -> str:
    if frame.is_empty():
        return "_none_\n"
    cols = frame.columns

    def cell(v) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.{floats}f}"
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join(lines) + "\n"


def _histogram(hist: pl.DataFrame, width: int = 40) -> str:
    out = []
    for (ds,), part in hist.group_by("dataset", maintain_order=True):
        top = max(int(part["records"].max() or 1), 1)
        out.append(f"{ds}\n```")
        for row in part.iter_rows(named=True):
            bar = "#" * max(1 if row["records"] else 0, round(width * row["records"] / top))
            out.append(f"{row['weight_bin']:>6.0f} {row['records']:>7} {row['linked']:>7} {bar}")
        out.append("```")
    return "\n".join(out) + "\n" if out else "_none_\n"


def render_markdown(qualities: Iterable[LinkageQuality], secure_clerical: pl.DataFrame | None = None,
                    title: str = "Linkage quality") -> str:
    parts = [f"# {title}\n"]
    for q in qualities:
        parts.append(f"## Birth year {q.birth_year}\n")
        parts.append("### Link rate by step\nShare of each dataset's candidate records (children who could "
                     "belong to this birth year) linked by each step.\n")
        parts.append(_table(q.link_rates))
        parts.append("### Probabilistic step: estimates from the model\nPrecision = mean match probability of "
                     "accepted links; recall = expected true matches accepted / expected true matches among "
                     "every record's best candidate. The threshold is the valley of the best-weight histogram.\n")
        parts.append(_table(q.model_estimates))
        parts.append("### Checked against NHS numbers\nRecords whose valid NHS number belongs to one spine "
                     "person (the label). `nhs_dob_sex` agrees by construction; other steps are the check.\n")
        parts.append(_table(q.nhs_check))
        parts.append("### Blocking rule recall (NHS-labelled pairs)\n")
        parts.append(_table(q.blocking))
        parts.append("### Match-weight histogram (best candidate per record: bin, records, linked)\n")
        parts.append(_histogram(q.histogram))
        parts.append(f"### Link rate by group (linkage bias)\nGroups under {SMALL_CELL} records suppressed.\n")
        parts.append(_table(q.bias))
        parts.append("### Mother-baby link\n")
        parts.append(_table(pl.DataFrame([{k: v for k, v in q.mother_baby.items()}])) if q.mother_baby else "_none_\n")
        parts.append("### Clerical review sample (borderline pairs)\n")
        parts.append(_table(q.clerical, floats=2))
    if secure_clerical is not None:
        parts.append("## Clerical review with identifiers (SECURE: do not export)\n")
        parts.append(_table(secure_clerical, floats=2))
    return "\n".join(parts)
