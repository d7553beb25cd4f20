"""Tests for analyzer.gomodel.pem: Go's PEM decoding, material states, key and certificate loading."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from analyzer.decode.sos_yaml import load_yaml_mapping, mask_sos_scrubs
from analyzer.gomodel.der import SEQUENCE, DerReader
from analyzer.gomodel.material import MaterialState, SOS_PLACEHOLDER, is_scrub_marker
from analyzer.gomodel.keys import EncryptedPrivateKey, KeyAlgorithm, KeyEncoding, load_certificates, load_private_key, load_public_keys, public_key_sha256
from analyzer.gomodel.material import RedactedMaterial
from analyzer.gomodel.pem import find_pem_block, inspect_material, iter_pem_blocks
from analyzer.errors import DecodeError

NOT_BEFORE_UTC = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
NOT_AFTER_UTC = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
PEM, DER = serialization.Encoding.PEM, serialization.Encoding.DER
NO_PASSWORD = serialization.NoEncryption()


def make_cert(key, cn: str = "kube-apiserver", serial: int = 1) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE_UTC)
        .not_valid_after(NOT_AFTER_UTC)
        .sign(key, algorithm)
    )


def private_pem(key, fmt=serialization.PrivateFormat.TraditionalOpenSSL, encryption=NO_PASSWORD) -> bytes:
    return key.private_bytes(PEM, fmt, encryption)


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(65537, 2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ed_key():
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def cert_pem(rsa_key) -> bytes:
    return make_cert(rsa_key).public_bytes(PEM)


# --------------------------------------------------------------------------------------------
# iter_pem_blocks: Go's pem.Decode loop
# --------------------------------------------------------------------------------------------


def test_blocks_are_found_after_leading_junk_and_before_trailing_data(rsa_key, cert_pem):
    key_pem = private_pem(rsa_key)
    data = b"subject=CN = x\nissuer=CN = x\n" + cert_pem + b"garbage between\n" + key_pem + b"trailing\n"
    blocks = list(iter_pem_blocks(data))
    assert [b.type for b in blocks] == ["CERTIFICATE", "RSA PRIVATE KEY"]
    assert blocks[0].offset == data.index(b"-----BEGIN CERTIFICATE")
    assert blocks[1].offset == data.index(b"-----BEGIN RSA PRIVATE KEY")
    assert blocks[0].der == x509.load_pem_x509_certificate(cert_pem).public_bytes(DER)


def test_block_end_is_where_the_next_decode_starts(cert_pem):
    blocks = list(iter_pem_blocks(cert_pem + cert_pem))
    assert blocks[0].end == len(cert_pem) == blocks[1].offset
    assert blocks[1].end == 2 * len(cert_pem)


def test_crlf_line_ends_and_blanks_inside_base64_are_accepted(cert_pem):
    crlf = cert_pem.replace(b"\n", b"\r\n")
    spaced = cert_pem.replace(b"\nMII", b"\n  \tMII")
    expected = find_pem_block(cert_pem).der
    assert find_pem_block(crlf).der == expected
    assert find_pem_block(spaced).der == expected


def test_headers_are_parsed_and_kept_out_of_the_body(rsa_key):
    encrypted = private_pem(rsa_key, encryption=serialization.BestAvailableEncryption(b"pw"))
    block = find_pem_block(encrypted)
    assert block.header("Proc-Type") == "4,ENCRYPTED"
    assert block.header("DEK-Info").startswith("AES-256-CBC,")
    assert block.header("Missing") is None


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda p: p.replace(b"-----END CERTIFICATE-----", b"-----END PUBLIC KEY-----"), id="end-type-differs"),
        pytest.param(lambda p: p.replace(b"\nMII", b"\nM*I"), id="bad-base64"),
        pytest.param(lambda p: p.replace(b"-----BEGIN", b"junk-----BEGIN"), id="begin-not-at-line-start"),
        pytest.param(lambda p: p.replace(b"CERTIFICATE-----\n", b"CERTIFICATE----- x\n", 1), id="junk-after-begin"),
        pytest.param(lambda p: p.rstrip(b"\n") + b" junk\n", id="junk-after-end"),
        pytest.param(lambda p: p[: p.index(b"-----END")], id="no-end-line"),
    ],
)
def test_blocks_go_rejects_are_skipped(cert_pem, mutate):
    assert list(iter_pem_blocks(mutate(cert_pem))) == []


def test_a_skipped_block_does_not_hide_the_next_one(cert_pem):
    broken = cert_pem.replace(b"\nMII", b"\nM*I")
    assert [b.offset for b in iter_pem_blocks(broken + cert_pem)] == [len(broken)]


def test_an_empty_block_decodes_to_no_bytes():
    block = find_pem_block(b"-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----\n")
    assert block is not None and block.type == "RSA PRIVATE KEY" and block.der == b""


def test_block_repr_never_shows_der(rsa_key):
    block = find_pem_block(private_pem(rsa_key))
    assert block.der.hex()[:40] not in repr(block)
    assert "der=" not in repr(block)


# --------------------------------------------------------------------------------------------
# inspect_material: present, empty, scrubbed, elided, malformed
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "state", "original_size", "hints"),
    [
        (b"", MaterialState.EMPTY, None, ()),
        (b"  \n\t\n", MaterialState.EMPTY, None, ()),
        (b"1675 bytes long", MaterialState.ELIDED, 1675, ()),
        (b"MTY3NSBieXRlcyBsb25n", MaterialState.ELIDED, 1675, ()),  # still base64, as in Secret.data
        (b"0 bytes long", MaterialState.EMPTY, 0, ()),
        (b"-----SCRUBBED CERTIFICATE-----\n", MaterialState.SCRUBBED, None, ("CERTIFICATE",)),
        (b"-----SCRUBBED RSA PRIVATE KEY-----\n", MaterialState.SCRUBBED, None, ("RSA PRIVATE KEY",)),
        (b"***** SCRUBBED BASE64 PEM *****", MaterialState.SCRUBBED, None, ("BASE64 PEM",)),
        (b"*******", MaterialState.SCRUBBED, None, ("field",)),
        (b"not a certificate at all\n", MaterialState.MALFORMED, None, ()),
        (b"-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n", MaterialState.MALFORMED, None, ()),
    ],
)
def test_inspect_material(data, state, original_size, hints):
    material = inspect_material(data)
    assert (material.state, material.original_size, material.scrub_hints) == (state, original_size, hints)
    assert material.size == len(data)


def test_pem_and_der_are_present(cert_pem, rsa_key):
    assert inspect_material(cert_pem).state is MaterialState.PRESENT
    assert inspect_material(make_cert(rsa_key).public_bytes(DER)).state is MaterialState.PRESENT


def test_a_scrub_marker_anywhere_makes_the_input_unverifiable(cert_pem):
    # kubelet-client-current.pem with the key scrubbed: the original key is unknown.
    material = inspect_material(cert_pem + b"-----SCRUBBED RSA PRIVATE KEY-----\n")
    assert material.state is MaterialState.SCRUBBED
    assert not material.state.verifiable
    assert MaterialState.MALFORMED.verifiable and MaterialState.EMPTY.verifiable


@pytest.mark.parametrize("value", ["*******", "***** SCRUBBED BASE64 PEM *****", SOS_PLACEHOLDER, "-----SCRUBBED CERTIFICATE-----"])
def test_scrub_markers_are_recognised(value):
    assert is_scrub_marker(value)


@pytest.mark.parametrize("value", ["", "/etc/kubernetes/pki/ca.crt", "LS0tLS1CRUdJTg==", "**"])
def test_ordinary_values_are_not_scrub_markers(value):
    assert not is_scrub_marker(value)


# --------------------------------------------------------------------------------------------
# load_certificates
# --------------------------------------------------------------------------------------------


def test_a_bundle_yields_every_certificate_in_order_and_ignores_keys(rsa_key, ec_key):
    first, second = make_cert(rsa_key, "leaf"), make_cert(ec_key, "intermediate")
    data = first.public_bytes(PEM) + private_pem(rsa_key) + second.public_bytes(PEM)
    assert load_certificates(data) == (first, second)


def test_a_single_der_certificate_loads(rsa_key):
    cert = make_cert(rsa_key)
    assert load_certificates(cert.public_bytes(DER)) == (cert,)


def test_a_bundle_without_certificate_names_what_it_found(rsa_key):
    with pytest.raises(DecodeError, match=r"no CERTIFICATE block \(found \[RSA PRIVATE KEY\]\)"):
        load_certificates(private_pem(rsa_key))


def test_a_broken_certificate_block_is_named_by_offset(cert_pem):
    der = find_pem_block(cert_pem).der[:-40]
    broken = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    with pytest.raises(DecodeError, match=f"CERTIFICATE block at offset {len(cert_pem)} does not parse"):
        load_certificates(cert_pem + broken)


@pytest.mark.parametrize("data", [b"-----SCRUBBED CERTIFICATE-----\n", b"1188 bytes long"])
def test_redacted_certificates_raise_redacted_material(data):
    with pytest.raises(RedactedMaterial) as caught:
        load_certificates(data)
    assert not caught.value.material.state.verifiable


@pytest.mark.parametrize("data", [b"", b"hello\n"])
def test_empty_or_junk_certificate_input_is_a_decode_error(data):
    with pytest.raises(DecodeError) as caught:
        load_certificates(data)
    assert not isinstance(caught.value, RedactedMaterial)


# --------------------------------------------------------------------------------------------
# load_private_key
# --------------------------------------------------------------------------------------------

TRADITIONAL, PKCS8 = serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8


@pytest.mark.parametrize(
    ("key_name", "fmt", "encoding", "pem_type", "algorithm"),
    [
        ("rsa_key", TRADITIONAL, KeyEncoding.PKCS1, "RSA PRIVATE KEY", KeyAlgorithm.RSA),
        ("rsa_key", PKCS8, KeyEncoding.PKCS8, "PRIVATE KEY", KeyAlgorithm.RSA),
        ("ec_key", TRADITIONAL, KeyEncoding.SEC1, "EC PRIVATE KEY", KeyAlgorithm.ECDSA),
        ("ec_key", PKCS8, KeyEncoding.PKCS8, "PRIVATE KEY", KeyAlgorithm.ECDSA),
        ("ed_key", PKCS8, KeyEncoding.PKCS8, "PRIVATE KEY", KeyAlgorithm.ED25519),
    ],
)
def test_private_keys_load_in_every_form(request, key_name, fmt, encoding, pem_type, algorithm):
    key = request.getfixturevalue(key_name)
    pem_info = load_private_key(private_pem(key, fmt))
    der_info = load_private_key(key.private_bytes(DER, fmt, NO_PASSWORD))
    assert (pem_info.encoding, pem_info.pem_type, pem_info.algorithm) == (encoding, pem_type, algorithm)
    assert (der_info.encoding, der_info.pem_type) == (encoding, None)
    assert pem_info.public_key_sha256 == der_info.public_key_sha256 == public_key_sha256(key.public_key())
    assert (pem_info.size_bits, pem_info.curve) == (der_info.size_bits, der_info.curve)


def test_key_sizes_and_curves_are_reported(rsa_key, ec_key):
    assert (load_private_key(private_pem(rsa_key)).size_bits, load_private_key(private_pem(rsa_key)).curve) == (2048, None)
    assert load_private_key(private_pem(ec_key)).curve == "secp256r1"


def test_the_first_private_key_block_wins_after_other_blocks(ec_key, cert_pem):
    # `openssl ecparam -genkey` writes an EC PARAMETERS block before the key.
    params = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    info = load_private_key(cert_pem + params + private_pem(ec_key))
    assert info.algorithm is KeyAlgorithm.ECDSA


def test_private_key_repr_shows_no_key_material(rsa_key):
    info = load_private_key(private_pem(rsa_key))
    text = repr(info) + str(info)
    der = rsa_key.private_bytes(DER, TRADITIONAL, NO_PASSWORD)
    assert der.hex()[:64] not in text
    assert str(rsa_key.private_numbers().d)[:30] not in text
    assert "key=" not in text


def test_encrypted_pkcs8_is_reported_not_cracked(rsa_key):
    data = private_pem(rsa_key, PKCS8, serialization.BestAvailableEncryption(b"secret"))
    with pytest.raises(EncryptedPrivateKey, match="PKCS#8 EncryptedPrivateKeyInfo"):
        load_private_key(data)
    with pytest.raises(EncryptedPrivateKey):
        load_private_key(rsa_key.private_bytes(DER, PKCS8, serialization.BestAvailableEncryption(b"secret")))


def test_legacy_proc_type_encryption_names_the_cipher(rsa_key):
    data = private_pem(rsa_key, TRADITIONAL, serialization.BestAvailableEncryption(b"secret"))
    with pytest.raises(EncryptedPrivateKey, match="legacy PEM encryption, AES-256-CBC"):
        load_private_key(data)


def test_truncated_key_fails_without_quoting_it(rsa_key):
    der = rsa_key.private_bytes(DER, TRADITIONAL, NO_PASSWORD)[:600]
    body = base64.encodebytes(der)
    data = b"-----BEGIN RSA PRIVATE KEY-----\n" + body + b"-----END RSA PRIVATE KEY-----\n"
    with pytest.raises(DecodeError) as caught:
        load_private_key(data)
    message = str(caught.value)
    assert "RSA PRIVATE KEY block at offset 0" in message
    assert body[:40].decode() not in message and der.hex()[:40] not in message


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (b"", DecodeError, "private key input is empty"),
        (b"1675 bytes long", RedactedMaterial, "elided by the collector, originally 1675 bytes"),
        (b"-----SCRUBBED RSA PRIVATE KEY-----\n", RedactedMaterial, "scrubbed"),
        (b"garbage", DecodeError, "no PEM block and no DER structure"),
    ],
)
def test_unusable_key_inputs(data, error, match):
    with pytest.raises(error, match=match):
        load_private_key(data)


def test_a_certificate_is_not_a_private_key(cert_pem):
    with pytest.raises(DecodeError, match=r"no PRIVATE KEY block \(found \[CERTIFICATE\]\)"):
        load_private_key(cert_pem)


# --------------------------------------------------------------------------------------------
# load_public_keys (sa.pub)
# --------------------------------------------------------------------------------------------


def test_public_keys_in_pkix_pkcs1_and_certificate_blocks(rsa_key, ec_key):
    pkix = ec_key.public_key().public_bytes(PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    pkcs1 = rsa_key.public_key().public_bytes(PEM, serialization.PublicFormat.PKCS1)
    cert = make_cert(ec_key).public_bytes(PEM)
    keys = load_public_keys(pkix + pkcs1 + cert)
    assert [(k.encoding, k.algorithm) for k in keys] == [
        (KeyEncoding.PKIX, KeyAlgorithm.ECDSA),
        (KeyEncoding.PKCS1, KeyAlgorithm.RSA),
        (KeyEncoding.CERTIFICATE, KeyAlgorithm.ECDSA),
    ]
    assert keys[1].public_key_sha256 == load_private_key(private_pem(rsa_key)).public_key_sha256


@pytest.mark.parametrize("fmt", [serialization.PublicFormat.SubjectPublicKeyInfo, serialization.PublicFormat.PKCS1])
def test_der_public_keys_load(rsa_key, fmt):
    (info,) = load_public_keys(rsa_key.public_key().public_bytes(DER, fmt))
    expected = KeyEncoding.PKIX if fmt is serialization.PublicFormat.SubjectPublicKeyInfo else KeyEncoding.PKCS1
    assert info.encoding is expected


def test_a_certificate_with_an_unknown_key_algorithm_is_a_decode_error(ec_key):
    """The certificate parses (Go leaves an unknown algorithm's key nil); there is no key to take from it."""
    der = make_cert(ec_key).public_bytes(DER)
    id_ec_public_key = bytes.fromhex("06072a8648ce3d0201")
    assert der.count(id_ec_public_key) == 1
    unknown = der.replace(id_ec_public_key, bytes.fromhex("06072a8648ce3d0209"))
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(unknown) + b"-----END CERTIFICATE-----\n"
    with pytest.raises(DecodeError, match="the certificate at offset 0 holds a public key of an unknown algorithm"):
        load_public_keys(pem)


def test_no_public_key_is_an_error(rsa_key):
    with pytest.raises(DecodeError, match=r"no public key block \(found \[RSA PRIVATE KEY\]\)"):
        load_public_keys(private_pem(rsa_key))


# --------------------------------------------------------------------------------------------
# sos-scrubbed YAML
# --------------------------------------------------------------------------------------------


def test_scrubbed_yaml_values_parse_as_placeholders():
    text = (
        "users:\n"
        "- name: admin\n"
        "  user:\n"
        "    client-certificate-data: ***** SCRUBBED BASE64 PEM *****\n"
        "    client-key-data: *******\n"
        "    token: \"***** SCRUBBED BASE64 PEM *****\"\n"
    )
    user = load_yaml_mapping(text.encode(), "kubeconfig")["users"][0]["user"]
    assert user == {"client-certificate-data": SOS_PLACEHOLDER, "client-key-data": SOS_PLACEHOLDER, "token": SOS_PLACEHOLDER}


def test_a_scrubbed_key_drops_the_sequence_left_dangling():
    text = "apiServerArguments:\n  kubelet-client-key: *******\n  - /etc/x/tls.key\n  kubelet-client-certificate:\n  - /etc/x/tls.crt\n"
    masked = mask_sos_scrubs(text)
    assert "/etc/x/tls.key" not in masked
    assert load_yaml_mapping(masked.encode(), "config")["apiServerArguments"] == {
        "kubelet-client-key": SOS_PLACEHOLDER,
        "kubelet-client-certificate": ["/etc/x/tls.crt"],
    }


def test_a_scrubbed_key_drops_deeper_lines_too():
    text = "kubelet-client-key: *******\n    - /etc/x/tls.key\n    - /etc/y/tls.key\nnext: 1\n"
    assert load_yaml_mapping(text.encode(), "config") == {"kubelet-client-key": SOS_PLACEHOLDER, "next": 1}


def test_a_scrubbed_list_item_key_keeps_its_siblings():
    document = load_yaml_mapping(b"items:\n- token: *******\n  name: kept\n", "doc")
    assert document == {"items": [{"token": SOS_PLACEHOLDER, "name": "kept"}]}


def test_yaml_errors_do_not_quote_the_document():
    with pytest.raises(DecodeError) as caught:
        load_yaml_mapping(b"token: sha256~SuperSecretToken\n  bad: [\n", "kubeconfig")
    assert "SuperSecretToken" not in str(caught.value)
    assert "line 2" in str(caught.value)


def test_a_yaml_scalar_is_not_a_mapping():
    with pytest.raises(DecodeError, match="not a YAML mapping"):
        load_yaml_mapping(b"just text\n", "kubeconfig")


# --------------------------------------------------------------------------------------------
# DerReader: cryptobyte's strictness
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "der",
    [
        pytest.param(b"\x30\x81\x03\x02\x01\x01", id="long-form-for-short-length"),
        pytest.param(b"\x30\x80\x02\x01\x01\x00\x00", id="indefinite-length"),
        pytest.param(b"\x1f\x01\x00", id="high-tag-number"),
        pytest.param(b"\x30\x05\x02\x01\x01", id="truncated"),
        pytest.param(b"\x30\x82\x00\x03\x02\x01\x01", id="leading-zero-length-byte"),
    ],
)
def test_der_reader_rejects_what_cryptobyte_rejects(der):
    assert DerReader(der).read_element(SEQUENCE) is None


