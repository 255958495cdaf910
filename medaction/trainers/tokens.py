"""Chat-template tokenisation with assistant-only loss masks, truncation that never cuts a trained span silently,
and optional packing.

Masks come from character spans: render the conversation once with the student's chat template, find each
trained assistant message's span as render(messages[:i+1]) minus render(messages[:i], add_generation_prompt=True)
(the content plus the template's end-of-turn marker, so the model learns to stop), and label the tokens whose
offsets start inside a span. Tokenising the whole text once (not piece by piece) keeps BPE merges identical to
what the model sees at inference.

Too long for max_length (truncation = "middle", the default): the middle of the prompt goes first. The test record
(trainers/shorten.py) loses its oldest results, as few as needed, so the system prompt, the presentation (o1), the
latest results and the trained reply stay; only if that is still too long is the prompt cut on the left. Examples
shortened this way are counted (`record_shortened`, `record_items_dropped`).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import msgspec
import numpy as np
import pyarrow as pa

from medaction.trainers.shorten import count_record_items, shorten_record

log = logging.getLogger(__name__)

IGNORE = -100
Status = Literal["ok", "record_shortened", "left_truncated", "dropped_too_long", "no_labels"]

TOKEN_SCHEMA = pa.schema(
    [("input_ids", pa.list_(pa.int32())), ("labels", pa.list_(pa.int32())), ("position_ids", pa.list_(pa.int32())),
     ("status", pa.string()), ("record_dropped", pa.int32())]
)


class TokenStats(msgspec.Struct, kw_only=True):
    examples: int = 0
    ok: int = 0
    record_shortened: int = 0  # fitted by dropping the oldest test results from the record (system, o1 kept)
    record_items_dropped: int = 0  # test results dropped over all examples (incl. those then left-truncated)
    left_truncated: int = 0
    dropped_too_long: int = 0
    no_labels: int = 0
    tokens: int = 0
    label_tokens: int = 0

    def add(self, status: str, n_tokens: int = 0, n_labels: int = 0, dropped: int = 0) -> None:
        self.examples += 1
        setattr(self, status, getattr(self, status) + 1)
        self.record_items_dropped += dropped
        self.tokens += n_tokens
        self.label_tokens += n_labels


def render_with_spans(tokenizer: Any, messages: list[dict[str, str]],
                      train_on: list[bool]) -> tuple[str, list[tuple[int, int]]]:
    """The template-rendered text and the character spans of the assistant messages that carry loss."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for i, (msg, train) in enumerate(zip(messages, train_on, strict=True)):
        if not train:
            continue
        if msg["role"] != "assistant":
            raise ValueError(f"train_on marks message {i} with role {msg['role']!r}; only assistant turns train")
        before = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
        upto = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if not (upto.startswith(before) and text.startswith(upto)):
            raise ValueError("the chat template is not prefix-stable; cannot locate assistant spans")
        spans.append((len(before), len(upto)))
    return text, spans


def tokenize_example(tokenizer: Any, messages: list[dict[str, str]], train_on: list[bool], *, max_length: int,
                     truncation: str = "left") -> tuple[list[int], list[int], Status]:
    ids, labels, status, _ = fit_example(tokenizer, messages, train_on, max_length=max_length, truncation=truncation)
    return ids, labels, status


def fit_example(tokenizer: Any, messages: list[dict[str, str]], train_on: list[bool], *, max_length: int,
                truncation: str = "middle") -> tuple[list[int], list[int], Status, int]:
    """(input_ids, labels, status, test results dropped from the record) within max_length; see the docstring."""
    ids, labels, status = _tokenize(tokenizer, messages, train_on, max_length=max_length,
                                    truncation="drop" if truncation == "middle" else truncation)
    if status != "dropped_too_long" or truncation != "middle":
        return ids, labels, status, 0
    n = count_record_items(messages)
    if n < 2:  # nothing in the middle to shorten (keep the latest result): cut on the left
        return (*_tokenize(tokenizer, messages, train_on, max_length=max_length, truncation="left"), 0)

    def attempt(k: int) -> tuple[list[int], list[int], Status]:
        return _tokenize(tokenizer, shorten_record(messages, k), train_on, max_length=max_length, truncation="drop")

    lo, hi = 1, n - 1  # the fewest oldest results to drop so the example fits; always keep the latest one
    best = attempt(hi)
    if best[2] == "dropped_too_long":  # even system + o1 + the latest result is too long: left-cut that
        ids, labels, status = _tokenize(tokenizer, shorten_record(messages, hi), train_on, max_length=max_length,
                                        truncation="left")
        return ids, labels, status, (hi if status == "left_truncated" else 0)
    while lo < hi:
        mid = (lo + hi) // 2
        got = attempt(mid)
        if got[2] == "ok":
            best, hi = got, mid
        else:
            lo = mid + 1
    return best[0], best[1], "record_shortened", hi


