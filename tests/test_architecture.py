"""The rooms of analyzer/ and the one direction imports may take between them (issue 10).

Imports are read from the source (every ``import`` and ``from … import``, at module level or inside
a function, under TYPE_CHECKING or not), so a lazy import cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "analyzer"

# Bottom to top: a module may import from its own room and from the rooms before it, never after.
# This list is the only place the order is written.
ROOMS = (
    "base",  # errors, reference time, records, generated protobuf, the bundled demo's paths, packaged files, __version__
    "model",  # the shared vocabulary: findings, severities, verdict types
    "gomodel",  # what Go and Kubernetes do with bytes
    "decode",  # bytes in, objects out
    "evidence",  # what the customer sent: trees, archives, snapshots, logs
    "views",  # info / get / ls: what is in the evidence, shown as it is
    "wiring",  # which component loads what, from where
    "checks",  # what is wrong
    "analysis",  # verdict, inventory, log correlation, the scan result
    "report",  # renderers
    "scan",  # the orchestrator: open → wire → check → analyse → result
    "cli",  # argv, exit codes, progress
)
_BASE_MODULES = ("analyzer", "analyzer.errors", "analyzer.reftime", "analyzer.resources", "analyzer.records", "analyzer.pb", "analyzer.demo")


def room_of(module: str) -> str:
    if module == "analyzer.__main__":
        return "cli"
    parts = module.split(".")
    if module in _BASE_MODULES or module.startswith("analyzer.pb."):
        return "base"
    if len(parts) >= 2 and parts[1] in ROOMS:
        return parts[1]
    raise AssertionError(f"{module} belongs to no room: add its folder to ROOMS in tests/test_architecture.py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(module: str) -> set[str]:
    """The analyzer modules ``module`` imports (a package's ``from p import sub`` counts as ``p.sub``)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {name for name in found if name == "analyzer" or name.startswith("analyzer.")}


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_room() -> None:
    for module in MODULES:
        assert room_of(module) in ROOMS


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    level = ROOMS.index(room_of(module))
    upward = sorted(f"{target} ({room_of(target)})" for target in GRAPH[module] if ROOMS.index(room_of(target)) > level)
    assert not upward, f"{module} ({room_of(module)}) imports from a higher room: {', '.join(upward)}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or a module importing itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_cycles() -> None:
    # The net itself can fail: a two-module loop and a self-import are both reported.
    graph = {"a": {"b"}, "b": {"a"}, "c": {"c"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b"], ["c"]]


def test_an_upward_import_is_refused() -> None:
    assert ROOMS.index(room_of("analyzer.decode.objects")) < ROOMS.index(room_of("analyzer.evidence.etcd"))
    assert ROOMS.index(room_of("analyzer.report.json_report")) > ROOMS.index(room_of("analyzer.analysis.result"))


def test_imports_are_read() -> None:
    # Both forms are seen: ``from analyzer.gomodel.pem import …`` and ``from analyzer.pb import k8s_json_pb2``.
    assert "analyzer.gomodel.pem" in GRAPH["analyzer.decode.kubeconfig"]
    assert "analyzer.pb.k8s_json_pb2" in GRAPH["analyzer.pb.k8s_core_v1_pb2"]


def test_every_type_ignore_names_its_code_and_its_reason() -> None:
    # mypy runs in .ci/run; a silenced error says which one and why, on the same line.
    marker = "# type" + ": ignore"  # spelt apart so that this test does not find itself
    bare = []
    for path in sorted([*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "tests").rglob("*.py")]):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            at = line.find(marker)
            if at >= 0 and not re.match(re.escape(marker) + r"\[[\w, -]+\]  # \S", line[at:]):
                bare.append(f"{path.relative_to(PACKAGE.parent)}:{number}")
    assert bare == []
