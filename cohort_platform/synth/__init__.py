"""Synthetic raw extracts that follow the raw extract contract, with ground truth kept outside them.

`generate` (in `generate.py`) is the entry point; `geography`, `population`, `extract_*`, `noise`,
`delivery` and `truth` are its stages; `environment` writes the environmental grids and roads.
"""

from cohort_platform.synth.generate import GenerationSummary, generate

__all__ = ["GenerationSummary", "generate"]
