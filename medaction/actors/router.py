"""Case-sticky routing over a teacher's replicas: a case stays on one replica so its branches hit the prefix
cache; a new case goes to the least-loaded live replica; a dead replica's cases move to live ones.

Pure bookkeeping (no Ray): the driver owns one Router per teacher and tells it about deaths and recoveries."""

from __future__ import annotations

from collections import Counter


class NoLiveReplica(RuntimeError):
    pass


class Router:
    def __init__(self, n_replicas: int) -> None:
        if n_replicas < 1:
            raise ValueError("router needs at least one replica")
        self.n = n_replicas
        self.live = set(range(n_replicas))
        self._home: dict[str, int] = {}
        self._sessions = Counter[int]()  # active sessions per replica: the load used on first sight
        self.assignments = Counter[int]()  # sessions ever placed per replica (monitoring)
        self.moves = 0

    def assign(self, session: str) -> int:
        """The session's replica, placing it on the least-loaded live replica on first sight (ties: lowest id)."""
        r = self._home.get(session)
        if r is not None and r in self.live:
            return r
        if not self.live:
            raise NoLiveReplica("every replica of this teacher is dead")
        if r is not None:  # its replica died: move it
            self._sessions[r] -= 1
            self.moves += 1
        r = min(self.live, key=lambda i: (self._sessions[i], i))
        self._home[session] = r
        self._sessions[r] += 1
        self.assignments[r] += 1
        return r

    def home(self, session: str) -> int | None:
        return self._home.get(session)

    def release(self, session: str) -> None:
        r = self._home.pop(session, None)
        if r is not None:
            self._sessions[r] -= 1

    def mark_dead(self, replica: int) -> list[str]:
        """Take `replica` out; returns its sessions, which move on their next `assign`."""
        self.live.discard(replica)
        return [s for s, r in self._home.items() if r == replica]

    def revive(self, replica: int) -> None:
        """A restarted replica takes new sessions again (existing ones stay where they are)."""
        self.live.add(replica)

    def load(self) -> dict[int, int]:
        return {i: self._sessions[i] for i in range(self.n)}
