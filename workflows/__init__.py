"""The session workflow and its pure helpers (deterministic, no I/O)."""
