"""Operating the platform: alert sensor, delivery sensors, schedules and the notifier resource.

`definitions.py` adds them with the jobs of `orchestration.jobs.build_jobs`:

    jobs = build_jobs(partitioned_keys(ASSETS))
    dg.Definitions(..., jobs=jobs, sensors=build_sensors(jobs), schedules=build_schedules(jobs),
                   resources={**resources_for(settings), **operations_resources(settings)})

See docs/operations.md.
"""

from cohort_platform.defs.operations.resources import Notifier, notifier_resource, operations_resources
from cohort_platform.defs.operations.schedules import build_schedules
from cohort_platform.defs.operations.sensors import build_sensors

__all__ = ["Notifier", "build_schedules", "build_sensors", "notifier_resource", "operations_resources"]
