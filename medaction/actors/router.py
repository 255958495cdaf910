"""Case-sticky routing over a teacher's replicas: a case stays on one replica so its branches hit the prefix
cache; a new case goes to the least-loaded live replica; a dead replica's cases move to live ones.

Pure bookkeeping (no Ray): the driver owns one Router per teacher and tells it about deaths and recoveries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Protocol

from medaction.registry import Registry


class NoLiveReplica(RuntimeError):
    pass


class Routing(Protocol):
    """How a teacher's nodes reach its replicas. A lane is a queue key: the driver fills replica r from
    `replica_lane(r)`; `assign(session)` gives the lane of a new tree of that session."""

    n: int
    live: set[int]
    moves: int

    def assign(self, session: str) -> int: ...

    def replica_lane(self, replica: int) -> int: ...

    def release(self, session: str) -> None: ...

    def mark_dead(self, replica: int) -> list[int]: ...

    def revive(self, replica: int) -> None: ...


class Router:
    """`load(replica)` is the work waiting on a replica (the driver passes queued + in-flight nodes, which tracks
    uneven tree sizes better than a session count); without it, active sessions are the load."""

    def __init__(self, n_replicas: int, load: Callable[[int], float] | None = None) -> None:
        if n_replicas < 1:
            raise ValueError("router needs at least one replica")
        self.n = n_replicas
        self._load = load
        self.live = set(range(n_replicas))
        self._home: dict[str, int] = {}
        self._sessions = Counter[int]()  # active sessions per replica: the load used on first sight
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
        r = min(self.live, key=lambda i: (self._load(i) if self._load else 0, self._sessions[i], i))
        self._home[session] = r
        self._sessions[r] += 1
        return r

    def replica_lane(self, replica: int) -> int:
        return replica  # one queue per replica: a case's nodes only ever wait for its own replica

    def home(self, session: str) -> int | None:
        return self._home.get(session)

    def release(self, session: str) -> None:
        r = self._home.pop(session, None)
        if r is not None:
            self._sessions[r] -= 1

    def mark_dead(self, replica: int) -> list[int]:
        """Take `replica` out; returns the lanes whose queued nodes must move (its sessions move on `assign`)."""
        self.live.discard(replica)
        return [replica]

    def revive(self, replica: int) -> None:
        """A restarted replica takes new sessions again (existing ones stay where they are)."""
        self.live.add(replica)

class SharedQueue:
    """The non-sticky baseline: one queue per teacher, each node goes to whichever live replica has a free slot
    (rotating the start), like round-robin load balancing. Branches and later turns rarely find their prefix."""

    def __init__(self, n_replicas: int, load: Callable[[int], float] | None = None) -> None:
        if n_replicas < 1:
            raise ValueError("router needs at least one replica")
        self.n = n_replicas  # `load` is unused: a shared queue balances by free slots
        self.live = set(range(n_replicas))
        self.moves = 0

    def assign(self, session: str) -> int:
        if not self.live:
            raise NoLiveReplica("every replica of this teacher is dead")
        return 0

    def replica_lane(self, replica: int) -> int:
        return 0

    def release(self, session: str) -> None:
        pass

    def mark_dead(self, replica: int) -> list[int]:
        self.live.discard(replica)
        if not self.live:
            raise NoLiveReplica("every replica of this teacher is dead")
        return []  # the shared queue stays; live replicas drain it

    def revive(self, replica: int) -> None:
        self.live.add(replica)


# tree.routing -> class `(n_replicas, load) -> Routing` (medaction/registry.py)
ROUTERS: Registry[Callable[..., Routing]] = Registry("routing", {
    "sticky": "medaction.actors.router:Router",
    "shared": "medaction.actors.router:SharedQueue",
})


def build_router(kind: str, n_replicas: int, load: Callable[[int], float] | None = None) -> Routing:
    return ROUTERS.get(kind)(n_replicas, load)
