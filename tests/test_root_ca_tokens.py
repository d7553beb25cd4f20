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
