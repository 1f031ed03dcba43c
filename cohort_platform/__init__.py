"""cohort_platform."""
