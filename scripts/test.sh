#!/usr/bin/env bash
# Installs (idempotent) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 RAY_AUTH_MODE=disabled HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
bash scripts/install.sh
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
