"""analyzer.checks.service_accounts: the signing keys against kube-apiserver's verification keys,
and the CA token secrets hand to pods against the cluster's current CA."""

from __future__ import annotations

import pytest

from analyzer.checks.service_accounts import check_service_account_keys, check_service_account_tokens
from analyzer.model.findings import Severity
from analyzer.wiring.model import BundlePayload, Load, PairPayload, PrivateKeyPayload, PublicKeysPayload, State
from tests.fixtures.models import CTX, NODE, PKI, component, in_etcd, on_node, wiring
from tests.fixtures.pki import bundle, make_ca, make_leaf

CA = make_ca("kubernetes")
SA = make_leaf(CA, "sa")  # only its key pair matters
OTHER_SA = make_leaf(CA, "other-sa")


def verification(*publics: bytes | None, state: State | None = None) -> Load:
    paths = [f"{PKI}/sa{'-' + str(i) if i else ''}.pub" for i in range(len(publics))]
    return Load(component="kube-apiserver", node=NODE, role="service-account-keys", order=7, fatal=True,
                label="service-account verification keys", flag="--service-account-key-file",
                payload=PublicKeysPayload(tuple(paths), tuple(on_node(p, data, state=state) for p, data in zip(paths, publics, strict=True))))


def signing(key_pem: bytes | None, *, owner: str = "kube-apiserver") -> Load:
    role, flag = (("service-account-signing-key", "--service-account-signing-key-file") if owner == "kube-apiserver"
                  else ("service-account-private-key", "--service-account-private-key-file"))
    return Load(component=owner, node=NODE, role=role, order=8, fatal=True, label="service-account signing key", flag=flag,
                payload=PrivateKeyPayload(f"{PKI}/sa.key", on_node(f"{PKI}/sa.key", key_pem)))


def cluster(apiserver_key: bytes | None, manager_key: bytes | None, *publics: bytes | None, state: State | None = None):
    return wiring(
        component("kube-apiserver", verification(*publics, state=state), signing(apiserver_key)),
        component("kube-controller-manager", signing(manager_key, owner="kube-controller-manager")),
    )


@pytest.mark.parametrize("publics", [(SA.public_pem,), (OTHER_SA.public_pem, SA.public_pem)], ids=["one", "rotated"])
def test_signing_keys_among_the_verification_keys_give_no_finding(publics):
    assert check_service_account_keys(cluster(SA.key_pem, SA.key_pem_pkcs8, *publics), CTX) == []


@pytest.mark.parametrize("wrong", ["kube-apiserver", "kube-controller-manager"])
def test_a_signing_key_no_verification_key_matches_is_an_error(wrong):
    keys = {"kube-apiserver": SA.key_pem, "kube-controller-manager": SA.key_pem}
    keys[wrong] = OTHER_SA.key_pem
    [found] = check_service_account_keys(cluster(keys["kube-apiserver"], keys["kube-controller-manager"], SA.public_pem), CTX)
    assert (found.id, found.severity) == ("service-account.key-mismatch", Severity.ERROR)
    assert found.component == wrong
    assert found.peer == "kube-apiserver"
    assert "401 Unauthorized" in found.detail


def test_nothing_is_claimed_when_a_verification_key_cannot_be_seen():
    assert check_service_account_keys(cluster(OTHER_SA.key_pem, None, b"-----SCRUBBED", state=State.SCRUBBED), CTX) == []


def test_a_missing_signing_key_is_the_bundle_checks_business():
    assert check_service_account_keys(cluster(None, None, SA.public_pem), CTX) == []


# -- token secrets -------------------------------------------------------------------------------

NEW_CA = make_ca("kubernetes")


def tokens(current: bytes, *carried: bytes):
    w = wiring()
    w.current_ca = on_node(f"{PKI}/ca.crt", current)
    w.service_account_tokens = [in_etcd("default", f"token-{i}", "ca.crt", data) for i, data in enumerate(carried)]
    return w


def test_tokens_carrying_the_current_ca_give_no_finding():
    assert check_service_account_tokens(tokens(bundle(NEW_CA), bundle(NEW_CA), bundle(CA, NEW_CA)), CTX) == []


def test_a_token_carrying_the_old_ca_is_stale():
    [found] = check_service_account_tokens(tokens(bundle(NEW_CA), bundle(NEW_CA), bundle(CA), bundle(CA)), CTX)
    assert (found.id, found.severity) == ("service-account.token-ca-stale", Severity.ERROR)
    assert found.title.startswith("2 service-account token secret(s)")
    assert "default/token-1, default/token-2" in found.detail
    assert found.subject.object == "default/token-1"


