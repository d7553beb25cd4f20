"""analyzer.gomodel.x509parse: Go's ParseCertificate, and cryptography read in one place.

Every certificate here is a real one from cryptography's CertificateBuilder, damaged in one DER
node (tests/fixtures/der.py) where cryptography refuses to build it. The Go strings were checked
against ``x509.ParseCertificate`` of Go 1.27.3 on the same bytes; the "unreadable" ones are
certificates that Go 1.27.3 parses without error and cryptography cannot read.
"""

from __future__ import annotations

import base64
import json
import subprocess
import warnings
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from analyzer.gomodel.clientgo import bundle, unreadable_certificate
from analyzer.gomodel.x509parse import parse_certificate, serial_of
from analyzer.gomodel.keypair import PairFailure, PairOutcome, load_x509_key_pair
from analyzer.gomodel.keys import load_certificates
from analyzer.errors import DecodeError
from tests.fixtures import der as D
from tests.fixtures.node_trees import build_node_tree
from tests.fixtures.pki import make_ca, make_leaf

REPO = Path(__file__).resolve().parents[1]
CA = make_ca("fuzz-ca")
EC_LEAF = make_leaf(CA, "leaf", dns=("a.example",), ips=("10.0.0.1",), server=True)
RSA_LEAF = make_leaf(CA, "leaf", dns=("a.example",), server=True, key_kind="rsa")
ED_LEAF = make_leaf(CA, "leaf", server=True, key_kind="ed25519")

Edit = Callable[[D.Node], None]


def damaged(leaf, edit: Edit) -> bytes:
    root = D.parse(leaf.cert.public_bytes(Encoding.DER))
    edit(root)
    return root.encode()


def version(value: int) -> Edit:
    def edit(root: D.Node) -> None:
        D.tbs_field(root, "version")[0].content = bytes([value])
    return edit


def duplicate_san(root: D.Node) -> None:
    D.tbs_field(root, "extensions")[0].children.append(D.extension(root, D.OID_SAN))


def name_value(field: str, value: D.Node) -> Edit:
    def edit(root: D.Node) -> None:
        D.tbs_field(root, field)[0][0].children[1] = value
    return edit


def extra_san(tag: int, value: bytes) -> Edit:
    def edit(root: D.Node) -> None:
        names = D.extension_value(root, D.OID_SAN)
        names.children.append(D.Node(tag, value))
        D.set_extension_value(root, D.OID_SAN, names)
    return edit


def rsa_key(index: int, value: bytes) -> Edit:
    """Replace the modulus (0) or exponent (1) of the RSAPublicKey in the SPKI bit string."""
    def edit(root: D.Node) -> None:
        bits = D.tbs_field(root, "spki")[1]
        key = D.parse(bits.content[1:])
        key[index].content = value
        bits.content = b"\x00" + key.encode()
    return edit


def rsa_without_null(root: D.Node) -> None:
    del D.tbs_field(root, "spki")[0].children[1:]


def point(value: bytes) -> Edit:
    def edit(root: D.Node) -> None:
        D.tbs_field(root, "spki")[1].content = b"\x00" + value
    return edit


