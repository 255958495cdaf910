"""Graph store: CSR build, save/load, BFS variants cross-checked against networkx, shipping through Ray."""

from __future__ import annotations

import pickle

import networkx as nx
import numpy as np
import pytest

from medaction.scoring.graph import GraphError, GraphNotFound, GraphStore, csr_from_edges, node_table
from medaction.scoring.hops import bfs_distances, bidirectional_hop, distance_matrix, gather_ranges


def random_graph(n: int = 400, m: int = 900, seed: int = 1) -> tuple[GraphStore, nx.Graph]:
    rng = np.random.default_rng(seed)
    w = (np.arange(n) + 3.0) ** -0.9  # heavy-tailed, with several components and isolated nodes
    p = w / w.sum()
    u, v = rng.choice(n, m, p=p), rng.choice(n, m, p=p)
    indptr, indices = csr_from_edges(n, u, v)
    ids = [f"N:{i}" for i in range(n)]
    g = GraphStore(name="random", indptr=indptr, indices=indices,
                   nodes=node_table(ids, ["disease" if i % 3 else "test" for i in range(n)],
                                    [f"node {i}" for i in range(n)], ["x"] * n))
    ref = nx.Graph()
    ref.add_nodes_from(range(n))
    ref.add_edges_from((a, b) for a, b in zip(u.tolist(), v.tolist()) if a != b)
    return g, ref


def test_csr_is_symmetric_dedup_no_self_loops() -> None:
    indptr, indices = csr_from_edges(4, np.array([0, 1, 0, 2, 3]), np.array([1, 0, 1, 2, 0]))
    assert indptr.dtype == np.int32 and indices.dtype == np.int32
    assert indptr.tolist() == [0, 2, 3, 3, 4]
    assert indices.tolist() == [1, 3, 0, 0]
    with pytest.raises(GraphError, match="out of range"):
        csr_from_edges(2, np.array([0]), np.array([5]))


def test_gather_ranges() -> None:
    idx = np.arange(10, 20)
    assert gather_ranges(idx, np.array([0, 5, 5]), np.array([2, 5, 7])).tolist() == [10, 11, 15, 16]


def test_bfs_matches_networkx() -> None:
    g, ref = random_graph()
    for s in (0, 1, 57, 399):
        d = bfs_distances(g, s, cap=20)
        truth = nx.single_source_shortest_path_length(ref, s)
        expect = np.array([truth.get(i, 21) for i in range(g.n_nodes)])
        assert d.dtype == np.int8
        assert (d == expect).all()
    # capped: everything farther than the cap reads cap + 1
    d = bfs_distances(g, 0, cap=2)
    truth = nx.single_source_shortest_path_length(ref, 0)
    assert all(d[i] == (truth[i] if truth.get(i, 99) <= 2 else 3) for i in range(g.n_nodes))


def test_multi_source_bfs_is_min_over_sources() -> None:
    g, ref = random_graph(seed=3)
    srcs = [2, 40, 300]
    d = bfs_distances(g, srcs, cap=20)
    per = [nx.single_source_shortest_path_length(ref, s) for s in srcs]
    expect = [min([p.get(i, 21) for p in per]) for i in range(g.n_nodes)]
    assert d.tolist() == expect
    assert (bfs_distances(g, [], cap=4) == 5).all()


def test_pair_hop_bidirectional_and_cached() -> None:
    g, ref = random_graph(seed=5)
    rng = np.random.default_rng(0)
    for a, b in rng.integers(0, g.n_nodes, size=(150, 2)).tolist():
        try:
            expect = nx.shortest_path_length(ref, a, b)
        except nx.NetworkXNoPath:
            expect = 99
        assert bidirectional_hop(g, a, b, 30) == (expect if expect <= 30 else 31)
        assert g.hop(a, b, 3) == (expect if expect <= 3 else 4)
        assert g.hop(b, a, 3) == g.hop(a, b, 3)
    assert len(g._pair_cache) > 0


def test_distance_matrix_matches_bfs() -> None:
    g, _ = random_graph(n=600, m=1500, seed=7)
    src = np.arange(0, 600, 7)  # 86 sources: two bitset batches
    tgt = np.arange(3, 600, 5)
    m = distance_matrix(g, src, tgt, cap=6)
    for i, s in enumerate(src.tolist()):
        assert (m[i] == bfs_distances(g, s, cap=6)[tgt]).all()


def test_save_load_roundtrip_and_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    g, _ = random_graph()
    g.save(tmp_path / "s")
    h = GraphStore.load(tmp_path / "s")
    assert h.describe() == g.describe() and h.describe().startswith("random: 400 nodes")
    assert (h.indptr == g.indptr).all() and (h.indices == g.indices).all()
    assert h.index_of("N:7") == 7 and h.node(7)["name"] == "node 7"
    with pytest.raises(GraphNotFound, match="graph.npz: missing"):
        GraphStore.load(tmp_path / "nothing")
    # an .npz carrying a pickled object array must be refused, never unpickled
    np.savez(tmp_path / "s" / "graph.npz", indptr=np.array([object()], dtype=object), indices=np.zeros(1))
    with pytest.raises(ValueError, match="allow_pickle"):
        GraphStore.load(tmp_path / "s")


def test_pickle_ships_arrays_not_caches() -> None:
    g, _ = random_graph()
    g.hop(0, 1, 3)
    g.index_of("N:1")
    h = pickle.loads(pickle.dumps(g))
    assert h._pair_cache == {} and h._id_index is None
    assert h.hop(0, 1, 3) == g.hop(0, 1, 3)


def test_ray_put_shares_arrays(ray_session) -> None:  # type: ignore[no-untyped-def]
    g, _ = random_graph()
    ref = ray_session.put(g)
    h = ray_session.get(ref)
    assert (h.indices == g.indices).all()
    assert not h.indices.flags.writeable  # zero-copy view into the object store
    assert h.describe() == g.describe()
