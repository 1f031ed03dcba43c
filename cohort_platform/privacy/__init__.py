"""The "safe people, safe data" side of the platform: opt-outs, survey consent, pseudonyms, leak scans.

Pure functions over polars frames, without Dagster; `defs/` wires them into assets and checks.
"""
