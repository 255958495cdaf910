"""Where medaction keeps derived artefacts (graph stores, indexes, converted models): one root for every layer.

`MEDACTION_CACHE` overrides `~/.cache/medaction`; everything under it can be deleted and is rebuilt on first use.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("MEDACTION_CACHE") or Path.home() / ".cache" / "medaction")
