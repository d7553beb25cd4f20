"""analyzer.model.vocabulary: the enums cover every role, component and distribution the code writes.

The model's fields are typed with them (mypy holds every constructor to a member); string literals
the code still compares with (StrEnum members equal their strings, so both forms compare and serialise
alike) are read from the source so that an unlisted one fails here.
"""

from __future__ import annotations

import ast
import json
import typing
from pathlib import Path

import pytest

from analyzer.checks.context import CheckContext

from analyzer.gomodel.material import MaterialState
from analyzer.model.vocabulary import Component, ContentState, Distribution, Role
from analyzer.model.findings import ComponentVerdict, Finding, LoadKey
from analyzer.wiring import model as wiring
from analyzer.wiring.model import State

PACKAGE = Path(__file__).resolve().parent.parent / "analyzer"
BUILDERS = {"pair", "bundle", "private_key", "public_keys", "kubeconfig"}  # wiring/components.py's LoadBuilder


def _strings(node: ast.AST | None) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for element in node.elts for s in _strings(element)]
    return []


def _written(attribute: str) -> set[str]:
    """String literals given as ``attribute=``, compared with ``x.attribute``, or (roles) passed to a load builder."""
    found: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        if "pb" in path.relative_to(PACKAGE).parts or path.parts[-2] == "report":
            continue  # generated code; renderers' role="img" is HTML's, not ours
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.keyword) and node.arg == attribute:
                found.update(_strings(node.value))
            elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute) and node.left.attr == attribute:
                for comparator in node.comparators:
                    found.update(_strings(comparator))
            elif (attribute == "role" and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in BUILDERS and node.args):
                found.update(_strings(node.args[0]))
            elif (attribute == "component" and isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in ("Component", "kubeconfigs") and node.args):
                found.update(_strings(node.args[0]))
    return found


def test_every_role_written_is_a_role() -> None:
    written = _written("role")
    assert sorted(written - set(Role)) == []


def test_every_component_written_is_a_component() -> None:
    written = _written("component") | {c for c in _written("name") if c.startswith("kube")}
    assert sorted(written - set(Component)) == []


def test_every_distribution_written_is_a_distribution() -> None:
    written = _written("distribution")
    assert sorted(written - set(Distribution)) == []


@pytest.mark.parametrize(("owner", "attribute", "enum"), [
    (wiring.Load, "component", Component), (wiring.Load, "role", Role), (wiring.Component, "name", Component),
    (wiring.Component, "distribution", Distribution), (wiring.Wiring, "distribution", Distribution),
    (Finding, "component", Component), (Finding, "role", Role), (LoadKey, "component", Component),
    (ComponentVerdict, "component", Component), (CheckContext, "distribution", Distribution),
])
def test_the_model_carries_the_enums(owner: type, attribute: str, enum: type) -> None:
    assert typing.get_type_hints(owner)[attribute] is enum


def test_members_are_their_strings() -> None:
    # StrEnum: JSON and f-strings see the plain value, so typed and untyped call sites give the same bytes.
    assert json.dumps({"role": Role.SNI, "distribution": Distribution.SELF_HOSTED}) == '{"role": "sni", "distribution": "self-hosted"}'
    assert f"{Component.KUBE_APISERVER}" == "kube-apiserver" and Role.SERVING == "serving"


def test_one_content_state() -> None:
    # gomodel's byte classification and wiring's located material share the one enum.
    assert MaterialState is ContentState and State is ContentState
    verifiable = {state for state in ContentState if state.verifiable}
    assert verifiable == {ContentState.PRESENT, ContentState.EMPTY, ContentState.MISSING, ContentState.MALFORMED}
