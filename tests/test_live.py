"""Reading a running etcd (--etcd): a real etcd, restored from the scenario snapshots with
``etcdutl snapshot restore``, serving TLS with client-certificate authentication on 127.0.0.1.

The offline scan of the same snapshot is the reference: the live scan must reach the same verdict
and the same findings. Failures (unreachable, refused handshake, auth, compaction) must each be one
line and exit 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from analyzer.evidence.etcd import Snapshot
from analyzer.errors import LiveEtcdError
from analyzer.evidence import live as live_module
from analyzer.evidence.live import ClientFiles, LiveEtcd, ReadOnlyRpc
from analyzer.evidence.store import EtcdStore
from tests.conftest import REPO
from tests.fixtures.live_etcd import LivePKI, enable_read_only_auth, live_etcd, make_live_pki

READ_ONLY_CALLS = {"KV/Range", "Cluster/MemberList", "Maintenance/Status"}


@pytest.fixture(scope="session")
def pki(real_etcd, tmp_path_factory) -> LivePKI:
    return make_live_pki(tmp_path_factory.mktemp("live-pki"))


def kforensic(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def etcd_args(etcd, pki: LivePKI, pair=None, ca: Path | None = None) -> list[str]:
    pair = pair or pki.root
    return ["--etcd", etcd.url, "--etcd-cacert", str(ca or pki.ca), "--etcd-cert", str(pair.cert), "--etcd-key", str(pair.key)]


def comparable(report: dict) -> tuple[dict, list[tuple]]:
    """The verdict and the findings, without the one thing that must differ: where etcd was read."""
    findings = sorted(
        (f["id"], f["severity"], f["component"], f["role"], f["title"], f["go_error"], f["subject"]["cert"], f["subject"]["key"],
         f["subject"]["object"], f["subject"]["node"], f["blocks_start"], f["fingerprint"])
        for f in report["findings"]
        if not f["id"].startswith(("evidence.", "etcd-client."))
    )
    verdict = dict(report["verdict"])
    verdict["counts"] = {k: v for k, v in verdict["counts"].items() if k != "info"}  # the accepted pair is one more info
    return verdict, findings


def one_line_exit_2(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kforensic: ")
    return lines[0]


# -- one interface -----------------------------------------------------------------------------------


def test_both_sources_implement_the_store_interface(pki, small_snapshot):
    path, _ledger = small_snapshot
    with Snapshot(path) as snapshot:
        assert isinstance(snapshot, EtcdStore)
    with live_etcd(path, pki) as etcd, LiveEtcd([etcd.url], ClientFiles(pki.ca, pki.root.cert, pki.root.key)) as live:
        assert isinstance(live, EtcdStore)


def test_only_read_calls_are_reachable():
    # The reader keeps three bound methods and nothing of the client; no write, lease or watch stub exists.
    assert set(ReadOnlyRpc.__slots__) == {"_range", "_member_list", "_status", "timeout"}
    assert not any(hasattr(ReadOnlyRpc, name) for name in ("put", "delete", "txn", "compact", "lease", "watch"))


# -- the same analysis live and offline -------------------------------------------------------------


@pytest.mark.parametrize("name", ["openshift_user_key", "kubeadm_expired", "kubeadm_new_ca", "kubeadm_healthy", "missing_san"])
def test_live_scan_gives_the_offline_verdict_and_findings(name, scenario_reports, pki, tmp_path):
    code, offline, _ = scenario_reports(name)
    case = scenario_reports.cases[name]
    rest = [str(p) for p in (case.node_tree, *case.logs) if p is not None]
    report = tmp_path / "live.json"
    with live_etcd(case.snapshot, pki, metrics=True) as etcd:
        before_revision = etcd.revision()
        before_calls = etcd.grpc_calls()
        result = kforensic("scan", *etcd_args(etcd, pki), *rest, "--at", "2025-06-01T12:00:00Z", "--json", str(report))
        after_calls = etcd.grpc_calls()
        assert etcd.revision() == before_revision  # nothing was written
    assert result.returncode == code, result.stderr
    live = json.loads(report.read_text())
    assert comparable(live) == comparable(offline)
    jsonschema.Draft202012Validator(json.loads((REPO / "schemas" / "report.schema.json").read_text())).validate(live)
    # Strictly read-only, as the server counts the calls it served.
    made = {method for method, count in after_calls.items() if count > before_calls.get(method, 0)}
    assert "KV/Range" in made
    assert made <= READ_ONLY_CALLS, made
    # The evidence table says the source was live, where, at which revision, which cluster and members.
    (record,) = [i for i in live["inputs"] if i["live"]]
    assert record["path"] == etcd.url and record["kind"] == "etcd-live"
    assert record["revision"] == before_revision == record["etcd"]["revision"]
    assert record["etcd"]["cluster_id"] and record["etcd"]["members"][0]["client_urls"] == [etcd.url]
    assert not any(i["live"] for i in offline["inputs"])
    # The client pair passed is itself a finding: accepted.
    (accepted,) = [f for f in live["findings"] if f["id"] == "etcd-client.accepted"]
    assert accepted["subject"]["cert"] == str(pki.root.cert) and etcd.url in accepted["title"]


# -- failures: one line, exit 2 ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(real_etcd, pki, mvcc_snapshot):
    """The mvcc story (history, deletes, compaction, 8000 keys) restored into a TLS etcd, auth off."""
    path, ledger = mvcc_snapshot
    with live_etcd(path, pki) as etcd:
        yield etcd, path, ledger


def test_unreachable_endpoint(pki, tmp_path):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    line = one_line_exit_2(kforensic("info", "--etcd", f"https://127.0.0.1:{port}", "--etcd-cacert", str(pki.ca),
                                     "--etcd-cert", str(pki.root.cert), "--etcd-key", str(pki.root.key), "--etcd-timeout", "3"))
    assert f"https://127.0.0.1:{port}: cannot reach etcd: connection refused" in line


def test_silent_endpoint_times_out(pki):
    import socket

    with socket.socket() as sock:  # accepts connections (the kernel's backlog) but never speaks
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        url = f"https://127.0.0.1:{sock.getsockname()[1]}"
        line = one_line_exit_2(kforensic("scan", "--etcd", url, "--etcd-cacert", str(pki.ca), "--etcd-timeout", "1"))
    assert f"{url}: etcd did not answer within 1 s" in line


def test_wrong_ca_names_the_ca_file_and_gos_reason(served, pki):
    etcd, _, _ = served
    line = one_line_exit_2(kforensic("scan", *etcd_args(etcd, pki, ca=pki.wrong_ca)))
    assert f"--etcd-cacert {pki.wrong_ca} does not verify the server's certificate" in line
    # The wrong CA has etcd's CA name but another key: Go names the candidate it tried.
    assert 'x509: certificate signed by unknown authority (possibly because of "x509: ECDSA verification failure" ' \
           'while trying to verify candidate authority certificate "etcd-signer")' in line


def test_expired_client_certificate_names_the_cert_and_gos_reason(served, pki):
    etcd, _, _ = served
    line = one_line_exit_2(kforensic("info", *etcd_args(etcd, pki, pair=pki.expired)))
    assert f"etcd refused the client certificate --etcd-cert {pki.expired.cert}" in line
    assert 'TLS alert "bad certificate"' in line
    not_after = pki.pairs["expired"].cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "x509: certificate has expired or is not yet valid: current time " in line and f"is after {not_after}" in line
    assert "tls: failed to verify client's certificate: x509: certificate has expired" in line


def test_client_certificate_of_another_ca(served, pki):
    etcd, _, _ = served
    line = one_line_exit_2(kforensic("info", *etcd_args(etcd, pki, pair=pki.foreign)))
    assert f"etcd refused the client certificate --etcd-cert {pki.foreign.cert}" in line
    assert "x509: certificate signed by unknown authority" in line


def test_no_client_certificate(served, pki):
    etcd, _, _ = served
    line = one_line_exit_2(kforensic("info", "--etcd", etcd.url, "--etcd-cacert", str(pki.ca)))
    assert "requires a client certificate" in line and "--etcd-cert" in line


def test_mismatched_pair_is_refused_before_connecting(served, pki):
    etcd, _, _ = served
    line = one_line_exit_2(kforensic("info", "--etcd", etcd.url, "--etcd-cacert", str(pki.ca),
                                     "--etcd-cert", str(pki.root.cert), "--etcd-key", str(pki.reader.key)))
    assert f"--etcd-cert {pki.root.cert} and --etcd-key {pki.reader.key} do not load as a pair: tls: private key does not match public key" in line


def test_revision_older_than_compaction(served, pki):
    etcd, _, ledger = served
    line = one_line_exit_2(kforensic("get", *etcd_args(etcd, pki), "--prefix", "/registry/", "--etcd-revision", str(ledger.compacted_at - 1)))
    assert f"revision {ledger.compacted_at - 1} is older than etcd's last compaction" in line
    assert "required revision has been compacted" in line


# -- history, compaction, pages -----------------------------------------------------------------------


def test_info_says_where_history_stops(served, pki):
    etcd, path, ledger = served
    result = kforensic("info", *etcd_args(etcd, pki), "-o", "json")
    assert result.returncode == 0, result.stderr
    live = json.loads(result.stdout)
    offline = json.loads(kforensic("info", str(path), "-o", "json").stdout)
    assert live["live"] is True and live["source"] == etcd.url
    assert live["compaction"]["finished_revision"] == ledger.compacted_at == offline["compaction"]["finished_revision"]
    assert live["live_keys"] == offline["live_keys"] == len(ledger.live())
    assert live["resources"] == offline["resources"]
    assert live["revision"] == ledger.last_revision
    text = kforensic("info", *etcd_args(etcd, pki)).stdout
    assert f"at revision {ledger.compacted_at}; history before it is gone" in text


@pytest.mark.parametrize("key", [b"/registry/configmaps/default/rewritten", b"/registry/secrets/default/reborn",
                                 b"/kubernetes.io/secrets/openshift-config/last"])
def test_history_survives_compaction_as_offline(served, pki, key):
    etcd, path, ledger = served
    files = ClientFiles(pki.ca, pki.root.cert, pki.root.key)
    with LiveEtcd([etcd.url], files) as live, Snapshot(path) as snapshot:
        seen = {}
        for name, store in (("live", live), ("offline", snapshot)):
            index = store.build_index([key], keys=[key])
            seen[name] = [(r.mod_revision, r.value) for r in store.iter_read(index.history.get(key, []))]
    assert seen["live"] == seen["offline"] == [(rev, value) for rev, value in ledger.history(key) if value is not None]


def test_keyspace_larger_than_a_page(served, pki):
    etcd, path, ledger = served
    files = ClientFiles(pki.ca, pki.root.cert, pki.root.key)
    with LiveEtcd([etcd.url], files, page_size=250) as live, Snapshot(path) as snapshot:
        live_index = live.build_index([b"/registry/"])
        offline_index = snapshot.build_index([b"/registry/"])
        assert len(live_index.live) > 8000 // 250
        assert {k: v >> 33 for k, v in live_index.live.items()} == {k: v >> 33 for k, v in offline_index.live.items()}
        values = {r.key: r.value for r in live.iter_read(sorted(live_index.live.values())[-300:])}
    expected = ledger.live()
    assert values and all(expected[k] == v for k, v in values.items())
    # Through the CLI, at the default page size of 1000.
    result = kforensic("get", *etcd_args(etcd, pki), "--prefix", "/registry/events/", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == sum(1 for k in expected if k.startswith(b"/registry/events/"))


def test_values_stream_in_pages_sized_by_bytes(served, pki, monkeypatch):
    etcd, path, ledger = served
    files = ClientFiles(pki.ca, pki.root.cert, pki.root.key)
    budget = 8192
    with LiveEtcd([etcd.url], files, page_bytes=budget) as live, Snapshot(path) as snapshot:
        pages: list[tuple[int, int]] = []  # (keys, bytes) of each response with values
        plain_range = live._range

        def counted(*args, **kwargs):
            response = plain_range(*args, **kwargs)
            if not kwargs.get("keys_only") and not kwargs.get("count_only") and len(response.kvs) > 0:
                pages.append((len(response.kvs), response.ByteSize()))
            return response

        monkeypatch.setattr(live, "_range", counted)
        seen = {name: sorted((r.key, r.mod_revision, r.value) for r in store.iter_latest(store.build_index([b"/registry/"]), b"/registry/"))
                for name, store in (("live", live), ("offline", snapshot))}
    assert seen["live"] == seen["offline"]
    assert {key: value for key, _, value in seen["live"]} == {k: v for k, v in ledger.live().items() if k.startswith(b"/registry/")}
    # 8000 small events and three values of 5 KB to 300 KB: pages shrink to one key for the big
    # ones and grow back for the small, never to 1,000 keys at once; a page holds about the budget.
    assert len(pages) > 8000 * 40 // budget
    small = [size for keys, size in pages if keys > 1]
    assert max(keys for keys, _ in pages) < 1000 and max(small) <= 2 * budget


def test_a_page_too_large_for_grpc_is_asked_again_smaller(served, pki, monkeypatch):
    etcd, _, ledger = served
    monkeypatch.setattr(live_module, "MAX_MESSAGE", 20_000)  # 8000 events of ~60 bytes: 1,000 of them do not fit
    with LiveEtcd([etcd.url], ClientFiles(pki.ca, pki.root.cert, pki.root.key), page_bytes=1 << 20) as live:
        events = live.build_index([b"/registry/events/"])
        assert {r.key: r.value for r in live.iter_latest(events, b"/registry/events/")} == \
            {k: v for k, v in ledger.live().items() if k.startswith(b"/registry/events/")}
        configmaps = live.build_index([b"/registry/configmaps/"])
        with pytest.raises(LiveEtcdError, match="a key from /registry/configmaps/big/ on is larger than gRPC.s limit of 20,000 bytes"):
            list(live.iter_latest(configmaps, b"/registry/configmaps/big/"))


def test_the_live_index_is_held_by_etcd(served, pki):
    etcd, path, _ = served
    files = ClientFiles(pki.ca, pki.root.cert, pki.root.key)
    prefixes = [b"/registry/configmaps/", b"/registry/events/", b"/registry/events/load/", b"/kubernetes.io/"]  # one inside another
    with LiveEtcd([etcd.url], files) as live, LiveEtcd([etcd.url], files) as other, Snapshot(path) as snapshot:
        live_index, offline_index = live.build_index(prefixes), snapshot.build_index(prefixes)
        assert len(live_index.live) == len(offline_index.live) > 8000
        for prefix in (b"", b"/registry/", b"/registry/configmaps/", b"/registry/configmaps/big/", b"/registry/secrets/", b"/kubernetes.io/secrets/"):
            assert list(live.iter_keys_under(live_index, prefix)) == list(snapshot.iter_keys_under(offline_index, prefix))
            assert live.count_under(live_index, prefix) == snapshot.count_under(offline_index, prefix)
        assert list(live_index.live) == sorted(offline_index.live)
        assert live._reads == []  # listing and counting kept nothing per key
        key = b"/registry/configmaps/default/rewritten"
        assert live_index.live[key] >> 33 == offline_index.live[key] >> 33
        assert b"/registry/secrets/default/reborn" not in live_index.live  # live, but outside the prefixes asked for
        assert b"/registry/configmaps/default/gone" not in live_index.live
        assert len(live._reads) == 1  # only the key looked up
        # A handle made by another reader is refused, not read as whatever key this one numbered alike.
        foreign = other.build_index([b"/registry/events/"]).live[b"/registry/events/load/event-000000"]
        assert list(live.iter_read([foreign])) == []
        assert [d.problem for d in live.damage] == [f"handle {foreign} was not made by this reader"]


def test_get_one_key_raw_live(served, pki):
    etcd, _, ledger = served
    result = subprocess.run([sys.executable, "-m", "analyzer", "get", *etcd_args(etcd, pki), "/registry/configmaps/default/rewritten", "--raw"],
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ledger.live()[b"/registry/configmaps/default/rewritten"]


# -- etcd auth ---------------------------------------------------------------------------------------


def test_auth_read_only_role_and_permission_denied(pki, mvcc_snapshot):
    path, ledger = mvcc_snapshot
    with live_etcd(path, pki) as etcd:
        enable_read_only_auth(etcd)
        result = kforensic("info", *etcd_args(etcd, pki, pair=pki.reader), "-o", "json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["live_keys"] == len(ledger.live())
        line = one_line_exit_2(kforensic("scan", *etcd_args(etcd, pki, pair=pki.nobody)))
        assert f"{etcd.url}: etcd refused a read of every key: etcdserver: permission denied" in line
