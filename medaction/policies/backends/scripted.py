"""`scripted`: a policy that replays canned turn texts, for unit tests of the turn loop (never for data).

Stateless and deterministic: the canned text is picked by the turn number our prompt states ("Turn 3 of 8"; else
the number of assistant messages) and the attempt (0 = first call, 1 = the loop's repair retry, recognisable by
the extra assistant message). An entry is either one text (used for every attempt) or a list of texts by attempt.
`sessions` maps a case id to its own script; other cases use `turns`. Token counts are approximate (chars / 4).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from medaction.policies.base import Backend, PolicyError
from medaction.policies.prompts import turn_number
from medaction.policies.types import Completion, Message, SamplingParams

Script = tuple[str | tuple[str, ...], ...]


class ScriptedConfig(msgspec.Struct, frozen=True, kw_only=True):
    turns: Script = ()
    sessions: dict[str, Script] = {}


class ScriptedPolicy:
    def __init__(self, config: ScriptedConfig) -> None:
        self.config = config

    def _script(self, session: str) -> Script:
        return self.config.sessions.get(session, self.config.turns)

    async def complete(
        self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
    ) -> Completion:
        stated = turn_number(messages)
        assistants = sum(1 for m in messages if m.role == "assistant")
        index = stated - 1 if stated is not None else assistants
        attempt = assistants if stated is not None else 0
        script = self._script(session)
        if not 0 <= index < len(script):
            raise PolicyError(f"scripted: no canned turn {index + 1} for session {session!r} ({len(script)} given)")
        entry = script[index]
        if isinstance(entry, str):
            text = entry
        else:
            if not entry:
                raise PolicyError(f"scripted: empty attempt list for turn {index + 1} of session {session!r}")
            text = entry[min(attempt, len(entry) - 1)]
        prompt_chars = sum(len(m.content) for m in messages)
        return Completion(text=text, prompt_tokens=prompt_chars // 4, completion_tokens=len(text) // 4)


BACKEND = Backend(config_type=ScriptedConfig, factory=ScriptedPolicy)