GO_REFUSES = {
    "version-6": (EC_LEAF, version(5), "x509: invalid version"),
    "duplicate-extension": (EC_LEAF, duplicate_san, 'x509: certificate contains duplicate extension with OID "2.5.29.17"'),
    "subject-printable-with-at": (EC_LEAF, name_value("subject", D.Node(D.PRINTABLE_STRING, b"a@b")),
                                  "x509: invalid RDNSequence: invalid attribute value: invalid PrintableString"),
    "issuer-utf8-invalid": (EC_LEAF, name_value("issuer", D.Node(D.UTF8_STRING, b"a\xffb")),
                            "x509: invalid RDNSequence: invalid attribute value: invalid UTF-8 string"),
    "subject-bmp-odd-length": (EC_LEAF, name_value("subject", D.Node(D.BMP_STRING, b"\x00a\x00")),
                               "x509: invalid RDNSequence: invalid attribute value: invalid BMPString"),
    "subject-ia5-not-ascii": (EC_LEAF, name_value("subject", D.Node(D.IA5_STRING, b"\xe9t\xe9")),
                              "x509: invalid RDNSequence: invalid attribute value: invalid IA5String"),
    "subject-numeric-with-letter": (EC_LEAF, name_value("subject", D.Node(0x12, b"12a")),
                                    "x509: invalid RDNSequence: invalid attribute value: invalid NumericString"),
    "san-dns-not-ascii": (EC_LEAF, extra_san(0x82, b"a\xffb.example"), "x509: SAN dNSName is malformed"),
    "san-email-not-ascii": (EC_LEAF, extra_san(0x81, b"a\xff@x"), "x509: SAN rfc822Name is malformed"),
    "san-ip-of-5-bytes": (EC_LEAF, extra_san(0x87, b"\x01\x02\x03\x04\x05"), "x509: cannot parse IP address of length 5"),
    "san-ipv4-mapped": (EC_LEAF, extra_san(0x87, bytes(10) + b"\xff\xff\x01\x02\x03\x04"),
                        "x509: SAN iPAddress contains IPv4-mapped IPv6 address"),
    "rsa-negative-modulus": (RSA_LEAF, rsa_key(0, b"\x80" + bytes(5)), "x509: RSA modulus is not a positive number"),
    "rsa-exponent-over-int64": (RSA_LEAF, rsa_key(1, b"\x01" + bytes(8)), "x509: invalid RSA public exponent"),
    "rsa-without-null-parameters": (RSA_LEAF, rsa_without_null, "x509: RSA key missing NULL parameters"),
    "ec-compressed-point": (EC_LEAF, point(b"\x02" + bytes(32)), "ecdsa: invalid uncompressed public key"),
    "ec-point-not-on-curve": (EC_LEAF, point(b"\x04" + bytes(63) + b"\x01"), "P256 point not on curve"),
    "ec-point-too-short": (EC_LEAF, point(b"\x04" + bytes(10)), "invalid P256 point encoding"),
    "ed25519-key-too-short": (ED_LEAF, point(bytes(31)), "x509: wrong Ed25519 public key size"),
}

GO_ACCEPTS_UNREADABLE = {
    "subject-value-integer": (EC_LEAF, name_value("subject", D.Node(0x02, b"\x01"))),
    "subject-value-null": (EC_LEAF, name_value("subject", D.Node(0x05, b""))),
    "subject-value-sequence": (EC_LEAF, name_value("subject", D.Node(0x30, children=[D.Node(0x02, b"\x01")]))),
    "subject-value-bit-string": (EC_LEAF, name_value("subject", D.Node(0x03, b"\x00\x01"))),
    "issuer-t61-latin1": (EC_LEAF, name_value("issuer", D.Node(0x14, b"caf\xe9"))),
    "subject-empty-rdn": (EC_LEAF, lambda root: D.tbs_field(root, "subject").children.append(D.Node(0x31))),
    "san-x400-address": (EC_LEAF, extra_san(0xA3, b"\x05\x00")),
    "san-other-name-without-type": (EC_LEAF, extra_san(0xA0, b"\x05\x00")),
    "rsa-exponent-1": (RSA_LEAF, rsa_key(1, b"\x01")),
    "rsa-exponent-2": (RSA_LEAF, rsa_key(1, b"\x02")),
}


@pytest.mark.parametrize(("leaf", "edit", "go_error"), GO_REFUSES.values(), ids=GO_REFUSES.keys())
def test_a_certificate_go_refuses_is_refused_at_load_with_gos_error(leaf, edit, go_error):
    der = damaged(leaf, edit)
    parsed = parse_certificate(der)
    assert (parsed.certificate, parsed.go_error, parsed.unreadable) == (None, go_error, None)
    pem = pem_block(der)
    assert bundle(pem) == ((), go_error)  # client-go ParseCertsPEM stops at it with Go's error
    assert unreadable_certificate(pem) is None  # a finding, not a blind spot
    with pytest.raises(DecodeError, match="does not parse: " + go_error.replace("(", r"\(")[:30]):
        load_certificates(pem)
    result = load_x509_key_pair(pem, leaf.key_pem)
    assert (result.outcome, result.failure, result.go_error) == (PairOutcome.FAILS, PairFailure.LEAF_UNPARSEABLE, go_error)


