"""How the assets are run: birth-year partitions, jobs, and the headless build."""