def test_der_reader_reads_minimal_integers_and_oids():
    assert DerReader(b"\x02\x01\xff").read_integer() == -1
    assert DerReader(b"\x02\x02\x00\x80").read_integer() == 128
    assert DerReader(b"\x02\x02\x00\x7f").read_integer() is None  # non-minimal
    assert DerReader(b"\x06\x03\x55\x1d\x11").read_oid() == (2, 5, 29, 17)
    assert DerReader(b"\x06\x02\x55\x80").read_oid() is None  # truncated arc


@pytest.mark.parametrize("oid", ["2b656e", "2b656f"], ids=["X25519", "X448"])
def test_a_raw_key_of_the_wrong_length_is_refused_not_a_crash(oid):
    # PKCS#8 with an X25519/X448 algorithm around a 30-byte key: OpenSSL refuses it only in its
    # key setup, which cryptography raises as InternalError (a fuzzing find, issue 17).
    key = bytes(range(30))
    inner = bytes([0x04, len(key)]) + key
    algorithm = bytes.fromhex("3005" + "0603" + oid)
    body = bytes([0x02, 0x01, 0x00]) + algorithm + bytes([0x04, len(inner)]) + inner
    der = bytes([0x30, len(body)]) + body
    pem = b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(der) + b"-----END PRIVATE KEY-----\n"
    with pytest.raises(DecodeError, match="private key"):
        load_private_key(pem)
    with pytest.raises(DecodeError):
        load_public_keys(pem)


def test_a_begin_line_without_its_dashes_does_not_hide_the_next_block(cert_pem):
    # Found by the differential test against Go 1.27.3: after a BEGIN line that does not end in
    # "-----", the next search starts right after that block's END marker, so the certificate
    # that follows is found.
    data = b"-----BEGIN - ----\nAAAA\n-----END -----\n" + cert_pem
    assert [block.type for block in iter_pem_blocks(data)] == ["CERTIFICATE"]