def test_tokens_are_not_judged_without_a_current_ca():
    w = tokens(bundle(NEW_CA), bundle(CA))
    w.current_ca = None
    assert check_service_account_tokens(w, CTX) == []


def test_a_private_key_given_as_verification_key_verifies_with_its_public_half():
    assert check_service_account_keys(cluster(SA.key_pem, SA.key_pem, SA.key_pem), CTX) == []
    found = check_service_account_keys(cluster(SA.key_pem, OTHER_SA.key_pem, OTHER_SA.key_pem), CTX)
    assert [(f.id, f.component) for f in found] == [("service-account.key-mismatch", "kube-apiserver")]


# -- stale trust, cluster-wide (issue 13) -------------------------------------------------------------

from analyzer.wiring.model import Component, Location, Material  # noqa: E402
from tests.fixtures.pki import make_leaf  # noqa: E402


def _configmap(namespace: str, data: bytes) -> Material:
    return Material(State.PRESENT, Location(input="snapshot.db", etcd_key=f"/registry/configmaps/{namespace}/kube-root-ca.crt",
                                            object=f"{namespace}/kube-root-ca.crt", kind="ConfigMap", data_key="ca.crt"), data)


def _served_by(w, signer) -> None:
    """kube-apiserver serving a pair signed by ``signer``, dialled by pods at the service IP."""
    leaf = make_leaf(signer, "kube-apiserver", dns=("kubernetes.default.svc",), ips=("10.96.0.1",), server=True)
    apiserver = Component("kube-apiserver", "master-0", "kubeadm", "test")
    pair = PairPayload(f"{PKI}/apiserver.crt", f"{PKI}/apiserver.key", on_node(f"{PKI}/apiserver.crt", leaf.cert_pem),
                       on_node(f"{PKI}/apiserver.key", leaf.key_pem), dynamic=True, expected_names=("kubernetes.default.svc", "10.96.0.1"))
    apiserver.loads.append(Load(component="kube-apiserver", node="master-0", role="serving", order=1, fatal=True, label="serving pair",
                                payload=pair))
    w.components.append(apiserver)


def _controller_manager(w, root_ca: bytes | None) -> None:
    kcm = Component("kube-controller-manager", "master-0", "kubeadm", "test")
    if root_ca is not None:
        kcm.loads.append(Load(component="kube-controller-manager", node="master-0", role="root-ca", order=2, fatal=True, label="root CA",
                              payload=BundlePayload(f"{PKI}/ca.crt", on_node(f"{PKI}/ca.crt", root_ca))))
    w.components.append(kcm)


def test_copies_are_judged_against_the_certificate_kube_apiserver_serves():
    w = tokens(bundle(CA), bundle(NEW_CA))  # the disk CA says CA, but kube-apiserver serves a NEW_CA leaf
    _served_by(w, NEW_CA)
    w.root_ca_configmaps = [_configmap("default", bundle(CA)), _configmap("apps", bundle(NEW_CA))]
    _controller_manager(w, bundle(NEW_CA))
    [found] = check_service_account_tokens(w, CTX)
    assert found.title == "1 kube-root-ca.crt config map(s) carry a CA that does not verify kube-apiserver"
    assert "default/kube-root-ca.crt" in found.detail and "apps/" not in found.detail
    assert "serves to pods (serving pair, CN=kube-apiserver" in found.detail and "dialled as 10.96.0.1" in found.detail
    assert "the source is right" in found.detail


def test_a_stale_source_is_named_and_fixed_first():
    w = tokens(bundle(NEW_CA), bundle(CA))
    _served_by(w, NEW_CA)
    _controller_manager(w, bundle(CA))
    [found] = check_service_account_tokens(w, CTX)
    assert f"the source is stale too: kube-controller-manager's --root-ca-file {PKI}/ca.crt on master-0 holds CN=" in found.detail
    assert found.remediation[0].startswith("Fix the source first")


def test_without_the_source_it_says_it_cannot_tell():
    w = tokens(bundle(NEW_CA), bundle(CA))
    _served_by(w, NEW_CA)
    [found] = check_service_account_tokens(w, CTX)
    assert "--root-ca-file is not in this evidence" in found.detail and "cannot be told" in found.detail
    assert found.remediation[0].startswith("Fix the source first")


def test_many_copies_make_one_finding_with_the_count():
    w = tokens(bundle(NEW_CA))
    _served_by(w, NEW_CA)
    w.root_ca_configmaps = [_configmap(f"ns-{i:03d}", bundle(CA)) for i in range(25)]
    [found] = check_service_account_tokens(w, CTX)
    assert found.title.startswith("25 kube-root-ca.crt config map(s)")
    assert "and 15 more" in found.detail and "Pods in 25 namespace(s)" in found.detail
