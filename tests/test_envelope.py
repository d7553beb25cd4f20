from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.decode.envelope import ValueKind, detect_kind, may_hold, unwrap_protobuf
from analyzer.errors import DecodeError

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "k8s-api-testdata" / "HEAD"

# `k8s\0` + runtime.Unknown{typeMeta{apiVersion "v1", kind "Secret"}, raw, "", ""}, the byte layout
# etcd-snapshot-format.md §D.3 verified on core.v1.Secret.pb, with a two-byte raw message.
MINIMAL_SECRET = b"k8s\x00" + b"\x0a\x0c\x0a\x02v1\x12\x06Secret" + b"\x12\x02\x0a\x00" + b"\x1a\x00\x22\x00"


def corpus_value(name: str) -> bytes:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"Kubernetes API test vector {path} is not available (shared corpus not mounted)")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (MINIMAL_SECRET, ValueKind.PROTOBUF),
        (b'{"apiVersion":"v1","kind":"Secret"}\n', ValueKind.JSON),
        (b' \r\n\t{"kind":"CronTab"}', ValueKind.JSON),
        (b"\xd9\xd9\xf7\xa0", ValueKind.CBOR),
        (b"k8s:enc:aescbc:v1:key1:\x00\x01", ValueKind.ENCRYPTED),
        (b"k8s:enc:kms:v2:provider:\x0a", ValueKind.ENCRYPTED),
        (b"231840", ValueKind.OTHER),  # compact_rev_key holds the revision as ASCII digits
        (b"", ValueKind.OTHER),
        (b"k8s", ValueKind.OTHER),
        (b"k8s\x01\x0a", ValueKind.OTHER),  # only encoding style 0 is defined
        (b"[1, 2]", ValueKind.OTHER),
        (b"\xd9\xd9", ValueKind.OTHER),
        (b"\xa1\x61a\x01", ValueKind.OTHER),  # CBOR without the self-described tag is not how Kubernetes stores it
        (b" " * 100 + b"{}", ValueKind.OTHER),  # detection only looks at a bounded prefix
    ],
)
def test_detect_kind(value: bytes, kind: ValueKind) -> None:
    assert detect_kind(value) is kind


def test_value_kinds_are_their_report_strings() -> None:
    assert [str(kind) for kind in ValueKind] == ["protobuf", "json", "cbor", "encrypted", "other"]


def test_unwrap_protobuf_reads_runtime_typemeta_in_its_own_field_order() -> None:
    assert unwrap_protobuf(MINIMAL_SECRET) == ("v1", "Secret", b"\x0a\x00")


@pytest.mark.parametrize(
    ("name", "api_version", "kind", "raw_length"),
    [
        ("core.v1.Secret.pb", "v1", "Secret", 0x1A0),
        ("core.v1.ConfigMap.pb", "v1", "ConfigMap", 0x18F),
        ("core.v1.Pod.pb", "v1", "Pod", 0x34EE),
    ],
)
def test_unwrap_protobuf_corpus(name: str, api_version: str, kind: str, raw_length: int) -> None:
    # The raw lengths are the varints after the `12` tag in the vectors' first bytes (§F.1, §F.2).
    got_api_version, got_kind, raw = unwrap_protobuf(corpus_value(name))
    assert (got_api_version, got_kind, len(raw)) == (api_version, kind, raw_length)
    assert raw[:1] == b"\x0a"  # field 1 of the object: its ObjectMeta


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(MINIMAL_SECRET[:-6], id="truncated"),
        pytest.param(b"k8s\x00\xff\xff\xff\xff", id="garbage"),
        pytest.param(b"k8s\x00hello world", id="text"),
        pytest.param(b"k8s\x00", id="empty-envelope"),
        pytest.param(b"k8s\x00\x12\x02\x0a\x00", id="no-typemeta"),
        pytest.param(b"k8s\x00\x0a\x04\x0a\x02v1\x12\x00", id="no-kind"),
        pytest.param(b"k8s\x00\x0a\x08\x0a\x02v1\x12\x02\xff\xfe", id="kind-not-utf8"),
        pytest.param(b'{"kind":"Secret"}', id="not-protobuf"),
    ],
)
def test_unwrap_protobuf_rejects_garbage_with_one_line(value: bytes) -> None:
    with pytest.raises(DecodeError) as caught:
        unwrap_protobuf(value)
    message = str(caught.value)
    assert message and "\n" not in message


def test_unwrap_protobuf_rejects_truncated_corpus_value() -> None:
    value = corpus_value("core.v1.Pod.pb")
    with pytest.raises(DecodeError, match="truncated or corrupt"):
        unwrap_protobuf(value[: len(value) // 2])


@pytest.mark.parametrize(
    ("stored", "holds"),
    [
        (b"k8s\x00\x0a\x02v1\x12\x06Secret" + b"kubernetes.io/service-account-token", True),
        (b"k8s\x00\x0a\x02v1\x12\x06Secret" + b"kubernetes.io/tls\\", False),  # protobuf: a backslash is only a byte
        (b"k8s:enc:aescbc:v1:key1:" + bytes(range(256)), True),  # ciphertext may hide anything
        (b'{"type":"kubernetes.io/service-account-token"}', True),
        (b'{"type":"kubernetes.io\\/service-account-token"}', True),  # an escape: only decoding tells
        (b'{"type":"kubernetes.io/tls"}', False),
        (b"\xd9\xd9\xf7\xa1dtypeqkubernetes.io/tls", False),
        (b"", False),
        # Whole records: a key that holds "k8s" is passed over, the value's magic decides.
        (b"\x0a\x1d/registry/secrets/k8s-ns/k8s:a\x10\x05k8s:enc:aescbc:v1:k:" + bytes(range(256)), True),
        (b"\x0a\x1d/registry/secrets/k8s-ns/k8s:a\x10\x05k8s\x00\x0a\x02v1\\", False),
        (b"\x0a\x1d/registry/secrets/k8s-ns/k8s:a\x10\x05{\"a\":\"k8s\\/x\"}", True),
        (b"k8s:enc:aescbc:v1:key1:" + b"k8s\x00" + bytes(range(256)), True),  # ciphertext holding the protobuf magic
        (b"k8s:en", False),  # cut short: no encryption prefix, no backslash
    ],
)
def test_may_hold_rules_out_only_what_cannot_hold_the_needle(stored, holds):
    assert may_hold(stored, 0, len(stored), b"kubernetes.io/service-account-token") is holds
    # Searched in place inside a larger buffer, with the same answer.
    padded = b"\x00" * 7 + stored + b"kubernetes.io/service-account-token"
    assert may_hold(padded, 7, 7 + len(stored), b"kubernetes.io/service-account-token") is holds
