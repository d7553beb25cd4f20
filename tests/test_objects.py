from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from analyzer.decode.envelope import unwrap_protobuf
from analyzer.decode.objects import (
    ManagedField,
    configmap_binary_data,
    configmap_data,
    load_object,
    managed_fields,
    secret_data,
)
from analyzer.errors import DecodeError

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "k8s-api-testdata" / "HEAD"


def corpus_pair(kind: str) -> tuple[bytes, dict[str, Any]]:
    """The etcd value of core.v1.<kind> and the JSON it must decode to."""
    value_path, json_path = CORPUS / f"core.v1.{kind}.pb", CORPUS / f"core.v1.{kind}.json"
    if not (value_path.is_file() and json_path.is_file()):
        pytest.skip(f"Kubernetes API test vectors for {kind} are not available under {CORPUS}")
    return value_path.read_bytes(), json.loads(json_path.read_text(encoding="utf-8"))


# --- protobuf wire format, written by hand so that the schemas are checked, not echoed ----------


def varint(number: int) -> bytes:
    out = bytearray()
    number &= (1 << 64) - 1  # negative int64 values are ten-byte two's complement varints
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def field(number: int, payload: bytes | str | int) -> bytes:
    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def entry(number: int, key: str, value: bytes | str) -> bytes:
    return field(number, field(1, key) + field(2, value))


def stored(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + field(1, field(1, api_version) + field(2, kind)) + field(2, raw) + field(3, "") + field(4, "")


def meta(name: str, namespace: str = "") -> bytes:
    # gogo writes non-pointer strings even when empty, and a zero creationTimestamp as an empty message.
    return field(1, field(1, name) + field(2, "") + field(3, namespace) + field(8, b""))


# --- corpus vectors -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Secret", "ConfigMap"])
def test_corpus_vector_decodes_to_its_json(kind: str) -> None:
    value, expected = corpus_pair(kind)
    got = load_object(value)
    assert got == expected
    assert list(got)[:3] == ["apiVersion", "kind", "metadata"]


ALL = ...  # compare the whole value
KEY_TO_PATH = {"key", "path", "mode"}
FILE_SELECTOR = {"path", "fieldRef", "mode"}
CONTAINER = {
    "name": ALL,
    "image": ALL,
    "command": ALL,
    "args": ALL,
    "workingDir": ALL,
    "env": {"name": ALL, "value": ALL, "valueFrom": {"fieldRef", "configMapKeyRef", "secretKeyRef"}},
    "volumeMounts": {"name", "readOnly", "mountPath", "subPath", "mountPropagation", "subPathExpr"},
}
# The Pod fields schemas/k8s_core_v1.proto models: what a container runs and what it mounts. The
# vector fills every field of the HEAD API, so it also carries fields the schema leaves out on
# purpose (status, probes, resources, security contexts, the other twenty-odd volume sources, and
# fields newer than the clusters we analyse, like KeyToPath.user or emptyDir.mode). Those are not
# compared; everything listed here must be present in the decode and equal to the JSON, and the
# decode must hold nothing else.
POD_SHAPE = {
    "apiVersion": ALL,
    "kind": ALL,
    "metadata": ALL,
    "spec": {
        "volumes": {
            "name": ALL,
            "hostPath": ALL,
            "emptyDir": {"medium", "sizeLimit"},
            "secret": {"secretName": ALL, "items": KEY_TO_PATH, "defaultMode": ALL, "optional": ALL},
            "downwardAPI": {"items": FILE_SELECTOR, "defaultMode": ALL},
            "configMap": {"name": ALL, "items": KEY_TO_PATH, "defaultMode": ALL, "optional": ALL},
            "projected": {
                "sources": {
                    "secret": {"name": ALL, "items": KEY_TO_PATH, "optional": ALL},
                    "downwardAPI": {"items": FILE_SELECTOR},
                    "configMap": {"name": ALL, "items": KEY_TO_PATH, "optional": ALL},
                    "serviceAccountToken": {"audience", "expirationSeconds", "path"},
                    "clusterTrustBundle": {"name", "signerName", "labelSelector", "optional", "path"},
                },
                "defaultMode": ALL,
            },
        },
        "initContainers": CONTAINER,
        "containers": CONTAINER,
        "restartPolicy": ALL,
        "nodeSelector": ALL,
        "serviceAccountName": ALL,
        "automountServiceAccountToken": ALL,
        "nodeName": ALL,
        "hostNetwork": ALL,
        "imagePullSecrets": ALL,
        "priorityClassName": ALL,
        "priority": ALL,
    },
}


def project(value: Any, shape: Any) -> Any:
    """The part of ``value`` that ``shape`` names; a KeyError means the shape names a missing field."""
    if shape is ALL:
        return value
    if isinstance(value, list):
        return [project(item, shape) for item in value]
    if isinstance(shape, set):
        shape = dict.fromkeys(shape, ALL)
    return {key: project(value[key], sub_shape) for key, sub_shape in shape.items()}


def test_corpus_pod_decodes_to_its_json_on_modelled_fields() -> None:
    value, expected = corpus_pair("Pod")
    assert load_object(value) == project(expected, POD_SHAPE)


def test_resource_version_comes_from_mod_revision() -> None:
    value, expected = corpus_pair("Secret")
    # The vector stores "resourceVersionValue"; real servers clear it and read it from etcd.
    assert load_object(value)["metadata"]["resourceVersion"] == expected["metadata"]["resourceVersion"]
    assert load_object(value, mod_revision=82703)["metadata"]["resourceVersion"] == "82703"


def test_views_over_corpus_secret_and_configmap() -> None:
    secret = load_object(corpus_pair("Secret")[0])
    assert secret_data(secret) == {"dataKey": b"\x02", "stringDataKey": b"stringDataValue"}
    assert managed_fields(secret) == [
        ManagedField("managerValue", "operationValue", datetime(2004, 1, 1, 1, 1, 1, tzinfo=UTC), "subresourceValue")
    ]
    configmap = load_object(corpus_pair("ConfigMap")[0])
    assert configmap_data(configmap) == {"dataKey": "dataValue"}
    assert configmap_binary_data(configmap) == {"binaryDataKey": b"\x03"}


# --- hand-built protobuf ------------------------------------------------------------------------


def test_empty_strings_are_omitted_and_zero_creation_time_is_null() -> None:
    raw = meta("etcd-client", "openshift-etcd") + entry(2, "tls.crt", b"\x30\x82") + field(3, "")
    assert load_object(stored("v1", "Secret", raw)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "etcd-client", "namespace": "openshift-etcd", "creationTimestamp": None},
        "data": {"tls.crt": "MII="},
    }


