from __future__ import annotations

import pytest

from analyzer.decode.cbor import MAX_DEPTH, Tag, load_cbor
from analyzer.errors import DecodeError


# Encodings from RFC 8949 Appendix A, plus the shapes Kubernetes writes (byte-string keys).
@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("00", 0),
        ("17", 23),
        ("1818", 24),
        ("1903e8", 1000),
        ("1a000f4240", 1000000),
        ("1b000000e8d4a51000", 1000000000000),
        ("1bffffffffffffffff", 18446744073709551615),
        ("20", -1),
        ("3863", -100),
        ("3bffffffffffffffff", -18446744073709551616),
        ("f93c00", 1.0),
        ("f97bff", 65504.0),
        ("fa47c35000", 100000.0),
        ("fb3ff199999999999a", 1.1),
        ("f4", False),
        ("f5", True),
        ("f6", None),
        ("40", b""),
        ("4401020304", b"\x01\x02\x03\x04"),
        ("60", ""),
        ("6449455446", "IETF"),
        ("62c3bc", "\u00fc"),
        ("80", []),
        ("83010203", [1, 2, 3]),
        ("8301820203820405", [1, [2, 3], [4, 5]]),
        ("a0", {}),
        ("a26161016162820203", {"a": 1, "b": [2, 3]}),
        ("a143617069f5", {b"api": True}),
        ("c074323031332d30332d32315432303a30343a30305a", Tag(0, "2013-03-21T20:04:00Z")),
        ("d64401020304", Tag(22, b"\x01\x02\x03\x04")),
        ("d9d9f7a16161d9d9f701", {"a": 1}),  # the self-described marker vanishes at any depth
    ],
)
def test_load_cbor(encoded: str, decoded: object) -> None:
    assert load_cbor(bytes.fromhex(encoded)) == decoded


def test_load_cbor_keeps_text_and_byte_strings_apart() -> None:
    value = load_cbor(bytes.fromhex("82416161 61"))
    assert value == [b"a", "a"]
    assert [type(item) for item in value] == [bytes, str]


def test_load_cbor_accepts_nesting_up_to_the_limit() -> None:
    assert load_cbor(bytes([0x81]) * MAX_DEPTH + b"\x00") is not None


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param("", id="empty"),
        pytest.param("18", id="truncated-argument"),
        pytest.param("1a0001", id="truncated-uint32"),
        pytest.param("644945", id="truncated-text"),
        pytest.param("83 0102", id="truncated-array"),
        pytest.param("a2 616101", id="truncated-map"),
        pytest.param("5bffffffffffffffff", id="byte-string-length-beyond-input"),
        pytest.param("0000", id="trailing-bytes"),
        pytest.param("9f01ff", id="indefinite-array"),
        pytest.param("5f4101ff", id="indefinite-byte-string"),
        pytest.param("ff", id="lone-break"),
        pytest.param("1c", id="reserved-additional-information"),
        pytest.param("f7", id="undefined"),
        pytest.param("f0", id="unassigned-simple-value"),
        pytest.param("f820", id="one-byte-simple-value"),
        pytest.param("f97e00", id="nan"),
        pytest.param("f97c00", id="infinity"),
        pytest.param("fbfff0000000000000", id="negative-infinity"),
        pytest.param("62c328", id="text-not-utf8"),
        pytest.param("a2616101616102", id="duplicate-key"),
        pytest.param("a10102", id="integer-key"),
        pytest.param("a1800102", id="array-key"),
        pytest.param("c1", id="tag-without-content"),
    ],
)
def test_load_cbor_rejects_malformed_input_with_one_line(encoded: str) -> None:
    with pytest.raises(DecodeError) as caught:
        load_cbor(bytes.fromhex(encoded))
    message = str(caught.value)
    assert message and "\n" not in message


def test_load_cbor_rejects_nesting_beyond_the_limit() -> None:
    with pytest.raises(DecodeError, match="deeper than 64"):
        load_cbor(bytes([0x81]) * (MAX_DEPTH + 1) + b"\x00")


@pytest.mark.parametrize("encoded", ["9bffffffffffffffff", "bb7fffffffffffffff00"])
def test_load_cbor_checks_claimed_counts_before_reading_items(encoded: str) -> None:
    # A few bytes claiming 2**64-1 items must fail on the count, not after allocating or looping.
    with pytest.raises(DecodeError, match="claims"):
        load_cbor(bytes.fromhex(encoded))
