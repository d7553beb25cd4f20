"""Tectonic's etcd on nodes of its own (issue 13): etcd-member.service and its drop-ins read from the
etcd node's files, kube-apiserver's etcd client pair checked against the CA etcd trusts, and the CA
etcd no longer trusts named."""

from __future__ import annotations


import pytest

from tests.fixtures import scenarios
from tests.fixtures.pki import DAY, REFERENCE_UTC, YEAR, make_ca
from tests.fixtures.selfhosted_case import ETCD_NODE, ETCD_SSL, tectonic_case, tectonic_etcd_ca_replaced, tectonic_etcd_node

REFERENCE = REFERENCE_UTC.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scan(paths, out) -> tuple[int, dict]:
    return scenarios.scan_json(paths, out)


def _case(root, objects, files, etcd_files) -> list:
    return [scenarios._save(root, "snapshot", [objects]), scenarios._tree(root, "master-0", files),
            scenarios._tree(root, ETCD_NODE, etcd_files)]


@pytest.fixture(scope="module")
def replaced(real_etcd, tmp_path_factory):
    root = tmp_path_factory.mktemp("tectonic-etcd")
    return _scan(_case(root, *tectonic_etcd_ca_replaced()), root / "report.json")


def test_etcd_is_wired_from_the_etcd_member_dropin_on_its_own_node(replaced):
    _, report = replaced
    (etcd,) = [c for c in report["components"] if c["component"] == "etcd"]
    assert etcd["node"] == ETCD_NODE and "40-etcd-cluster.conf" in etcd["configured_by"]
    loads = {load["role"]: load for load in etcd["loads"]}
    assert loads["etcd-server"]["cert"] == f"{ETCD_SSL}/server.crt" and loads["etcd-trusted-ca"]["ca"] == f"{ETCD_SSL}/ca.crt"
    assert loads["etcd-peer"]["key"] == f"{ETCD_SSL}/peer.key"
    # The etcd node is not taken for a master: no control plane is wired on it.
    assert not [c for c in report["components"] if c["node"] == ETCD_NODE and c["component"] != "etcd"]


def test_the_ca_etcd_no_longer_trusts_is_named(replaced):
    code, report = replaced
    (dropped,) = [f for f in report["findings"] if f["id"] == "etcd.ca-no-longer-trusted"]
    assert (dropped["component"], dropped["role"], dropped["severity"]) == ("kube-apiserver", "etcd-client", "critical")
    assert f"({ETCD_SSL}/ca.crt on {ETCD_NODE}) no longer holds it" in dropped["detail"]
    assert "/etc/kubernetes/secrets/etcd-client-ca.crt" in dropped["detail"]
    assert "etcd's own serving and peer pairs were issued by that CA too" in dropped["detail"]
    assert dropped["detail"].count("SHA-256") == 2  # the CA dropped and the CA trusted instead, told apart
    trust = [f for f in report["findings"] if f["id"] == "trust.unknown-authority" and f["role"] == "etcd-client"]
    assert trust and trust[0]["severity"] == "critical"
    assert "cannot talk to etcd" in report["verdict"]["headline"]
    assert code == 1


def test_a_bundle_with_both_cas_drops_nothing(real_etcd, tmp_path):
    old = make_ca("etcd-ca", not_before=REFERENCE_UTC - 3 * YEAR, lifetime=10 * YEAR)
    new = make_ca("etcd-ca", not_before=REFERENCE_UTC - 3 * DAY, lifetime=10 * YEAR)
    objects, files = tectonic_case(old)
    _, report = _scan(_case(tmp_path, objects, files, tectonic_etcd_node(old, new.cert_pem + old.cert_pem)), tmp_path / "r.json")
    assert not [f for f in report["findings"] if f["id"] == "etcd.ca-no-longer-trusted"]
    assert not [f for f in report["findings"] if f["id"].startswith("trust.") and f["role"] == "etcd-client"]


def test_a_later_dropin_and_etcd_environment_win(real_etcd, tmp_path):
    """systemd reads drop-ins in name order and a later ExecStart replaces the earlier one; etcd takes
    ETCD_<FLAG> from its environment when the flag is not given (a flag given wins over its variable)."""
    old = make_ca("etcd-ca", not_before=REFERENCE_UTC - 3 * YEAR, lifetime=10 * YEAR)
    objects, files = tectonic_case(old)
    etcd_files = tectonic_etcd_node(old, old.cert_pem)
    etcd_files[f"{ETCD_SSL}/bundle.crt"] = old.cert_pem
    etcd_files["/etc/systemd/system/etcd-member.service.d/99-override.conf"] = (
        b"[Service]\nEnvironment=\"ETCD_TRUSTED_CA_FILE=/etc/ssl/etcd/bundle.crt\" \"ETCD_CLIENT_CERT_AUTH=true\"\n"
        b"Environment=\"ETCD_CERT_FILE=/etc/ssl/etcd/bundle.crt\"\n"
        b"ExecStart=\nExecStart=/usr/lib/coreos/etcd-wrapper --name=tectonic-etcd-0 \\\n"
        b"  --cert-file=/etc/ssl/etcd/server.crt --key-file=/etc/ssl/etcd/server.key\n")
    _, report = _scan(_case(tmp_path, objects, files, etcd_files), tmp_path / "r.json")
    (etcd,) = [c for c in report["components"] if c["component"] == "etcd"]
    loads = {load["role"]: load for load in etcd["loads"]}
    assert loads["etcd-trusted-ca"]["ca"] == f"{ETCD_SSL}/bundle.crt"
    assert loads["etcd-server"]["cert"] == f"{ETCD_SSL}/server.crt"
    assert "etcd-peer" not in loads  # the replacing ExecStart gives no peer pair
    assert "99-override.conf" in etcd["configured_by"]


