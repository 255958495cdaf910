"""Stage 1 (paper 3.3): one case report -> one Environment, through any Policy backend.

Flow per case: prompt -> completion -> parse (JSON anywhere, fences tolerated) -> msgspec schema -> validation.
Any error (unparseable, schema, empty o1/diagnosis, an injected check such as leakage) earns ONE repair turn that
shows the model its answer and the reasons; a second failure is a per-case `ExtractResult` with `failure` set.
Warnings (a test without a result dropped, duplicates merged, report truncated) keep the environment and are
recorded in `env.meta["extract"]["warnings"]`. Nothing here raises for bad model output or a failing backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import msgspec

from medaction.stage1.extract_prompt import EXTRACT_PROMPT_VERSION, build_messages, repair_messages
from medaction.stage1.extract_schema import ExtractParseError, Extraction, decode_extraction
from medaction.envs.leakage import check_environment, merge_duplicate_tests
from medaction.envs.types import Environment, TestItem
from medaction.policies.base import Policy
from medaction.policies.types import Message, SamplingParams

SOURCE = "extracted"
Severity = Literal["error", "warning"]


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One validation finding. `span` quotes the offending text when there is one (e.g. a leaked phrase)."""

    field: str
    reason: str
    severity: Severity = "error"
    span: str = ""


# A check sees the candidate environment and returns problems (e.g. the leakage check of envs/leakage.py).
Check = Callable[[Environment], Sequence[Problem]]


class ExtractConfig(msgspec.Struct, frozen=True, kw_only=True):
    max_report_chars: int = 24000  # ~6k tokens: fits 8k-context models with room for the answer
    max_field_chars: int = 4000  # untrusted output: longer fields are cut (warning)
    max_tests: int = 200
    repair: bool = True
    params: SamplingParams = SamplingParams(temperature=0.0, max_tokens=4096)


