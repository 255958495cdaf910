"""Tokenisation: assistant-only masks, truncation that never cuts a trained span, packing (local tokenizer)."""

from __future__ import annotations

import pytest

from tests.support.tiny import build_tokenizer
from medaction.trainers.tokens import IGNORE, TokenStats, pack, tokenize_example, tokenize_rows

MSGS = [
    {"role": "system", "content": "You are a diagnostician."},
    {"role": "user", "content": "Case: fever and cough. Order tests."},
    {"role": "assistant", "content": "Pneumonia is likely.\n{\"tests\": [\"chest x-ray\"]}"},
    {"role": "user", "content": "Results: chest x-ray: infiltrate"},
    {"role": "assistant", "content": "{\"final_diagnosis\": \"pneumonia\"}"},
]


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer([m["content"] for m in MSGS] * 20, vocab_size=300)


def test_mask_covers_exactly_the_assistant_tokens(tok) -> None:
    ids, labels, status = tokenize_example(tok, MSGS, [False, False, True, False, True], max_length=4096)
    assert status == "ok" and len(ids) == len(labels)
    labelled = [i for i, x in enumerate(labels) if x != IGNORE]
    assert all(labels[i] == ids[i] for i in labelled)
    # Two contiguous spans, each = the assistant text + the end-of-turn marker, nothing else.
    spans, cur = [], [labelled[0]]
    for i in labelled[1:]:
        if i == cur[-1] + 1:
            cur.append(i)
        else:
            spans.append(cur)
            cur = [i]
    spans.append(cur)
    assert len(spans) == 2
    for span, msg in zip(spans, (MSGS[2], MSGS[4]), strict=True):
        assert tok.decode([ids[i] for i in span]) == msg["content"] + "<|im_end|>\n"
    # Only the last assistant turn trains -> only the second span.
    _, labels2, _ = tokenize_example(tok, MSGS, [False, False, False, False, True], max_length=4096)
    assert [i for i, x in enumerate(labels2) if x != IGNORE] == spans[1]


def test_truncation_left_keeps_assistant_and_drop_counts(tok) -> None:
    msgs, train_on = MSGS[:3], [False, False, True]
    full, labels, _ = tokenize_example(tok, msgs, train_on, max_length=4096)
    n_label = sum(x != IGNORE for x in labels)
    first = next(i for i, x in enumerate(labels) if x != IGNORE)
    ids, lab, status = tokenize_example(tok, msgs, train_on, max_length=len(full) - 3)
    assert status == "left_truncated" and ids == full[3:] and sum(x != IGNORE for x in lab) == n_label
    # A window too short for the whole assistant span: dropped, never cut.
    assert tokenize_example(tok, msgs, train_on, max_length=len(full) - first - 1)[2] == "dropped_too_long"
    assert tokenize_example(tok, msgs, train_on, max_length=len(full) - 3, truncation="drop")[2] == "dropped_too_long"
    stats = TokenStats()
    rows = [{"messages": msgs, "train_on": train_on}] * 2 + [{"messages": msgs, "train_on": [False] * 3}]
    out = tokenize_rows(rows, tok, max_length=len(full) - 3, truncation="left", packing=False, stats=stats)
    assert len(out) == 2 and (stats.left_truncated, stats.no_labels, stats.examples) == (2, 1, 3)


def test_packing_restarts_positions(tok) -> None:
    ex = [([1, 2, 3], [IGNORE, 2, 3]), ([4, 5], [IGNORE, 5]), ([6, 7, 8, 9], [IGNORE, 7, 8, 9])]
    packs = pack(ex, max_length=5)
    assert [p[0] for p in packs] == [[1, 2, 3, 4, 5], [6, 7, 8, 9]]
    assert packs[0][2] == [0, 1, 2, 0, 1] and packs[0][1] == [IGNORE, 2, 3, IGNORE, 5]