def test_every_etcd_member_is_asked_not_only_the_first(real_etcd, tmp_path):
    """Two etcd nodes, and only the second one's ca.crt lost the old CA: kube-apiserver's etcd client
    dials every member (wiring/etcd_members.py), so the second one refusing the pair is found even
    though the first accepts it. It is an error, not critical: the client sends requests only over
    connections whose handshake succeeded, so kube-apiserver keeps its storage through the first."""
    old = make_ca("etcd-ca", not_before=REFERENCE_UTC - 3 * YEAR, lifetime=10 * YEAR)
    new = make_ca("etcd-ca", not_before=REFERENCE_UTC - 3 * DAY, lifetime=10 * YEAR)
    objects, files = tectonic_case(old)
    second = "tectonic-etcd-1"
    paths = _case(tmp_path, objects, files, tectonic_etcd_node(old, new.cert_pem + old.cert_pem))
    paths.append(scenarios._tree(tmp_path, second, tectonic_etcd_node(old, new.cert_pem, name=second, ip="10.0.0.6")))
    code, report = _scan(paths, tmp_path / "r.json")
    assert sorted(c["node"] for c in report["components"] if c["component"] == "etcd") == [ETCD_NODE, second]
    (dropped,) = [f for f in report["findings"] if f["id"] == "etcd.ca-no-longer-trusted"]
    assert f"({ETCD_SSL}/ca.crt on {second}) no longer holds it" in dropped["detail"]
    (trust,) = [f for f in report["findings"] if f["id"] == "trust.unknown-authority" and f["role"] == "etcd-client"]
    assert f"it verifies clients with etcd on {second} --trusted-ca-file={ETCD_SSL}/ca.crt" in trust["detail"]
    assert trust["severity"] == dropped["severity"] == "error"
    assert f"etcd on {ETCD_NODE} --trusted-ca-file={ETCD_SSL}/ca.crt accepts it" in trust["detail"]
    assert f"kube-apiserver keeps its storage through etcd on {ETCD_NODE}" in dropped["detail"]
    # Whom it "cannot talk to" (the verdict's words) is the refusing part, not etcd as a whole.
    assert trust["title"].endswith("not trusted by some etcd members") and dropped["peer"] == f"etcd on {second}"
    (apiserver,) = [c for c in report["components"] if c["component"] == "kube-apiserver"]
    (client,) = [load for load in apiserver["loads"] if load["role"] == "etcd-client"]
    assert client["peer"] == {"name": "etcd", "trusts_with": f"etcd on {ETCD_NODE} --trusted-ca-file={ETCD_SSL}/ca.crt",
                              "also_trusts_with": [f"etcd on {second} --trusted-ca-file={ETCD_SSL}/ca.crt"]}
    assert code == 1


def test_every_member_refusing_is_the_control_plane_down(real_etcd, tmp_path):
    """Both etcd nodes lost the old CA: no member accepts the pair, kube-apiserver cannot reach its storage."""
    old = make_ca("etcd-ca", not_before=REFERENCE_UTC - 3 * YEAR, lifetime=10 * YEAR)
    new = make_ca("etcd-ca", not_before=REFERENCE_UTC - 3 * DAY, lifetime=10 * YEAR)
    objects, files = tectonic_case(old)
    second = "tectonic-etcd-1"
    paths = _case(tmp_path, objects, files, tectonic_etcd_node(old, new.cert_pem))
    paths.append(scenarios._tree(tmp_path, second, tectonic_etcd_node(old, new.cert_pem, name=second, ip="10.0.0.6")))
    _code, report = _scan(paths, tmp_path / "r.json")
    (dropped,) = [f for f in report["findings"] if f["id"] == "etcd.ca-no-longer-trusted"]
    assert dropped["severity"] == "critical" and f"etcd on {ETCD_NODE}, etcd on {second} no longer trust" in dropped["title"]
    assert "kube-apiserver cannot reach its storage" in dropped["detail"]
    (trust,) = [f for f in report["findings"] if f["id"] == "trust.unknown-authority" and f["role"] == "etcd-client"]
    assert trust["severity"] == "critical" and "never becomes ready" in trust["detail"]
