"""MinHash overlap: self-overlap found, disjoint sets empty, near-duplicates caught, CLI."""

from __future__ import annotations

import msgspec
from encoder_fixtures import TrigramEncoder

from medaction.cli import main
from medaction.envs.load import default_cases_path, iter_environments, write_jsonl
from medaction.envs.overlap import MinHasher, choose_bands, find_overlaps, shingles


def test_minhash_estimates_jaccard():
    a = shingles(" ".join(f"w{i}" for i in range(300)))
    b = shingles(" ".join(f"w{i}" for i in range(100, 400)))
    true = len(a & b) / len(a | b)
    mh = MinHasher(256, seed=3)
    est = float((mh.signature(a) == mh.signature(b)).mean())
    assert abs(est - true) < 0.08
    assert choose_bands(0.5, 128) == 64 and choose_bands(0.8, 128) == 32


def test_sets_overlap_and_disjoint(medrbench_path, tmp_path):
    ac = list(iter_environments("agentclinic", default_cases_path()))
    mr = list(iter_environments("medrbench", medrbench_path))
    assert find_overlaps(ac[:60], mr, threshold=0.3) == []
    # a near duplicate: same case with a few words changed and another id
    e = ac[5]
    tweaked = msgspec.structs.replace(e, case_id="copy", initial_observation=e.initial_observation.replace(
        "knee", "right knee").replace("Denies", "She denies"))
    pairs = find_overlaps([tweaked], ac[:60], threshold=0.5)
    assert [(p.a, p.b) for p in pairs] == [("copy", e.case_id)] and pairs[0].jaccard > 0.7
    self_pairs = find_overlaps(ac[:40], ac[:40], threshold=0.9)
    assert sorted((p.a, p.b) for p in self_pairs) == [(x.case_id, x.case_id) for x in ac[:40]]


def test_cli_overlap(tmp_path, capsys):
    ac = list(iter_environments("agentclinic", default_cases_path()))
    write_jsonl(ac[:20], tmp_path / "a.jsonl")
    write_jsonl(ac[10:30], tmp_path / "b.jsonl")
    write_jsonl(ac[30:40], tmp_path / "c.jsonl")
    assert main(["envs", "overlap", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), "--fail-on-overlap"]) == 1
    out = capsys.readouterr().out
    assert "near-duplicate pairs: 10" in out and "agentclinic-0011\tagentclinic-0011" in out
    assert main(["envs", "overlap", str(tmp_path / "a.jsonl"), str(tmp_path / "c.jsonl"), "--fail-on-overlap"]) == 0
    assert "near-duplicate pairs: 0" in capsys.readouterr().out


def test_semantic_overlaps_with_injected_encoder():
    from medaction.envs.overlap import semantic_overlaps

    ac = list(iter_environments("agentclinic", default_cases_path()))
    encoder = TrigramEncoder(2048, pad=False)
    pairs = semantic_overlaps([ac[110]], ac, encoder, threshold=0.8)  # agentclinic-0111 (CRAO)
    ids = [p.b for p in pairs]
    assert ids[0] == "agentclinic-0111" and "agentclinic-0209" in ids  # the paraphrased duplicate case
    assert all(p.jaccard >= 0.8 for p in pairs)
