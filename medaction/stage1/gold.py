"""Gold trajectories (paper RQ1): the documented path of a case, replayed through THE turn loop.

A gold trajectory orders the menu's tests in documented order (consecutive tests of one category share a turn,
groups merged so the whole path fits in max_turns), every ordered test returns its documented result, and the
differential narrows to the ground truth: alternatives drop out evenly across the test turns while the ground
truth's confidence rises. The text of each turn is written by `GoldPolicy`, a deterministic Policy that replays the
plan, and the trajectory is produced by `medaction.tree.loop.rollout` -- so prompts, oracle replies and node ids are
exactly those of a real rollout and rows can be mixed into training data (`origin="gold"`).

Alternatives come from `env.meta["differential"]` (a list of names, as importers may record the report's
differential) or from an injected `alternatives` function; with none, the differential is the ground truth alone.
An optional `narrator` policy writes richer reasoning paragraphs (an LLM); without it the text is templated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import msgspec

from medaction.envs.types import Environment, TestItem
from medaction.policies.base import Policy
from medaction.policies.parsing.turn_text import approx_tokens, render_turn
from medaction.policies.types import Completion, Hypothesis, Message, SamplingParams

GOLD_POLICY_ID = "gold"
Alternatives = Callable[[Environment], Sequence[str]]


class GoldStep(msgspec.Struct, frozen=True, kw_only=True):
    """One planned turn: the differential held before ordering `tests` (or the final diagnosis at the end)."""

    differential: tuple[Hypothesis, ...]
    tests: tuple[str, ...] = ()
    final_diagnosis: str | None = None
    pivot: str = ""
    reasoning: str = ""


_BOLD_RE = re.compile(r"\*\*([^*\n]{3,80}?)[:.]?\*\*")
_WORD_RE = re.compile(r"[a-z0-9]+")
# Section headers that MedR-Bench differentials put in bold; they are not diagnoses.
_HEADER_RE = re.compile(
    r"\b(initial|consideration|rationale|exclusion|excluded|focus|confirmation|differential|potential|other|"
    r"final|diagnos[ie]s|conclusion|summary|workup|findings|step|includ\w*|inclusion|testing|management|therapy|role|attempt|"
    r"subclassification|laparotomy)\b", re.IGNORECASE
)


def _same(a: str, b: str) -> bool:
    wa, wb = set(_WORD_RE.findall(a.lower())), set(_WORD_RE.findall(b.lower()))
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= 0.6


def meta_alternatives(env: Environment, limit: int = 5) -> list[str]:
    """Alternatives an importer recorded: meta["differential"] (names or {"diagnosis": name} objects), else the
    bold items of a Markdown meta["differential_diagnosis"] (MedR-Bench). Names like the ground truth are dropped."""
    raw = env.meta.get("differential")
    found: list[str] = []
    if isinstance(raw, list | tuple):
        for item in raw:
            name = item.get("diagnosis") if isinstance(item, dict) else item
            if isinstance(name, str):
                found.append(name.strip())
    elif isinstance(env.meta.get("differential_diagnosis"), str):
        found = [m.strip().rstrip(":").strip() for m in _BOLD_RE.findall(str(env.meta["differential_diagnosis"]))]
    names = [n for n in found if n and not _HEADER_RE.search(n) and not _same(n, env.diagnosis)]
    return list(dict.fromkeys(names))[:limit]


def group_tests(tests: Sequence[TestItem], max_groups: int) -> list[tuple[TestItem, ...]]:
    """Consecutive same-category tests share a turn; then adjacent groups merge until at most `max_groups`."""
    groups: list[list[TestItem]] = []
    for t in tests:
        if groups and t.category and groups[-1][-1].category == t.category:
            groups[-1].append(t)
        else:
            groups.append([t])
    while len(groups) > max(1, max_groups):
        # merge the adjacent pair with the fewest tests: keeps turns balanced and order intact
        i = min(range(len(groups) - 1), key=lambda k: len(groups[k]) + len(groups[k + 1]))
        groups[i : i + 2] = [groups[i] + groups[i + 1]]
    return [tuple(g) for g in groups]


def _differential(gt: str, alts: Sequence[str], keep: int, share_gt: float) -> tuple[Hypothesis, ...]:
    kept = list(alts[:keep])
    rest = (1.0 - share_gt) / len(kept) if kept else 0.0
    return (Hypothesis(gt, round(share_gt, 3)), *(Hypothesis(a, round(rest, 3)) for a in kept))


def plan(env: Environment, *, max_turns: int = 8, alternatives: Sequence[str] = ()) -> list[GoldStep]:
    """The deterministic gold plan: test turns in documented order, then the final diagnosis."""
    groups = group_tests(env.tests, max_turns - 1) if env.tests else []
    alts = list(alternatives)
    n = len(groups)
    steps: list[GoldStep] = []
    for i, group in enumerate(groups):
        keep = len(alts) - (len(alts) * i) // n  # alternatives drop out evenly across the test turns
        share = 1.0 / (keep + 1) + (0.9 - 1.0 / (keep + 1)) * i / n if keep else 0.5 + 0.4 * i / n
        diff = _differential(env.diagnosis, alts, keep, share)
        names = tuple(t.name for t in group)
        others = ", ".join(h.diagnosis for h in diff[1:])
        pivot = f"distinguish {env.diagnosis} from {others}" if others else f"confirm or refute {env.diagnosis}"
        steps.append(GoldStep(differential=diff, tests=names, pivot=pivot, reasoning=_reason(env, groups, i, diff)))
    final_diff = (Hypothesis(env.diagnosis, 1.0),)
    done = ", ".join(t.name for t in env.tests) or "the presentation"
    steps.append(
        GoldStep(
            differential=final_diff,
            final_diagnosis=env.diagnosis,
            reasoning=f"The documented findings ({done}) establish the diagnosis: {env.diagnosis}.",
        )
    )
    return steps


def _reason(env: Environment, groups: Sequence[Sequence[TestItem]], i: int, diff: Sequence[Hypothesis]) -> str:
    names = ", ".join(t.name for t in groups[i])
    lead = f"The leading diagnosis is {diff[0].diagnosis}"
    if len(diff) > 1:
        lead += "; still considered: " + ", ".join(h.diagnosis for h in diff[1:])
    if i == 0:
        return f"Based on the presentation, {lead}. Ordering {names} to narrow the differential."
    prev = "; ".join(f"{t.name}: {t.result[:160]}" for t in groups[i - 1])
    return f"New results ({prev}) narrow the differential. {lead}. Next: {names}."


class GoldPolicy:
    """Replays a gold plan: the k-th call (k = assistant turns already in the prompt) answers step k.

    With a `narrator` policy, the narrator rewrites each step's reasoning paragraph from the prompt the loop built
    (o1 + record so far); the structured part (differential, tests, final) stays the plan's, so the path is fixed.
    """

    def __init__(self, steps: Sequence[GoldStep], *, narrator: Policy | None = None) -> None:
        self.steps = list(steps)
        self.narrator = narrator
        self.calls = 0

    async def complete(
        self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
    ) -> Completion:
        step = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        reasoning = step.reasoning
        if self.narrator is not None:
            ask = (
                "Write one short paragraph of clinical reasoning for the next step. "
                + (f"The next tests are: {', '.join(step.tests)}." if step.tests else
                   f"The final diagnosis is: {step.final_diagnosis}.")
                + " Do not output JSON."
            )
            done = await self.narrator.complete(
                (*messages, Message("user", ask)), session=session, seed=seed, params=params
            )
            reasoning = done.text.strip() or reasoning
        text = render_turn(
            reasoning, step.differential, pivot=step.pivot, tests=step.tests, final_diagnosis=step.final_diagnosis
        )
        return Completion(
            text=text,
            prompt_tokens=sum(approx_tokens(m.content) for m in messages),
            completion_tokens=approx_tokens(text),
        )


async def gold_trajectory(
    env: Environment,
    *,
    max_turns: int = 8,
    seed: int = 0,
    alternatives: Alternatives = meta_alternatives,
    narrator: Policy | None = None,
    policy_id: str = GOLD_POLICY_ID,
):  # -> medaction.tree.types.Trajectory (tree id "gold::<case_id>", as tree.tree_id_for makes it)
    """Run the gold plan through the one turn loop. The oracle answers from the menu, as in any rollout."""
    from medaction.tree.loop import rollout  # the turn loop lives in a higher layer; import at use

    steps = plan(env, max_turns=max_turns, alternatives=alternatives(env))
    return await rollout(env, GoldPolicy(steps, narrator=narrator), max_turns=max_turns, seed=seed, policy_id=policy_id)
