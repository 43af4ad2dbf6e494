"""How a worker joins a Worker Deployment (Worker Versioning) and how its pollers are tuned.

Versioned mode: with ``CONVOFLOW_DEPLOYMENT_NAME`` and ``CONVOFLOW_BUILD_ID`` (or
``--deployment-name``/``--build-id``) the worker registers as the version
``<deployment>.<build id>`` and every session it starts is **pinned** to that version. When an
operator makes another version current (``temporal worker deployment set-current-version``),
each session moves at its next safe point: between turns it continues-as-new with the
auto-upgrade behaviour (see ``workflows.session.upgrade``). Unversioned mode (neither set) is
the embedded default and behaves exactly as before.
"""

from datetime import timedelta
from typing import Any

from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import PollerBehaviorSimpleMaximum, WorkerDeploymentConfig

from client.errors import ConvoflowError
from models.settings import Settings


class DeploymentConfigError(ConvoflowError):
    """The deployment settings are incomplete or malformed; the message names the setting."""


def deployment_version(settings: Settings) -> WorkerDeploymentVersion | None:
    """The version named by the settings; both parts or neither, no ``.`` in the name."""
    name, build_id = settings.worker.deployment_name, settings.worker.build_id
    if not name and not build_id:
        return None
    if not name:
        raise DeploymentConfigError(
            "CONVOFLOW_BUILD_ID is set but CONVOFLOW_DEPLOYMENT_NAME is not: set both"
            " (--deployment-name) or neither"
        )
    if not build_id:
        raise DeploymentConfigError(
            "CONVOFLOW_DEPLOYMENT_NAME is set but CONVOFLOW_BUILD_ID is not: set both"
            " (--build-id) or neither"
        )
    if "." in name:
        # The server's canonical form is "<deployment>.<build id>": a dot would be ambiguous.
        raise DeploymentConfigError(f"CONVOFLOW_DEPLOYMENT_NAME {name!r} must not contain '.'")
    return WorkerDeploymentVersion(deployment_name=name, build_id=build_id)


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """The worker's ``deployment_config``: versioned and pinned by default, or None."""
    version = deployment_version(settings)
    if version is None:
        return None
    return WorkerDeploymentConfig(
        version=version,
        use_worker_versioning=True,
        # Sessions live for days: pinned, they never meet new code mid-conversation; they
        # upgrade only at a safe point, by continue-as-new.
        default_versioning_behavior=VersioningBehavior.PINNED,
    )


def worker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of ``Worker`` for versioning and polling (SDK defaults unless set)."""
    return {
        "deployment_config": deployment_config(settings),
        "workflow_task_poller_behavior": PollerBehaviorSimpleMaximum(
            maximum=settings.worker.workflow_task_pollers
        ),
        "activity_task_poller_behavior": PollerBehaviorSimpleMaximum(
            maximum=settings.worker.activity_task_pollers
        ),
        "nonsticky_to_sticky_poll_ratio": settings.worker.nonsticky_to_sticky_poll_ratio,
        "sticky_queue_schedule_to_start_timeout": timedelta(
            seconds=settings.worker.sticky_schedule_to_start_seconds
        ),
    }