def test_service_account() -> None:
    raw = (
        meta("builder", "ci")
        + field(2, field(3, "builder-token-x7k2p"))
        + field(3, field(1, "builder-dockercfg-5t8qz"))
        + field(4, 0)
    )
    assert load_object(stored("v1", "ServiceAccount", raw)) == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "builder", "namespace": "ci", "creationTimestamp": None},
        "secrets": [{"name": "builder-token-x7k2p"}],
        "imagePullSecrets": [{"name": "builder-dockercfg-5t8qz"}],
        # A *bool that is set stays visible even when false; here it means "do not mount".
        "automountServiceAccountToken": False,
    }


def test_pointer_zeros_stay_and_omitempty_zeros_go() -> None:
    secret_volume = field(6, field(1, "serving-cert") + field(3, 0) + field(4, 0))
    mount = field(1, "certs") + field(2, 0) + field(3, "/etc/certs") + field(4, "")
    container = field(1, "kube-apiserver") + field(9, mount)
    volume = field(1, "certs") + field(2, secret_volume)
    raw = meta("kube-apiserver-master-0") + field(2, field(1, volume) + field(2, container))
    assert load_object(stored("v1", "Pod", raw))["spec"] == {
        "volumes": [{"name": "certs", "secret": {"secretName": "serving-cert", "defaultMode": 0, "optional": False}}],
        "containers": [{"name": "kube-apiserver", "volumeMounts": [{"name": "certs", "mountPath": "/etc/certs"}]}],
    }


def test_map_keys_are_sorted_like_encoding_json() -> None:
    raw = field(1, field(1, "x") + entry(11, "zone", "b") + entry(11, "app", "a"))
    labels = load_object(stored("v1", "ConfigMap", raw))["metadata"]["labels"]
    assert list(labels.items()) == [("app", "a"), ("zone", "b")]


def test_time_drops_nanos_and_fields_v1_is_parsed() -> None:
    time_with_nanos = field(1, 1199149261) + field(2, 999)
    managed = field(1, "kubelet") + field(4, time_with_nanos) + field(7, field(1, '{"f:data":{}}'))
    raw = field(1, field(1, "x") + field(9, time_with_nanos) + field(17, managed))
    metadata = load_object(stored("v1", "Secret", raw))["metadata"]
    assert metadata["deletionTimestamp"] == "2008-01-01T01:01:01Z"
    assert metadata["managedFields"] == [
        {"manager": "kubelet", "time": "2008-01-01T01:01:01Z", "fieldsV1": {"f:data": {}}}
    ]


def test_invalid_utf8_in_strings_is_replaced_like_encoding_json() -> None:
    raw = field(1, field(1, b"bad\xffname"))
    assert load_object(stored("v1", "ConfigMap", raw))["metadata"]["name"] == "bad\ufffdname"


