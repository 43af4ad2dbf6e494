"""Worker Versioning and poller settings: flags, environment, and what the worker gets."""

import subprocess
import sys

import pytest
from temporalio.common import VersioningBehavior
from temporalio.worker import PollerBehaviorSimpleMaximum

from cli.parser import build_parser, settings_from
from models.settings import Settings
from worker.deployment import DeploymentConfigError, deployment_config, worker_options


def test_unversioned_by_default() -> None:
    options = worker_options(Settings())
    assert options["deployment_config"] is None
    assert options["workflow_task_poller_behavior"] == PollerBehaviorSimpleMaximum(maximum=5)


def test_flags_make_a_pinned_deployment_version() -> None:
    deploy = ["--deployment-name", "convoflow", "--build-id", "2026-12-03.1"]
    tuning = ["--workflow-pollers", "8", "--activity-pollers", "3", "--max-cached-workflows", "0"]
    args = build_parser().parse_args(["worker", *deploy, *tuning])
    settings = settings_from(args)
    config = deployment_config(settings)
    assert config is not None
    assert config.version.to_canonical_string() == "convoflow.2026-12-03.1"
    assert config.use_worker_versioning
    assert config.default_versioning_behavior == VersioningBehavior.PINNED
    options = worker_options(settings)
    assert options["workflow_task_poller_behavior"] == PollerBehaviorSimpleMaximum(maximum=8)
    assert options["activity_task_poller_behavior"] == PollerBehaviorSimpleMaximum(maximum=3)
    assert settings.worker.max_cached_workflows == 0


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"build_id": "v1"}, "CONVOFLOW_DEPLOYMENT_NAME"),
        ({"deployment_name": "convoflow"}, "CONVOFLOW_BUILD_ID"),
        ({"deployment_name": "a.b", "build_id": "v1"}, "must not contain '.'"),
    ],
)
def test_half_a_deployment_is_refused(values: dict[str, str], names: str) -> None:
    with pytest.raises(DeploymentConfigError, match=names):
        deployment_config(Settings(**values))


def test_worker_refuses_half_a_deployment_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "worker", "--build-id", "v1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "convoflow: CONVOFLOW_BUILD_ID is set but CONVOFLOW_DEPLOYMENT_NAME is not: set both"
        " (--deployment-name) or neither"
    ]
