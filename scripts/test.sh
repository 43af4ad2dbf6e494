#!/usr/bin/env bash
# Install into .venv/ and run the whole test suite: lint, format, types, then pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k timers).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh" dev,local,bench
bash scripts/system_deps.sh
echo "==> ruff check";  .venv/bin/ruff check .
echo "==> ruff format"; .venv/bin/ruff format --check .
echo "==> mypy";        .venv/bin/mypy
echo "==> pytest"
exec .venv/bin/pytest "$@"
