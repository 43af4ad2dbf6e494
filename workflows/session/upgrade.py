"""Moving a pinned session to a newly deployed worker version, at a safe point.

Under Worker Versioning each session is pinned to the version it started on. When an operator
makes another version current, the server flags the session's next workflow task
(``is_target_worker_deployment_version_changed``); the run loop then treats the flag like any
other reason to continue-as-new: between turns (never in the middle of one), after draining,
carrying its state, and the next run starts with ``AUTO_UPGRADE``, that is on the deployment's
current version, where it is pinned again. An unversioned session never sees the flag.
"""

from typing import NoReturn

from temporalio import workflow

from models import SessionConfig, SessionInput
from workflows.session.options import UPGRADE_ON_CONTINUE_PATCH, history_is_long


def upgrade_due() -> bool:
    """The deployment's current version is not this run's: move at the next safe point.

    The patch is consulted only once the flag is up, so histories without an upgrade record
    no marker and replay unchanged.
    """
    return workflow.info().is_target_worker_deployment_version_changed() and workflow.patched(
        UPGRADE_ON_CONTINUE_PATCH
    )


def continue_due(config: SessionConfig) -> bool:
    """Time for a new run: the history is long (or the server suggests it), or another
    worker version became current and the session should move onto it."""
    return history_is_long(config) or upgrade_due()


def next_run_behavior() -> workflow.ContinueAsNewVersioningBehavior | None:
    """The versioning behaviour of the next run's first task: upgrade when one is due, else
    the default inheritance (a pinned run's successor stays on its version)."""
    return workflow.ContinueAsNewVersioningBehavior.AUTO_UPGRADE if upgrade_due() else None


def continue_as_new(next_input: SessionInput) -> NoReturn:
    """Hand the session to its next run, on the current version when an upgrade is due."""
    workflow.continue_as_new(next_input, initial_versioning_behavior=next_run_behavior())
