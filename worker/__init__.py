"""Temporal client construction and the session worker."""
