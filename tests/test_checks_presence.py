"""analyzer.checks.presence: what the evidence cannot show is said so, never judged either way."""

from __future__ import annotations

import pytest

from analyzer.checks.presence import check_unverifiable, unverifiable
from analyzer.checks.registry import run_checks
from analyzer.model.findings import Severity
from analyzer.wiring.model import State
from tests.fixtures.models import CTX, PKI, bundle_load, component, on_node, pair_load, wiring
from tests.fixtures.pki import make_ca, make_leaf

CA = make_ca("kubernetes")
LEAF = make_leaf(CA, "kube-apiserver", server=True)

UNVERIFIABLE = {
    State.SCRUBBED: ("scrubbed by sosreport", "sosreport removes keys"),
    State.ELIDED: ("elided by must-gather", "must-gather keeps only tls.crt and ca.crt"),
    State.ENCRYPTED: ("encrypted at rest, and no key for it was given", "--encryption-config"),
    State.NOT_IN_EVIDENCE: ("not in the evidence", "/etc/kubernetes"),
    State.UNREADABLE: ("unreadable in the evidence", "could not be read"),
}


@pytest.mark.parametrize("state", sorted(UNVERIFIABLE))
def test_each_unverifiable_state_is_a_warning_with_what_to_ask_for(state):
    why, ask = UNVERIFIABLE[state]
    load = pair_load(LEAF.cert_pem, on_node(f"{PKI}/apiserver.key", b"", state=state))
    [found] = check_unverifiable(load, CTX)
    assert (found.id, found.severity) == (f"evidence.{state.value}", Severity.WARNING)
    assert found.title == f"default serving pair: key cannot be verified ({why})"
    assert "Nothing is claimed about it, either way." in found.detail
    assert ask in found.remediation[0]
    assert not found.blocks_start


@pytest.mark.parametrize("data", [LEAF.key_pem, b"", None], ids=["present", "empty", "missing"])
def test_what_the_evidence_shows_is_verifiable(data):
    load = pair_load(LEAF.cert_pem, data)
    assert unverifiable(load) == [] and check_unverifiable(load, CTX) == []


def test_the_first_unverifiable_part_names_the_finding_and_all_are_listed():
    load = pair_load(on_node(f"{PKI}/apiserver.crt", b"", state=State.ELIDED), on_node(f"{PKI}/apiserver.key", b"", state=State.SCRUBBED))
    [found] = check_unverifiable(load, CTX)
    assert found.id == "evidence.elided"
    assert "certificate (elided by must-gather), key (scrubbed by sosreport)" in found.detail


def test_a_ca_bundle_not_in_the_evidence():
    [found] = check_unverifiable(bundle_load(on_node(f"{PKI}/ca.crt", b"", state=State.NOT_IN_EVIDENCE)), CTX)
    assert found.id == "evidence.not-in-evidence" and "CA bundle" in found.title


def test_an_unverifiable_pair_is_neither_broken_nor_fine_in_a_full_run():
    load = pair_load(on_node(f"{PKI}/apiserver.crt", b"", state=State.ENCRYPTED), on_node(f"{PKI}/apiserver.key", b"", state=State.ENCRYPTED))
    found = run_checks(wiring(component("kube-apiserver", load)), CTX)
    assert [f.id for f in found] == ["evidence.encrypted"]
