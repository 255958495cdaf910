"""The package's import graph: no cycles, and no lower layer importing a higher one (docs/CONTRACTS.md).

Every import counts, including those inside functions and `importlib.import_module("...")` with a literal name;
only imports under `if TYPE_CHECKING:` are left out (they never run). Registry entries ("module:attribute" strings)
are not imports: a table names its plug-ins without importing them.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "medaction"

# Lower rank = lower layer. A module may import its own layer and lower ranks only.
RANKS = {
    "base": 0,  # medaction/outputs.py, registry.py, cache.py, storage.py: shared by every layer
    "envs": 1,
    "policies": 2,
    "tree": 3,
    "scoring": 4,
    "stage1": 5,
    "actors": 6,  # actors and engine are one layer (the Ray shells); each imports the other's plain parts
    "engine": 6,
    "trainers": 7,
    "eval": 7,
    "rl": 7,  # adapters for external RL frameworks over the rollout service and ClinicalEnv
    "cli": 8,  # medaction/cli.py and __main__.py dispatch to every layer
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "base"
    if (PACKAGE / parts[1]).is_dir():
        assert parts[1] in RANKS, f"package medaction.{parts[1]} has no rank in RANKS: place it in the layer order"
        return parts[1]
    return "cli" if parts[1] in ("cli", "__main__") else "base"


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            target = ".".join(x for x in (base, node.module or "") if x)
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)
        elif (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value)
    return {m for m in found if m in known and m != module}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(name, path, set(mods)) for name, path in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_walker_sees_function_level_and_importlib_imports(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import medaction.engine.driver\n"
                   "def f():\n    from medaction.tree import loop\n    importlib.import_module('medaction.envs.load')\n")
    known = {"medaction.engine.driver", "medaction.tree.loop", "medaction.tree", "medaction.envs.load"}
    assert _imports("medaction.x", src, known) == {"medaction.tree", "medaction.tree.loop", "medaction.envs.load"}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_no_lower_layer_imports_a_higher_one() -> None:
    bad = []
    for module, targets in _graph().items():
        for target in targets:
            if RANKS[_layer(target)] > RANKS[_layer(module)]:
                bad.append(f"{module} ({_layer(module)}) imports {target} ({_layer(target)})")
    assert bad == []


def test_ray_only_in_actors_and_engine() -> None:
    bad = []
    for module, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            # trainers may use Ray Train / Ray Data inside functions: that is their Ray integration
            allowed = _layer(module) in ("actors", "engine") or (_layer(module) == "trainers" and any(
                n.startswith(("ray.train", "ray.data")) for n in names))
            if any(n == "ray" or n.startswith("ray.") for n in names) and not allowed:
                bad.append(f"{module}: {names}")
    assert bad == []


def test_every_layer_exports_names_that_resolve() -> None:
    import importlib

    for layer in sorted(r for r in RANKS if (PACKAGE / r).is_dir()):
        package = importlib.import_module(f"medaction.{layer}")
        assert package.__all__, layer
        for name in package.__all__:
            assert getattr(package, name) is not None, f"medaction.{layer}.{name}"
