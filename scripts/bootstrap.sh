# Shared by scripts/dev.sh and scripts/test.sh: create .venv/ and install the project into it.
# Usage: source scripts/bootstrap.sh [EXTRAS]   (EXTRAS like "dev" or "local")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv/ with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
TARGET="."
if [ -n "${1:-}" ]; then TARGET=".[$1]"; fi
echo "==> installing convoflow ($TARGET) into .venv/ (the first run takes a few minutes)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$TARGET" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import client, workflows.session" || { echo "install failed" >&2; exit 1; }