def bytes_entry(number: int, key: bytes, value: bytes) -> bytes:
    return field(number, field(1, key) + field(2, value))


def test_map_keys_that_are_not_utf8_decode_as_go_holds_them() -> None:
    """gogo's Unmarshal copies map keys into Go strings unchecked; encoding/json then writes them
    sorted by their bytes with U+FFFD for each invalid byte (upb could not look such keys up)."""
    metadata = field(1, field(1, "s") + bytes_entry(11, b"zone\xfe", b"b") + bytes_entry(11, b"app", b"a\xff"))
    raw = metadata + bytes_entry(2, b"tls\xffkey", b"SECRET") + bytes_entry(2, b"ca.crt", b"CA")
    raw += bytes_entry(4, b"\xc3(", b"text")
    got = load_object(stored("v1", "Secret", raw))
    assert got["metadata"]["labels"] == {"app": "a\ufffd", "zone\ufffd": "b"}
    assert list(got["data"]) == ["ca.crt", "tls\ufffdkey"]
    assert secret_data(got) == {"ca.crt": b"CA", "tls\ufffdkey": b"SECRET", "\ufffd(": b"text"}
    config = load_object(stored("v1", "ConfigMap", field(1, field(1, "c")) + bytes_entry(2, b"\x80", b"x")))
    assert configmap_data(config) == {"\ufffd": "x"}


def test_map_keys_equal_after_replacement_keep_the_later_one_like_a_json_reader() -> None:
    raw = field(1, field(1, "c")) + bytes_entry(2, b"k\xff", b"second") + bytes_entry(2, b"k\xfe", b"first")
    assert configmap_data(load_object(stored("v1", "ConfigMap", raw))) == {"k\ufffd": "second"}


def test_unmodelled_kind_decodes_to_metadata_only() -> None:
    secret_value, expected = corpus_pair("Secret")
    # Secret's raw message under another type: field 1 is still ObjectMeta, the rest must not leak.
    _, _, raw = unwrap_protobuf(secret_value)
    got = load_object(stored("apps/v1", "StatefulSet", raw))
    assert got == {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": expected["metadata"]}


def test_unmodelled_kind_without_metadata_still_has_metadata() -> None:
    got = load_object(stored("coordination.k8s.io/v1", "Lease", b""), mod_revision=7)
    assert got == {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"resourceVersion": "7"}}


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(stored("v1", "Secret", b"\x0a\xff\x01"), id="truncated-object"),
        pytest.param(stored("v1", "Pod", field(1, b"\x42\x05\x08")), id="truncated-time"),
        pytest.param(stored("v1", "Secret", field(1, field(17, field(7, field(1, "{not json"))))), id="bad-fieldsv1"),
        pytest.param(stored("v1", "Secret", field(1, field(8, field(1, 1 << 60)))), id="time-out-of-range"),
        pytest.param(b"k8s\x00\x0a\x02\x0a", id="truncated-envelope"),
        pytest.param(b"k8s:enc:aescbc:v1:key1:\x8a\x01", id="encrypted"),
        pytest.param(b"231840", id="not-an-object"),
        pytest.param(stored("v0\n", "Sec\n8", b"\x0a\xff\x01"), id="kind-with-newlines"),  # found by fuzz/target_values.py
    ],
)
def test_undecodable_values_raise_one_line(value: bytes) -> None:
    with pytest.raises(DecodeError) as caught:
        load_object(value)
    message = str(caught.value)
    assert message and "\n" not in message


# --- JSON and CBOR ------------------------------------------------------------------------------


def test_json_object_in_api_order_with_resource_version() -> None:
    value = (
        b'{"spec":{"schedule":"*/1 * * * *"},"kind":"CronTab","metadata":{"name":"c"},'
        b'"apiVersion":"stable.example.com/v1"}\n'
    )
    got = load_object(value, mod_revision=12)
    assert got == {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "c", "resourceVersion": "12"},
        "spec": {"schedule": "*/1 * * * *"},
    }
    assert list(got) == ["apiVersion", "kind", "metadata", "spec"]


def test_json_object_without_metadata_gets_one() -> None:
    assert load_object(b'{"apiVersion":"v1","kind":"Namespace"}', mod_revision=4) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"resourceVersion": "4"},
    }


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b'{"apiVersion":"v1","kind":', id="truncated"),
        pytest.param(b'{"kind":"Secret"}', id="no-apiversion"),
        pytest.param(b'{"apiVersion":"v1","kind":""}', id="empty-kind"),
        pytest.param(b'{"apiVersion":"v1","kind":7}', id="kind-not-string"),
        pytest.param(b'{"apiVersion":"v1","kind":"Secret","metadata":[]}', id="metadata-not-object"),
        pytest.param(b'{"a":' * 100000, id="deep"),
    ],
)
def test_bad_json_objects_raise_one_line(value: bytes) -> None:
    with pytest.raises(DecodeError) as caught:
        load_object(value)
    assert "\n" not in str(caught.value)


