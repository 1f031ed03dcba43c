"""Where the platform reads and writes, and the data cut-off, from the environment.

- COHORT_HOME: the platform's working folder (default `data/`): warehouse, secure zone, outputs.
- COHORT_RAW_DIR: the raw extract root (default `<home>/raw`).
- COHORT_CUTOFF: the data cut-off date, ISO (default 2025-03-31). Rows dated after it are suspect.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path("data")
DEFAULT_CUTOFF = dt.date(2025, 3, 31)
FIRST_BIRTH_YEAR = 2006


@dataclass(frozen=True)
class Settings:
    home: Path
    raw_dir: Path
    cutoff: dt.date

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        home = Path(env.get("COHORT_HOME") or DEFAULT_HOME)
        raw = Path(env.get("COHORT_RAW_DIR") or home / "raw")
        cutoff_text = env.get("COHORT_CUTOFF")
        try:
            cutoff = dt.date.fromisoformat(cutoff_text) if cutoff_text else DEFAULT_CUTOFF
        except ValueError as exc:
            raise ValueError(f"COHORT_CUTOFF must be an ISO date (YYYY-MM-DD), got {cutoff_text!r}") from exc
        return cls(home=home, raw_dir=raw, cutoff=cutoff)

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def secure_dir(self) -> Path:
        return self.home / "secure"

    @property
    def environment_dir(self) -> Path:
        """Validated, normalised copies of the environmental inputs."""
        return self.home / "environment"

    @property
    def birth_years(self) -> list[int]:
        return list(range(FIRST_BIRTH_YEAR, self.cutoff.year + 1))
