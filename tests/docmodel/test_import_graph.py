"""No import cycle inside ``docmodel``: the graph of its explicit imports (at module level or in
a function, but not under ``if TYPE_CHECKING``) has no cycle, and every module imports on its
own in a fresh interpreter (a cycle that Python resolves only in some import orders fails there)."""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import ROOT
from tests.test_imports import modules_of


def _imports(path, module: str, known: set[str]) -> set[str]:
    """The ``docmodel`` modules that ``module`` (file ``path``) imports explicitly."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for n in ast.walk(node) if n is not node.test)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            # "from pkg import sub" imports the submodule; "from mod import name" the module.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        out.update(n for n in names if n in known and n != module)
    return out


def import_graph(package: str = "docmodel") -> dict[str, set[str]]:
    modules = modules_of(package)
    known = set(modules)
    graph = {}
    for module in modules:
        parts = module.split(".")
        path = ROOT.joinpath(*parts, "__init__.py")
        if not path.exists():
            path = ROOT.joinpath(*parts[:-1], parts[-1] + ".py")
        graph[module] = _imports(path, module, known)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first repeated at the end), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_graph_sees_the_imports_it_must():
    graph = import_graph()
    assert "docmodel.models.sbn.training" in graph["docmodel.models.sbn.estimator"]
    assert "docmodel.models" in graph["docmodel.checkpoint"]
    assert "docmodel.models.sbn" in graph["docmodel.models"]  # "from docmodel.models import sbn"


def test_docmodel_has_no_import_cycle():
    assert find_cycle(import_graph()) is None, f"import cycle: {' -> '.join(find_cycle(import_graph()))}"


def test_every_module_imports_alone():
    def alone(module):
        result = subprocess.run(
            [sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        return module, result.returncode, result.stderr.strip().splitlines()[-1:]

    with ThreadPoolExecutor(max_workers=2) as pool:
        failed = [r for r in pool.map(alone, modules_of("docmodel")) if r[1] != 0]
    assert failed == []