def test_json_strings_read_as_go_reads_them() -> None:
    # Invalid UTF-8 and unpaired surrogate escapes are U+FFFD in encoding/json, not an error; a
    # surrogate left in a Python str would fail later, when a report is written as UTF-8.
    value = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a\xffb"},"data":{"\\ud800k":"\\udc00\\ud83d\\ude00"}}'
    got = load_object(value)
    assert got["metadata"]["name"] == "a\ufffdb"
    assert got["data"] == {"\ufffdk": "\ufffd\U0001F600"}
    json.dumps(got, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b'{"apiVersion":"v1","kind":"X","n":NaN}', id="nan"),
        pytest.param(b'{"apiVersion":"v1","kind":"X","n":-Infinity}', id="infinity"),
        pytest.param(b'\xef\xbb\xbf{"apiVersion":"v1","kind":"X"}', id="byte-order-mark"),
    ],
)
def test_json_that_go_refuses_is_refused(value: bytes) -> None:
    with pytest.raises(DecodeError, match="JSON value does not parse|no protobuf, JSON or CBOR prefix"):
        load_object(value)


def cbor_bytes(text: str) -> bytes:
    # Kubernetes' CBOR encoder writes Go strings, map keys included, as byte strings (major type 2).
    data = text.encode()
    return bytes([0x40 | len(data)]) + data


def test_cbor_custom_resource() -> None:
    value = (
        b"\xd9\xd9\xf7"
        + b"\xa4"
        + cbor_bytes("apiVersion") + cbor_bytes("config.openshift.io/v1")
        + cbor_bytes("kind") + cbor_bytes("APIServer")
        + cbor_bytes("metadata") + b"\xa1" + cbor_bytes("name") + cbor_bytes("cluster")
        + cbor_bytes("spec") + b"\xa3"
        + cbor_bytes("encryption") + b"\xa1" + b"\x64type" + b"\x66aescbc"
        + cbor_bytes("audit") + b"\xa1" + cbor_bytes("replicas") + b"\x83\x01\x20\xf9\x3e\x00"
        + cbor_bytes("caBundle") + b"\xd6\x43\x01\x02\x03"
    )
    assert load_object(value, mod_revision=99) == {
        "apiVersion": "config.openshift.io/v1",
        "kind": "APIServer",
        "metadata": {"name": "cluster", "resourceVersion": "99"},
        "spec": {"encryption": {"type": "aescbc"}, "audit": {"replicas": [1, -1, 1.5]}, "caBundle": "AQID"},
    }


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"\xd9\xd9\xf7\x83\x01\x02\x03", id="array"),
        pytest.param(b"\xd9\xd9\xf7\xa2" + cbor_bytes("kind") + b"\x01" + b"\x64kind\x01", id="key-as-text-and-bytes"),
        pytest.param(b"\xd9\xd9\xf7\xa1" + cbor_bytes("kind"), id="truncated"),
    ],
)
def test_bad_cbor_objects_raise(value: bytes) -> None:
    with pytest.raises(DecodeError):
        load_object(value)


# --- views --------------------------------------------------------------------------------------


def test_views_refuse_the_wrong_kind() -> None:
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}}
    with pytest.raises(ValueError, match="expected a v1 Secret"):
        secret_data(configmap)
    with pytest.raises(ValueError, match="expected a v1 ConfigMap"):
        configmap_data({**configmap, "kind": "Secret"})


def test_secret_data_rejects_bad_base64() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"tls.key": "not base64!"}}
    with pytest.raises(DecodeError, match=r"data\['tls.key'\]"):
        secret_data(secret)


def test_managed_fields_times_are_aware_utc() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "managedFields": [
                {"manager": "m", "operation": "Update", "time": "2024-05-06T09:10:11+02:00"},
                {"manager": "n"},
            ]
        },
    }
    assert managed_fields(obj) == [
        ManagedField("m", "Update", datetime(2024, 5, 6, 7, 10, 11, tzinfo=UTC), ""),
        ManagedField("n", "", None, ""),
    ]
    assert managed_fields(obj)[0].time_utc.utcoffset().total_seconds() == 0


def test_managed_fields_rejects_naive_time() -> None:
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"managedFields": [{"time": "2024-05-06T09:10:11"}]}}
    with pytest.raises(DecodeError, match="no time zone"):
        managed_fields(obj)
