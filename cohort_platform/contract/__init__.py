"""The raw extract contract (shared/spec/raw-extracts.md) written down as code.

`datasets` declares every file, column and rule once; `identifiers` holds the pure check-digit and
canonicalisation rules. The ingestion layer validates against these declarations and the synthetic
generator writes to them, so the two cannot drift apart.
"""
