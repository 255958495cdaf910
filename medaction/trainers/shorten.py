"""Shortening the middle of a prompt: the oldest results of the cumulative test record go first.

The turn prompt (policies/context.py) is [system, user]; the user message is presentation (o1) | record | recent
reasoning | instruction, the record being a section headed by the prompts' `sections.record` line, one
"Turn k:" header per turn and one line per result, ended by a blank line. `shorten_record(messages, k)` drops the
k oldest result lines (and turn headers left empty) and says so in one line, so the model still sees that results
existed. Messages without a record are returned unchanged.
"""

from __future__ import annotations

import re
from functools import lru_cache

from medaction.policies.prompts import templates

OMITTED = "[{n} earlier test results omitted]"


@lru_cache(maxsize=1)
def _markers() -> tuple[str, re.Pattern[str]]:
    sec = templates().sections
    turn = re.compile("^" + re.escape(sec.record_turn).replace(re.escape("{turn}"), r"\d+") + r"\s*$")
    return sec.record.strip(), turn


def _find(content: str) -> tuple[int, int] | None:
    """(start, end) character span of the record body (after its header line), or None."""
    header, _ = _markers()
    i = content.find(header + "\n")
    if i < 0:
        return None
    start = i + len(header) + 1
    end = content.find("\n\n", start)
    return start, (len(content) if end < 0 else end)


def _items(body: str) -> list[bool]:
    """Per line of the record body: True for a result line, False for a turn header."""
    _, turn = _markers()
    return [not turn.match(line) for line in body.split("\n")]


def count_record_items(messages: list[dict[str, str]]) -> int:
    """Result lines in the first record found in the user messages (0 = none)."""
    for m in messages:
        if m["role"] == "user" and (span := _find(m["content"])) is not None:
            return sum(_items(m["content"][span[0]:span[1]]))
    return 0


def shorten_record(messages: list[dict[str, str]], k: int) -> list[dict[str, str]]:
    """A copy of `messages` whose first record has lost its k oldest results (k <= 0: unchanged)."""
    out = [dict(m) for m in messages]
    if k <= 0:
        return out
    for m in out:
        if m["role"] != "user" or (span := _find(m["content"])) is None:
            continue
        body = m["content"][span[0]:span[1]]
        lines, is_item = body.split("\n"), _items(body)
        dropped, kept_lines = 0, []
        for line, item in zip(lines, is_item):
            if item and dropped < k:
                dropped += 1
                continue
            kept_lines.append((line, item))
        # a turn header stays only if a result of its turn stays
        final: list[str] = []
        for j, (line, item) in enumerate(kept_lines):
            if item or (j + 1 < len(kept_lines) and kept_lines[j + 1][1]):
                final.append(line)
        new_body = "\n".join([OMITTED.format(n=dropped), *final])
        m["content"] = m["content"][:span[0]] + new_body + m["content"][span[1]:]
        break
    return out
