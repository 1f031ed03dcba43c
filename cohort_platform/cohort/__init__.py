"""The research-ready cohort: one table per topic, keyed by the research pseudonym, and their dictionary.

Pure functions over polars frames, without Dagster: `columns` describes every research table and
column once (for Dagster column schemas and `docs/data_dictionary.md`); `research` builds the tables
for one birth year from the clean datasets and the link map.
"""
