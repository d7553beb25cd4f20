"""wiring.root_ca: service-account token secrets are selected by their stored bytes before decoding.

A real snapshot (etcd3 writes, etcdctl saves) holds token secrets among many others, stored as
protobuf and as JSON, one with its type written with an escaped slash (valid JSON, so the bytes
test alone would miss it) and one that only mentions the token type in an annotation. The
selection must find exactly the tokens and decode only what its bytes cannot rule out.
"""

from __future__ import annotations

import json

import pytest

from analyzer.evidence.etcd import Snapshot
from analyzer.wiring import root_ca
from analyzer.wiring.sources import EtcdObjects
from tests.fixtures import k8s_objects as k8s
from tests.fixtures.etcd_server import EtcdServer

TOKEN = "kubernetes.io/service-account-token"


def _json_secret(namespace: str, name: str, type_text: str) -> bytes:
    body = json.dumps({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": name, "namespace": namespace},
                       "type": "@TYPE@", "data": {"ca.crt": "LS0tLQ=="}})
    return body.replace('"@TYPE@"', f'"{type_text}"').encode()


@pytest.fixture(scope="module")
def token_snapshot(real_etcd, tmp_path_factory):
    objects: dict[str, bytes] = {}
    for n in range(40):  # the crowd: nothing in their bytes can make them tokens
        objects[f"/registry/secrets/ns-{n % 4}/tls-{n:02d}"] = k8s.secret(f"ns-{n % 4}", f"tls-{n:02d}", {"tls.crt": b"x" * 64},
                                                                         type_="kubernetes.io/tls")
    objects["/registry/secrets/kube-system/builder-token"] = k8s.secret("kube-system", "builder-token", {"ca.crt": b"-----"}, type_=TOKEN)
    objects["/registry/secrets/default/mentions"] = k8s.secret("default", "mentions", {"a": b"b"},
                                                               annotations={"note": f"not a {TOKEN}"})
    objects["/registry/secrets/default/json-token"] = _json_secret("default", "json-token", TOKEN)
    objects["/registry/secrets/default/escaped-token"] = _json_secret("default", "escaped-token", TOKEN.replace("/", "\\/"))
    path = tmp_path_factory.mktemp("tokens") / "snapshot.db"
    with EtcdServer() as etcd:
        etcd.put_many(objects.items())
        etcd.snapshot(path)
    return path


def test_tokens_are_found_and_only_candidates_are_decoded(token_snapshot, monkeypatch):
    decoded: list[bytes] = []
    real = root_ca.decode_value

    def counting(value, **kwargs):
        decoded.append(kwargs["etcd_key"])
        return real(value, **kwargs)

    monkeypatch.setattr(root_ca, "decode_value", counting)
    with Snapshot(token_snapshot) as snapshot:
        found = sorted(root_ca._token_secrets(EtcdObjects(snapshot)))
    assert found == [("default", "escaped-token"), ("default", "json-token"), ("kube-system", "builder-token")]
    # The 40 TLS secrets are ruled out by their bytes; the one that only mentions the type is decoded and dropped.
    assert sorted(decoded) == sorted(f"/registry/secrets/{ref}".encode() for ref in
                                     ("default/escaped-token", "default/json-token", "kube-system/builder-token", "default/mentions"))


# -- the screen the index pass runs over every Secret's history ----------------------------------


@pytest.fixture(scope="module")
def changing_tokens(real_etcd, tmp_path_factory):
    """Secrets that change type over their history (deleted, recreated as another type) and one
    encrypted token: the screen must follow each key's last record, and never rule out ciphertext."""
    from tests.fixtures.encryption import encrypt_value

    tls = lambda ns, name: k8s.secret(ns, name, {"tls.crt": b"x" * 64}, type_="kubernetes.io/tls")  # noqa: E731
    token = lambda ns, name: k8s.secret(ns, name, {"ca.crt": b"-----"}, type_=TOKEN)  # noqa: E731
    path = tmp_path_factory.mktemp("changing") / "snapshot.db"
    with EtcdServer() as etcd:
        client = etcd.client()
        etcd.put_many([(f"/registry/secrets/ns/tls-{n}", tls("ns", f"tls-{n}")) for n in range(10)])
        etcd.put_many([("/registry/secrets/ns/became-token", tls("ns", "became-token")),
                       ("/registry/secrets/ns/was-token", token("ns", "was-token")),
                       ("/registry/secrets/ns/deleted-token", token("ns", "deleted-token")),
                       ("/registry/secrets/ns/stays-token", token("ns", "stays-token"))])
        client.delete("/registry/secrets/ns/became-token")
        client.delete("/registry/secrets/ns/was-token")
        client.delete("/registry/secrets/ns/deleted-token")
        etcd.put_many([("/registry/secrets/ns/became-token", token("ns", "became-token")),
                       ("/registry/secrets/ns/was-token", tls("ns", "was-token")),
                       ("/registry/secrets/ns/stays-token", token("ns", "stays-token")),
                       ("/registry/secrets/ns/sealed", encrypt_value("aescbc", "key1", b"k" * 32, token("ns", "sealed"),
                                                                     b"/registry/secrets/ns/sealed"))])
        etcd.snapshot(path)
    return path


def _truth(snapshot: Snapshot, objects: EtcdObjects) -> set[bytes]:
    """The secrets that may be tokens, judged on each one's last record read on its own."""
    return {record.key for record in snapshot.iter_latest(objects.index, b"/registry/secrets/")
            if TOKEN.encode() in record.value or record.value.startswith(b"k8s:enc:")}


@pytest.mark.parametrize("workers", [1, 2])
def test_the_pass_screens_each_secret_by_its_last_record(changing_tokens, workers):
    with Snapshot(changing_tokens) as snapshot:
        objects = EtcdObjects(snapshot)
        expected = {f"/registry/secrets/ns/{name}".encode() for name in ("became-token", "stays-token", "sealed")}
        assert objects.index.screened == expected == _truth(snapshot, objects)
        again = snapshot.index(objects.index_query, workers=workers)
        assert again.screened == expected and again.live == objects.index.live
        # Only the screened records are read back; the token that is encrypted without its key is no token found.
        assert sorted(root_ca._token_secrets(objects)) == [("ns", "became-token"), ("ns", "stays-token")]


def test_a_salvaged_snapshot_is_not_screened_and_reads_every_secret(changing_tokens):
    with Snapshot(changing_tokens, salvage=True) as snapshot:
        objects = EtcdObjects(snapshot)
        assert objects.index.screened is None
        assert sorted(root_ca._token_secrets(objects)) == [("ns", "became-token"), ("ns", "stays-token")]
