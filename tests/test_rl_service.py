"""RolloutService on policy actors a trainer started itself (a PolicyHandle): the service uses them, reports the
group rewards, and leaves them running when it closes."""

from __future__ import annotations


def test_service_on_attached_actors(ray_session, agentclinic_path) -> None:  # type: ignore[no-untyped-def]
    from medaction.engine.config import TeacherConfig
    from medaction.engine.rollout_service import RolloutService, start_policy
    from medaction.envs.load import iter_environments

    cases = [e for _, e in zip(range(2), iter_environments("agentclinic", agentclinic_path))]
    handle = start_policy(TeacherConfig(id="mine", backend="heuristic", max_concurrency=4))
    try:
        with RolloutService(handle, rewards={"test_cost": 0.0, "progress": 0.0}) as svc:
            batch = svc.rollout(cases, group_size=2, max_turns=4, trainer_step=5)
        calls = ray_session.get(handle.actors[0].ping.remote())["calls"]  # still alive after close()
        assert calls == batch.stats["nodes"] > 0
        assert [g.policy_id for g in batch.groups] == ["mine", "mine"] and batch.stats["max_lag"] == 5
        for g in batch.groups:  # only the terminal reward is on: R = 1 exactly when the scorer-free check agrees
            for t in g.trajectories:
                assert t.rewards.total == (1.0 if t.rewards.correct else 0.0)
                assert t.row["policy_id"] == "mine" and t.versions == (0,) * len(t.scored.trajectory.nodes)
    finally:
        for a in handle.actors:
            ray_session.kill(a)