@pytest.mark.parametrize(("leaf", "edit"), GO_ACCEPTS_UNREADABLE.values(), ids=GO_ACCEPTS_UNREADABLE.keys())
def test_a_certificate_go_accepts_but_cryptography_cannot_read_cannot_be_checked(leaf, edit):
    der = damaged(leaf, edit)
    parsed = parse_certificate(der)
    assert parsed.certificate is None and parsed.go_error is None
    assert parsed.unreadable and parsed.unreadable.startswith("cryptography cannot read it")
    pem = pem_block(der)
    assert bundle(pem) == ((), None)  # Go would load it: the bundle is not broken, only unreadable here
    assert unreadable_certificate(pem) == parsed.unreadable
    result = load_x509_key_pair(pem, leaf.key_pem)
    assert (result.outcome, result.unverifiable_input, result.go_error) == (PairOutcome.UNVERIFIABLE, "certificate", None)


def test_an_accepted_certificate_reads_every_part():
    parsed = parse_certificate(EC_LEAF.cert.public_bytes(Encoding.DER))
    assert parsed.certificate == EC_LEAF.cert and parsed.go_error is None and parsed.unreadable is None


def test_trailing_data_is_gos_last_check():
    der = EC_LEAF.cert.public_bytes(Encoding.DER)
    assert parse_certificate(der + b"\x00").go_error == "x509: trailing data"
    assert parse_certificate(damaged(EC_LEAF, version(5)) + b"\x00").go_error == "x509: invalid version"


def pem_block(der: bytes) -> bytes:
    return b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"


# -- through the CLI: the crashes of issue 17, each once ------------------------------------------------

CLI_CASES = {
    "invalid-version": ("apiserver", GO_REFUSES["version-6"][1], "x509: invalid version"),
    "duplicate-extensions": ("ca", duplicate_san, 'x509: certificate contains duplicate extension with OID \\"2.5.29.17\\"'),
    "unparsable-subject": ("apiserver", GO_ACCEPTS_UNREADABLE["subject-value-integer"][1], None),
    "unparsable-issuer": ("apiserver", GO_REFUSES["issuer-utf8-invalid"][1], "x509: invalid RDNSequence"),
    "unparsable-san": ("apiserver", GO_ACCEPTS_UNREADABLE["san-x400-address"][1], None),
    "kubeconfig-key-does-not-load": ("admin.conf", GO_ACCEPTS_UNREADABLE["rsa-exponent-1"][1], None),
}


@pytest.mark.parametrize(("target", "edit", "go_error"), CLI_CASES.values(), ids=CLI_CASES.keys())
def test_ls_and_scan_survive_hostile_certificates(tmp_path, kubeadm, target, edit, go_error):
    files = kubeadm.files()
    if target == "admin.conf":
        pair = kubeadm.kubeconfig_pairs["admin.conf"]
        hostile = pem_block(damaged(RSA_LEAF, edit))
        old = base64.b64encode(pair.cert_pem)
        files["/etc/kubernetes/admin.conf"] = files["/etc/kubernetes/admin.conf"].replace(old, base64.b64encode(hostile))
    else:
        pair = kubeadm.pki[target]
        hostile = pem_block(damaged(EC_LEAF if target != "ca" else CA, edit))
        files[f"/etc/kubernetes/pki/{target}.crt"] = hostile
    tree = build_node_tree(tmp_path / "in", files, "host-root", "tar.gz", name="master-0")
    listed = cli("ls", tree, "-o", "json")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    report_path = tmp_path / "report.json"
    scanned = cli("scan", tree, "--at", "2025-06-01T12:00:00Z", "--json", report_path)
    assert scanned.returncode in (0, 1, 4) and "Traceback" not in scanned.stderr, scanned.stderr  # 4: what cannot be read is "cannot tell"
    report = json.loads(report_path.read_text())
    text = json.dumps(report)
    if go_error:
        assert go_error in text
    elif target in ("apiserver", "admin.conf"):
        assert any(f["id"] == "evidence.unreadable-certificate" for f in report["findings"]), [f["id"] for f in report["findings"]]
    assert not any(line in text + listed.stdout for line in pair.key_pem.decode().splitlines()[1:-1])


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "analyzer", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=REPO, env={"PATH": "/usr/bin:/bin", "KFORENSIC_DEBUG": "", "COLUMNS": "200"})


def test_a_zero_serial_go_accepts_loads_without_a_warning_on_stderr():
    def zero_serial(root: D.Node) -> None:
        D.tbs_field(root, "serial").content = b"\x00"

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parsed = parse_certificate(damaged(EC_LEAF, zero_serial))
        assert parsed.certificate is not None and serial_of(parsed.certificate) == 0
    assert caught == []
