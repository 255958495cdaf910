"""Read a command's JSON report from stdout that Ray may have written into too."""
from __future__ import annotations

import json
from typing import Any


def last_json_object(text: str) -> dict[str, Any]:
    """The last stdout line that is a JSON object: a local Ray's log monitor prints lines such as "(raylet) WARNING:
    6 PYTHON worker processes ..." on the driver's stdout at any moment, also after the report."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    raise AssertionError(f"no JSON object line in stdout: {text[-2000:]!r}")
