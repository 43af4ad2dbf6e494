"""Set-up, test and recording scripts (run from the repository root)."""
