"""The session workflow: one durable chat session per Temporal workflow."""

from workflows.session.workflow import SessionWorkflow

__all__ = ["SessionWorkflow"]
