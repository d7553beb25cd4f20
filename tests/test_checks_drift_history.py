"""analyzer.checks.drift and analyzer.checks.history: copies that disagree, and when (and by whom)
the current value of an etcd data key was put in place, as far as the surviving revisions tell."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analyzer.checks.drift import check_drift
from analyzer.checks.history import check_history, describe_change, introduced
from analyzer.model.findings import Severity
from analyzer.wiring.model import Change, Copy, State
from tests.fixtures.models import CTX, in_etcd, on_node, pair_load, synced
from tests.fixtures.pki import REFERENCE_UTC, make_ca, make_leaf

CA = make_ca("kubernetes")
GOOD = make_leaf(CA, "api.example.com", server=True)
NEWER = make_leaf(CA, "api.example.com", server=True)
SECRET = ("openshift-kube-apiserver", "user-serving-cert-000")


def etcd_copy(copy: Copy, cert: bytes | None, key: bytes | None):
    return synced(copy, in_etcd(*SECRET, "tls.crt", cert) if cert is not None else None,
                  in_etcd(*SECRET, "tls.key", key) if key is not None else None)


def sni(cert: bytes, key: bytes, *copies):
    return pair_load(cert, key, role="sni", purpose="sni-serving-cert", label="SNI pair 6 of 6, user-serving-cert-000",
                     cert_path="/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-000/tls.crt",
                     key_path="/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-000/tls.key", copies=tuple(copies))


@pytest.mark.parametrize("copy", [Copy.SYNCED_FROM, Copy.REVISIONED, Copy.USER_SOURCE])
def test_copies_that_agree_give_no_finding(copy):
    assert check_drift(sni(GOOD.cert_pem, GOOD.key_pem, etcd_copy(copy, GOOD.cert_pem, GOOD.key_pem)), CTX) == []


@pytest.mark.parametrize(("copy", "words"), [
    (Copy.SYNCED_FROM, "the etcd object it is synced from"),
    (Copy.REVISIONED, "the revisioned copy in etcd"),
    (Copy.USER_SOURCE, "the user's source secret"),
])
def test_a_loaded_pair_that_differs_from_its_synced_copy_is_drift(copy, words):
    found = check_drift(sni(GOOD.cert_pem, GOOD.key_pem, etcd_copy(copy, NEWER.cert_pem, NEWER.key_pem)), CTX)
    assert [(f.id, f.severity) for f in found] == [("drift.copies-differ", Severity.WARNING)] * 2
    assert [f.title for f in found] == [f"SNI pair 6 of 6, user-serving-cert-000: the loaded {what} differs from {words}" for what in ("certificate", "key")]
    assert found[1].evidence == (
        "loaded: /etc/kubernetes/static-pod-certs/secrets/user-serving-cert-000/tls.key on master-0",
        f"{copy.value}: Secret openshift-kube-apiserver/user-serving-cert-000 key tls.key "
        "(etcd /kubernetes.io/secrets/openshift-kube-apiserver/user-serving-cert-000 @ revision 100)",
    )


def test_an_emptied_copy_in_etcd_is_drift_of_the_key_only():
    [found] = check_drift(sni(GOOD.cert_pem, GOOD.key_pem, etcd_copy(Copy.SYNCED_FROM, GOOD.cert_pem, b"")), CTX)
    assert "the loaded key differs" in found.title
    assert "holds 0 bytes" in found.detail


def test_a_copy_the_evidence_does_not_hold_is_not_drift():
    copy = synced(Copy.SYNCED_FROM, on_node("/x/tls.crt", b"", state=State.NOT_IN_EVIDENCE), in_etcd(*SECRET, "tls.key", None))
    assert check_drift(sni(GOOD.cert_pem, GOOD.key_pem, copy), CTX) == []


# -- history -------------------------------------------------------------------------------------

T0 = REFERENCE_UTC - timedelta(days=3)


def put(revision: int, digest: str | None, size: int | None, manager: str = "cluster-kube-apiserver-operator", hours: int = 0) -> Change:
    return Change(revision, "put", digest, size, manager, T0 + timedelta(hours=hours))


def delete(revision: int) -> Change:
    return Change(revision, "delete", None, None, None, None)


def key_material(*history: Change, complete: bool = True, data: bytes = b"x"):
    return in_etcd("openshift-config", "api-cert", "tls.key", data, history=history, complete=complete)


def test_no_history_tells_nothing():
    material = key_material()
    assert introduced(material) is None and describe_change(material) is None


def test_the_current_value_was_introduced_by_the_first_put_of_its_last_run():
    history = (put(10, "a", 1704), put(20, "b", 1675, "kubectl-edit", hours=5), put(30, "b", 1675, "kubectl-label", hours=6))
    material = key_material(*history)
    assert introduced(material) == history[1]
    assert describe_change(material) == (
        "openshift-config/api-cert tls.key was changed from 1704 to 1675 bytes at 2025-05-29T17:00:00Z by kubectl-edit (etcd revision 20)"
    )


def test_an_emptied_value_says_so():
    material = key_material(put(10, "a", 1704), put(20, "e", 0, "kubectl-edit", hours=1), data=b"")
    assert describe_change(material) == (
        "openshift-config/api-cert tls.key was emptied from 1704 to 0 bytes at 2025-05-29T13:00:00Z by kubectl-edit (etcd revision 20)"
    )


def test_a_removed_key_says_what_it_held():
    material = key_material(put(10, "a", 1704), put(20, None, None, "kubectl-edit", hours=1))
    assert describe_change(material) == (
        "openshift-config/api-cert tls.key was removed (it held 1704 bytes) at 2025-05-29T13:00:00Z by kubectl-edit (etcd revision 20)"
    )


def test_a_value_unchanged_since_compaction_may_be_older():
    material = key_material(put(10, "a", 1704), complete=False)
    assert describe_change(material) == (
        "openshift-config/api-cert tls.key was set to 1704 bytes at 2025-05-29T12:00:00Z by cluster-kube-apiserver-operator "
        "(etcd revision 10) (the earliest surviving revision: it may be older)"
    )
    assert describe_change(key_material(put(10, "a", 1704), complete=True)).endswith("(etcd revision 10)")


def test_an_object_deleted_and_created_again_was_set_at_its_re_creation():
    history = (put(10, "a", 1704), delete(15), put(20, "a", 1704, "kubectl-create", hours=2))
    material = key_material(*history)
    assert introduced(material) == history[2]
    assert describe_change(material) == (
        "openshift-config/api-cert tls.key was re-created with 1704 bytes at 2025-05-29T14:00:00Z by kubectl-create (etcd revision 20)"
    )


def test_a_deleted_object_has_no_current_value():
    assert introduced(key_material(put(10, "a", 1704), delete(15))) is None


def test_check_history_notes_a_change_once_per_load():
    history = (put(10, "a", 1704), put(20, "e", 0, "kubectl-edit", hours=1))
    material = key_material(*history, data=b"")
    load = sni(GOOD.cert_pem, GOOD.key_pem, synced(Copy.USER_SOURCE, None, material), synced(Copy.SYNCED_FROM, None, material))
    [found] = check_history(load, CTX)
    assert (found.id, found.severity) == ("history.changed", Severity.INFO)
    assert found.title == "SNI pair 6 of 6, user-serving-cert-000: openshift-config/api-cert tls.key was emptied from 1704 to 0 bytes at 2025-05-29T13:00:00Z by kubectl-edit"
    assert found.detail.endswith("Earlier revisions: 10 by cluster-kube-apiserver-operator.")


def test_check_history_is_silent_about_a_value_that_never_changed():
    material = key_material(put(10, "a", 1704), put(20, "a", 1704))
    assert check_history(sni(GOOD.cert_pem, GOOD.key_pem, synced(Copy.USER_SOURCE, None, material)), CTX) == []


def test_check_history_notes_a_re_creation():
    material = key_material(put(10, "a", 1704), delete(15), put(20, "a", 1704, "kubectl-create"))
    [found] = check_history(sni(GOOD.cert_pem, GOOD.key_pem, synced(Copy.USER_SOURCE, None, material)), CTX)
    assert "was re-created with 1704 bytes" in found.title


def test_a_re_creation_is_no_earliest_revision_caveat():
    material = key_material(put(10, "a", 1704), delete(15), put(20, "b", 1675, "kubectl-create"), complete=False)
    assert describe_change(material).endswith("(etcd revision 20)")
