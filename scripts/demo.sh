#!/usr/bin/env bash
# Installs (idempotent) and runs the main job on the embedded defaults: local Ray, bundled AgentClinic cases,
# offline HPO graph, heuristic policy. Output: runs/demo/ (parquet shards + manifest + summary).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# The demo's local Ray binds to 127.0.0.1 (servers stay on loopback unless told otherwise). Ray's switch for that
# on Linux is this variable; the library itself never sets it. Unset it / set RAY_ADDRESS to use a real cluster.
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="${RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER-0}"
.venv/bin/medaction run configs/demo.toml --out "${OUT:-runs/demo}" "$@"
