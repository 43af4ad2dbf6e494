#!/usr/bin/env bash
# Install into .venv/ and run the main job: embedded Temporal dev server + worker + a chat.
# Extra arguments go to `convoflow dev` (e.g. scripts/dev.sh --session demo --no-chat).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh" local
exec .venv/bin/convoflow dev "$@"
