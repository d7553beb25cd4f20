"""analyzer.model.catalogue: every finding id issued is listed with its kind, and every listed id is issued.

The ids are read from the source (string literals shaped like ``family.name`` in the rooms that issue
findings), plus the two families built at run time: ``pair.<PairFailure>`` and
``evidence.<state>`` for unverifiable material.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from analyzer.gomodel.keypair import PairFailure
from analyzer.model.catalogue import CATALOGUE, FindingKind, kinds_of
from analyzer.model.vocabulary import ContentState

PACKAGE = Path(__file__).resolve().parent.parent / "analyzer"
ISSUERS = [*sorted((PACKAGE / "checks").rglob("*.py")), *sorted((PACKAGE / "analysis").rglob("*.py")), PACKAGE / "scan.py"]
FAMILIES = ("pair", "bundle", "key", "keys", "validity", "trust", "usage", "names", "drift", "annotations", "history",
            "policy", "configuration", "kubeconfig", "service-account", "etcd-client", "evidence", "logs", "wiring")
FINDING_ID = re.compile(rf"^(?:{'|'.join(map(re.escape, FAMILIES))})\.[a-z0-9]+(?:-[a-z0-9]+)*$")


def _literal_ids() -> set[str]:
    found = set()
    for path in ISSUERS:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and FINDING_ID.match(node.value):
                found.add(node.value)
    return found


def _built_ids() -> set[str]:
    pairs = {f"pair.{failure.value}" for failure in PairFailure}
    unverifiable = {f"evidence.{state.value}" for state in ContentState if not state.verifiable and state is not ContentState.MALFORMED}
    return pairs | unverifiable | {"evidence.unreadable-certificate"}


def test_every_issued_id_is_listed() -> None:
    assert sorted((_literal_ids() | _built_ids()) - set(CATALOGUE)) == []


def test_every_listed_id_is_issued() -> None:
    assert sorted(set(CATALOGUE) - _literal_ids() - _built_ids()) == []


def test_each_id_has_a_kind() -> None:
    assert all(kinds and kinds <= set(FindingKind) for kinds in CATALOGUE.values())
    assert kinds_of("logs.start-failure") == {FindingKind.LOG}
    assert kinds_of("evidence.snapshot-damaged") == {FindingKind.EVIDENCE}
    assert kinds_of("validity.expired") == {FindingKind.LOAD}
    assert kinds_of("no.such-id") == frozenset()


def test_the_reader_finds_ids() -> None:
    # The net can fail: the literal reader sees ids in checks, in the log correlation and in the scan.
    ids = _literal_ids()
    assert {"validity.expired", "logs.start-failure", "evidence.snapshot-damaged"} <= ids
    assert "tls.crt" not in ids and "pair.file-" not in ids