class ExtractResult(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    env: Environment | None
    problems: tuple[Problem, ...] = ()
    failure: str = ""  # empty = success; else the reason the case produced no environment
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    raw: str = ""  # last model answer, cut to 2000 chars (for the failures file)

    @property
    def ok(self) -> bool:
        return self.env is not None


def _o1_text(x: Extraction) -> str:
    parts = (("Chief complaint", x.o1.chief_complaint), ("History", x.o1.history), ("Examination", x.o1.examination))
    return "\n".join(f"{label}: {text.strip()}" for label, text in parts if text.strip())


def _cut(text: str, limit: int, field: str, problems: list[Problem]) -> str:
    text = text.strip()
    if len(text) > limit:
        problems.append(Problem(field=field, reason=f"longer than {limit} chars; cut", severity="warning"))
        return text[:limit]
    return text


def to_environment(
    case_id: str, x: Extraction, *, cfg: ExtractConfig, meta: dict[str, object] | None = None
) -> tuple[Environment, list[Problem]]:
    """Validated Environment (source "extracted") + problems. Errors: empty o1, empty diagnosis."""
    problems: list[Problem] = []
    o1 = _cut(_o1_text(x), cfg.max_field_chars * 3, "o1", problems)
    if not o1:
        problems.append(Problem(field="o1", reason="initial observation is empty"))
    elif not x.o1.chief_complaint.strip():
        problems.append(Problem(field="o1.chief_complaint", reason="no chief complaint", severity="warning"))
    diagnosis = _cut(x.diagnosis, cfg.max_field_chars, "diagnosis", problems)
    if not diagnosis:
        problems.append(Problem(field="diagnosis", reason="final diagnosis is empty"))
    items: list[TestItem] = []
    for i, t in enumerate(x.tests[: cfg.max_tests]):
        name, result = t.name.strip(), t.result.strip()
        if not name:
            problems.append(Problem(field=f"tests[{i}].name", reason="test without a name dropped", severity="warning"))
        elif not result:
            problems.append(
                Problem(field=f"tests[{i}].result", reason=f"test {name!r} has no result; dropped", severity="warning")
            )
        else:
            items.append(
                TestItem(
                    name=_cut(name, 200, f"tests[{i}].name", problems),
                    category=_cut(t.category, 100, f"tests[{i}].category", problems),
                    result=_cut(result, cfg.max_field_chars, f"tests[{i}].result", problems),
                )
            )
    if len(x.tests) > cfg.max_tests:
        problems.append(Problem(field="tests", reason=f"more than {cfg.max_tests} tests; cut", severity="warning"))
    tests = merge_duplicate_tests(items)  # the leakage module's rule: same normalised name and category
    if len(tests) < len(items):
        problems.append(Problem(field="tests", reason=f"{len(items) - len(tests)} duplicate test(s) merged",
                                severity="warning"))
    if not tests:
        problems.append(Problem(field="tests", reason="test menu is empty", severity="warning"))
    env = Environment(
        case_id=case_id, source=SOURCE, initial_observation=o1, tests=tests, diagnosis=diagnosis, meta=dict(meta or {})
    )
    return env, problems


def _with_meta(env: Environment, problems: Sequence[Problem], attempts: int, truncated: bool) -> Environment:
    warnings = [f"{p.field}: {p.reason}" for p in problems if p.severity == "warning"]
    info: dict[str, object] = {"prompt_version": EXTRACT_PROMPT_VERSION, "attempts": attempts, "warnings": warnings}
    if truncated:
        info["report_truncated"] = True
    return msgspec.structs.replace(env, meta={**env.meta, "extract": info})


async def extract_case(
    case_id: str,
    report_text: str,
    policy: Policy,
    *,
    seed: int = 0,
    cfg: ExtractConfig = ExtractConfig(),
    checks: Sequence[Check] = (),
    meta: dict[str, object] | None = None,
) -> ExtractResult:
    """Extract one environment. Never raises for model/backend failures: they become `failure`."""
    if not report_text.strip():
        return ExtractResult(case_id=case_id, env=None, failure="empty report text")
    messages, truncated = build_messages(report_text, max_chars=cfg.max_report_chars)
    attempts, p_tok, c_tok = 0, 0, 0
    answer = ""
    problems: list[Problem] = []
    for attempt in range(2 if cfg.repair else 1):
        attempts = attempt + 1
        try:
            completion = await policy.complete(messages, session=case_id, seed=seed + attempt, params=cfg.params)
        except Exception as exc:  # noqa: BLE001 -- one case's backend failure must not stop a job of thousands
            return ExtractResult(
                case_id=case_id, env=None, failure=f"policy_error: {type(exc).__name__}: {str(exc)[:300]}",
                attempts=attempts, prompt_tokens=p_tok, completion_tokens=c_tok, raw=answer[:2000],
                problems=tuple(problems),
            )
        answer = completion.text
        p_tok += completion.prompt_tokens
        c_tok += completion.completion_tokens
        env, problems = _attempt(case_id, answer, cfg=cfg, checks=checks, meta=meta)
        errors = [p for p in problems if p.severity == "error"]
        if env is not None and not errors:
            return ExtractResult(
                case_id=case_id, env=_with_meta(env, problems, attempts, truncated), problems=tuple(problems),
                attempts=attempts, prompt_tokens=p_tok, completion_tokens=c_tok,
            )
        reasons = [f"{p.field}: {p.reason}" + (f" ({p.span!r})" if p.span else "") for p in errors]
        messages = repair_messages(messages, answer, reasons)
    errors = [p for p in problems if p.severity == "error"]
    return ExtractResult(
        case_id=case_id, env=None, problems=tuple(problems), attempts=attempts, prompt_tokens=p_tok,
        completion_tokens=c_tok, raw=answer[:2000],
        failure="; ".join(f"{p.field}: {p.reason}" for p in errors) or "invalid extraction",
    )


def _attempt(
    case_id: str, answer: str, *, cfg: ExtractConfig, checks: Sequence[Check], meta: dict[str, object] | None
) -> tuple[Environment | None, list[Problem]]:
    try:
        x = decode_extraction(answer)
    except ExtractParseError as exc:
        return None, [Problem(field="output", reason=exc.reason)]
    env, problems = to_environment(case_id, x, cfg=cfg, meta=meta)
    if not any(p.severity == "error" for p in problems):
        for check in checks:
            problems.extend(check(env))
    return env, problems


def extraction_messages(report_text: str, cfg: ExtractConfig = ExtractConfig()) -> tuple[Message, ...]:
    """The exact first prompt for a report (for inspection and for servers that want to batch)."""
    return build_messages(report_text, max_chars=cfg.max_report_chars)[0]


def leakage_check(env: Environment) -> list[Problem]:
    """The envs leakage check as a `Check`: o1 must not reveal menu results or the diagnosis (errors); duplicate
    tests are warnings."""
    out = []
    for f in check_environment(env):
        field = "initial_observation" if f.kind.endswith("_in_o1") else ("diagnosis" if "diagnosis" in f.kind
                                                                          else f"tests[{f.item}]")
        severity: Severity = "warning" if f.kind == "duplicate_test" else "error"
        out.append(Problem(field=field, reason=f"{f.kind}: {f.item}", severity=severity, span=f.text))
    return out
