"""Bench helper: the capacity rules the engine benchmarks share (driver in-flight cap, non-clairvoyant floor)."""

from __future__ import annotations


def default_in_flight(per_replica: int) -> int:
    """Driver requests in flight per replica: 1.25 x the server's concurrency, so a short server-side queue hides
    the dispatch round trip (as vLLM's scheduler queue does); it adds no capacity."""
    return (per_replica * 5 + 3) // 4


def nonclairvoyant_floor(work: float, capacity: int, mean_s: float, chain: float) -> float:
    """Expected makespan no scheduler beats without knowing completion lengths in advance: with exponential
    service, the last `capacity` jobs end like the max of `capacity` exponentials, so E[makespan] >=
    work / capacity + mean x (H_capacity - 1) (i.i.d. exponential jobs on parallel servers); never below the
    longest chain."""
    harmonic = sum(1 / i for i in range(1, capacity + 1))
    return max(work / capacity + mean_s * (harmonic - 1), chain)