def _tokenize(tokenizer: Any, messages: list[dict[str, str]], train_on: list[bool], *, max_length: int,
              truncation: str) -> tuple[list[int], list[int], Status]:
    text, spans = render_with_spans(tokenizer, messages, train_on)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(enc["input_ids"])
    starts = np.array([s for s, _ in enc["offset_mapping"]], dtype=np.int64)
    mask = np.zeros(len(ids), dtype=bool)
    for a, b in spans:
        mask |= (starts >= a) & (starts < b)
    labels = np.where(mask, np.array(ids, dtype=np.int64), IGNORE).tolist()
    if not mask.any():
        return [], [], "no_labels"
    if len(ids) <= max_length:
        return ids, labels, "ok"
    first_label = int(np.argmax(mask))
    if truncation == "left" and first_label >= len(ids) - max_length:
        # Cut only prompt tokens before the first trained token; every trained token survives.
        return ids[-max_length:], labels[-max_length:], "left_truncated"
    return [], [], "dropped_too_long"


def pack(examples: list[tuple[list[int], list[int]]], max_length: int) -> list[tuple[list[int], list[int], list[int]]]:
    """Greedy in-order packing into sequences of <= max_length; position_ids restart at each example.

    Attention is not block-masked across packed examples (the usual trade-off of naive packing); attention
    implementations that read packed position_ids (flash-attention varlen) do separate them.
    """
    packs: list[tuple[list[int], list[int], list[int]]] = []
    ids: list[int] = []
    labels: list[int] = []
    pos: list[int] = []
    for e_ids, e_labels in examples:
        if ids and len(ids) + len(e_ids) > max_length:
            packs.append((ids, labels, pos))
            ids, labels, pos = [], [], []
        ids = ids + e_ids
        labels = labels + e_labels
        pos = pos + list(range(len(e_ids)))
    if ids:
        packs.append((ids, labels, pos))
    return packs


def tokenize_rows(rows: list[dict[str, Any]], tokenizer: Any, *, max_length: int, truncation: str, packing: bool,
                  stats: TokenStats | None = None) -> list[dict[str, Any]]:
    """Tokenise example rows; dropped ones are counted (and logged with their record) and left out."""
    stats = stats if stats is not None else TokenStats()
    kept: list[tuple[list[int], list[int]]] = []
    status_of: list[tuple[str, int]] = []
    for row in rows:
        msgs = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
        ids, labels, status, dropped = fit_example(tokenizer, msgs, list(row["train_on"]), max_length=max_length,
                                                   truncation=truncation)
        stats.add(status, len(ids), sum(1 for x in labels if x != IGNORE), dropped)
        if status in ("dropped_too_long", "no_labels"):
            log.warning("example %s/%s turn %s: %s (max_length=%d)", row.get("tree_id"), row.get("path"),
                        row.get("turn"), status, max_length)
            continue
        kept.append((ids, labels))
        status_of.append((status, dropped))
    if packing:
        return [{"input_ids": i, "labels": lab, "position_ids": p, "status": "packed", "record_dropped": 0}
                for i, lab, p in pack(kept, max_length)]
    return [{"input_ids": i, "labels": lab, "position_ids": list(range(len(i))), "status": s, "record_dropped": d}
            for (i, lab), (s, d) in zip(kept, status_of, strict=True)]


class TokenizeBatch:
    """Ray Data callable class: loads the student's tokenizer once per worker, then tokenises batches."""

    def __init__(self, tokenizer_factory: Any, max_length: int, truncation: str, packing: bool) -> None:
        self.tokenizer = tokenizer_factory()
        self.max_length, self.truncation, self.packing = max_length, truncation, packing

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = tokenize_rows(batch.to_pylist(), self.tokenizer, max_length=self.max_length,
                             truncation=self.truncation, packing=self.packing)
        return pa.Table.from_pylist(rows, schema=TOKEN_SCHEMA)


def collate(rows: list[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """Right-pad a micro-batch to its longest sequence; labels pad with -100, attention mask 0."""
    import torch

    n = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), n), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), n), IGNORE, dtype=torch.long)
    pos = torch.zeros((len(rows), n), dtype=torch.long)
    att = torch.zeros((len(rows), n), dtype=torch.long)
    for i, r in enumerate(rows):
        k = len(r["input_ids"])
        ids[i, :k] = torch.as_tensor(list(r["input_ids"]))
        labels[i, :k] = torch.as_tensor(list(r["labels"]))
        pos[i, :k] = torch.as_tensor(list(r["position_ids"]))
        att[i, :k] = 1
    return {"input_ids": ids, "labels": labels, "position_ids": pos, "attention_mask": att}
