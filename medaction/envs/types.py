"""Shared types of the environment layer: a clinical case as an interactive environment (paper 3.3 Stage 1)."""

from __future__ import annotations

import msgspec

UNAVAILABLE = "UNAVAILABLE"


class TestItem(msgspec.Struct, frozen=True, kw_only=True):
    """One documented test of the menu: what it is called, its category path and its documented result."""

    __test__ = False  # keep pytest from collecting this class

    name: str
    category: str = ""
    result: str = ""
    aliases: tuple[str, ...] = ()


class Environment(msgspec.Struct, frozen=True, kw_only=True):
    """E = (o1, menu, oracle, ground truth). Policies see only `initial_observation`."""

    case_id: str
    source: str
    initial_observation: str
    tests: tuple[TestItem, ...] = ()
    diagnosis: str = ""
    meta: dict[str, object] = {}


class OracleReply(msgspec.Struct, frozen=True, kw_only=True):
    """The oracle's answer to one requested test; `available=False` means the literal result UNAVAILABLE."""

    request: str
    matched: tuple[str, ...] = ()
    result: str = UNAVAILABLE
    available: bool = False
