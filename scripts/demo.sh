#!/usr/bin/env bash
# Installs (idempotent) and runs the main job on the embedded defaults: local Ray, bundled AgentClinic cases,
# offline HPO graph, heuristic policy. Output: runs/demo/ (parquet shards + manifest + summary).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/medaction run configs/demo.toml --out "${OUT:-runs/demo}" "$@"
