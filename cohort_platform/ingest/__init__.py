"""Ingestion of the contract's CSV deliveries, free of Dagster: read, validate, resolve re-deliveries.

`pipeline.ingest(raw_root, dataset_name, cutoff)` is the entry point the ingestion assets call; the
modules under it are usable on their own (`read.read_dataset`, `validate.validate`,
`resolve.resolve_redeliveries`). Only names that do not shadow a module are re-exported here: a
package attribute `validate` that is a function, not the module, trips `mock.patch` and
`import ... as`.
"""

from cohort_platform.ingest.pipeline import IngestResult, ingest
from cohort_platform.ingest.read import FileFault

__all__ = ["FileFault", "IngestResult", "ingest"]
