"""The cluster configuration in deploy/: it parses, its run queue keeps the rules of the local one,
it names a known birth-year executor, it shares COHORT_HOME at one path, and it holds no key."""

import re
from pathlib import Path

import pytest
import yaml
from dagster._utils.tags import TagConcurrencyLimitsCounter

from cohort_platform.orchestration.jobs import BIRTH_YEAR_JOB, EXECUTORS, OUTPUTS_JOB, SHARED_JOB, STAGE_TAGS

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
YAML_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))


def _celery_queue() -> dict:
    return yaml.safe_load((DEPLOY / "celery" / "dagster.yaml").read_text())["run_queue"]


def _k8s_values() -> dict:
    return yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text())


def _k8s_queue() -> dict:
    queued = _k8s_values()["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    return {"max_concurrent_runs": queued["maxConcurrentRuns"], "tag_concurrency_limits": queued["tagConcurrencyLimits"]}


QUEUES = {"local": lambda: yaml.safe_load((REPO / "dagster.yaml").read_text())["run_queue"],
          "celery": _celery_queue, "k8s": _k8s_queue}


class _Run:
    def __init__(self, tags: dict):
        self.tags = tags


def _year(year: str) -> _Run:
    return _Run({**STAGE_TAGS[BIRTH_YEAR_JOB], "dagster/partition": year})


def _blocked(queue: dict, run: _Run, in_progress: list[_Run]) -> bool:
    if len(in_progress) >= queue["max_concurrent_runs"]:
        return True
    return TagConcurrencyLimitsCounter(queue["tag_concurrency_limits"], in_progress).is_blocked(run)


def test_the_deploy_folder_holds_the_configuration_for_both_clusters():
    names = {str(p.relative_to(DEPLOY)) for p in YAML_FILES}
    assert {"celery/docker-compose.yml", "celery/dagster.yaml", "k8s/values.yaml", "k8s/storage.yaml"} <= names


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_deploy_yaml_file_parses(path):
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents and all(isinstance(d, dict) for d in documents)


@pytest.mark.parametrize("name", sorted(QUEUES))
def test_every_queue_runs_one_warehouse_writer_at_a_time(name):
    queue = QUEUES[name]()
    assert _blocked(queue, _Run(STAGE_TAGS[SHARED_JOB]), [_Run(STAGE_TAGS[OUTPUTS_JOB])])


@pytest.mark.parametrize("name", sorted(QUEUES))
def test_every_queue_runs_several_birth_years_but_never_one_twice(name):
    queue = QUEUES[name]()
    assert not _blocked(queue, _year("2007"), [_year("2006")])
    assert _blocked(queue, _year("2006"), [_year("2006")])


def test_each_cluster_names_a_known_birth_year_executor_and_a_shared_home_at_one_path():
    compose = yaml.safe_load((DEPLOY / "celery" / "docker-compose.yml").read_text())
    env = compose["x-cohort"]["environment"]
    assert env["COHORT_BIRTH_YEAR_EXECUTOR"] == "celery"
    for name in ("code", "celery-worker"):
        mounts = compose["services"][name].get("volumes") or compose["x-cohort"]["volumes"]
        assert f"cohort_home:{env['COHORT_HOME']}" in mounts, name
    [deployment] = _k8s_values()["dagster-user-deployments"]["deployments"]
    assert deployment["env"]["COHORT_BIRTH_YEAR_EXECUTOR"] in EXECUTORS
    assert {"name": "cohort-home", "mountPath": deployment["env"]["COHORT_HOME"]} in deployment["volumeMounts"]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"]  # run pods get the volumes and the Secret


def test_the_key_comes_from_a_secret_and_is_written_in_no_deploy_file():
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            assert not re.search(r"\b[0-9a-fA-F]{64}\b", path.read_text()), path
    compose = yaml.safe_load((DEPLOY / "celery" / "docker-compose.yml").read_text())
    assert compose["x-cohort"]["environment"]["COHORT_PSEUDONYM_KEY"].startswith("${COHORT_PSEUDONYM_KEY:?")
    [deployment] = _k8s_values()["dagster-user-deployments"]["deployments"]
    assert {"name": "cohort-pseudonym-key"} in deployment["envSecrets"]
    assert "COHORT_PSEUDONYM_KEY" not in deployment["env"]
