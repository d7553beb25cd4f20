"""tls.X509KeyPair: kforensic's model against real Go on generated certificate and key files.

Each example draws a certificate (key type from the pool, odd encodings made by signing the TBS
ourselves: SHA-1/MD5 signatures, negative serials, duplicate extensions, unknown critical
extensions, names that are not UTF-8, RSA under 1024 bits, curves Go does not know) and a key
file (the certificate's own key, another pair's key, another type's key, in every encoding:
PKCS#1, PKCS#8, SEC1, OpenSSH, encrypted PKCS#8, legacy Proc-Type ENCRYPTED), then arranges the
two files the ways they break in the field: empty or whitespace, DER without PEM, swapped,
several blocks in either order, CRLF endings, trailing garbage, empty or corrupt bodies.
The model must load what Go loads and fail with Go's exact error text otherwise.
"""

from __future__ import annotations

from cryptography import x509
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from analyzer.gomodel.keypair import load_x509_key_pair
from tests.fixtures import gocases
from tests.fixtures.gooracle import examples

EXAMPLES = examples(700)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ODDITIES = ("none", "none", "none", "sha1", "md5", "negative-serial", "duplicate-extension", "unknown-critical",
            "latin1-name", "printable-name", "v1")


def certificate(leaf_key, issuer_key, oddity: str) -> bytes:
    spec = gocases.Spec(gocases.name("leaf.example"), gocases.name("issuer"), dns_names=("leaf.example",),
                        eku=("serverAuth",), unknown_critical=oddity == "unknown-critical")
    cert = gocases.build_certificate(spec, leaf_key, issuer_key)
    is_rsa = isinstance(issuer_key, gocases.rsa.RSAPrivateKey)
    if oddity in ("sha1", "md5") and is_rsa:
        return gocases.resign(cert, issuer_key, f"{oddity}-rsa")
    if oddity == "sha1" and isinstance(issuer_key, gocases.ec.EllipticCurvePrivateKey):
        return gocases.resign(cert, issuer_key, "sha1-ecdsa")
    if oddity == "negative-serial":
        return gocases.resign(cert, issuer_key, edit=gocases.set_serial(-4242))
    if oddity == "duplicate-extension":
        return gocases.resign(cert, issuer_key, edit=gocases.duplicate_extension(1))
    if oddity == "latin1-name":
        return gocases.resign(cert, issuer_key, edit=gocases.raw_subject(b"n\xf8de"))
    if oddity == "printable-name":
        return gocases.resign(cert, issuer_key, edit=gocases.raw_subject(b"node_1", 0x13))
    if oddity == "v1":
        return gocases.resign(cert, issuer_key, edit=lambda fields: fields[1:7])  # no version, no extensions
    return gocases.der(cert)


@st.composite
def pairs(draw) -> tuple[bytes, bytes, str]:
    pool = gocases.key_pool()
    kind = draw(st.sampled_from(gocases.LEAF_KINDS))
    leaf_key = pool[kind][0]
    issuer_key = draw(st.sampled_from([leaf_key] + [pool[k][0] for k in gocases.SIGNING_KINDS if k != kind]))
    if isinstance(leaf_key, gocases.x25519.X25519PrivateKey) and issuer_key is leaf_key:
        issuer_key = pool["p256"][0]
    oddity = draw(st.sampled_from(ODDITIES))
    cert_der = certificate(leaf_key, issuer_key, oddity)
    cert_pem = gocases.pem_block("CERTIFICATE", cert_der)

    which = draw(st.sampled_from(["own", "own", "own", "twin", "other-type"]))
    if which == "twin":
        siblings = pool[kind][1:] or pool["rsa2048"][1:]
        key = draw(st.sampled_from(siblings))
    elif which == "other-type":
        key = pool[draw(st.sampled_from([k for k in gocases.LEAF_KINDS if k != kind]))][0]
    else:
        key = leaf_key
    key_pem = gocases.encode_key(key, draw(st.sampled_from(gocases.KEY_ENCODINGS)))

    ca_pem = gocases.pem_block("CERTIFICATE", gocases.der(gocases.build_certificate(
        gocases.Spec(gocases.name("issuer"), gocases.name("issuer"), ca=True), issuer_key, issuer_key)))
    arrangement = draw(st.sampled_from([
        "plain", "plain", "plain", "chain", "chain-reversed", "key-first-in-cert", "swapped", "key-in-both",
        "cert-in-both", "empty-cert", "empty-key", "whitespace-cert", "whitespace-key", "der-cert", "der-key",
        "crlf", "trailing-garbage", "leading-garbage", "empty-body-cert", "empty-body-key", "corrupt-cert",
        "corrupt-key", "headers-on-key", "other-blocks-key", "other-blocks-cert",
    ]))
    cert_file, key_file = arrange(draw, arrangement, cert_pem, cert_der, key_pem, key, ca_pem)
    return cert_file, key_file, f"{kind} cert ({oddity}) signed by {type(issuer_key).__name__}, {which} key, {arrangement}"


def _corrupt(draw, text: bytes) -> bytes:
    # Positions are drawn independently of the text: ECDSA signatures and encryption salts make
    # lengths vary between runs, and hypothesis needs the same draws for the same example.
    lines = text.split(b"\n")
    row = 1 + draw(st.integers(0, 1000)) % max(1, len(lines) - 3)
    at = draw(st.integers(0, 1000)) % (len(lines[row]) + 1)
    lines[row] = lines[row][:at] + draw(st.sampled_from([b"!", b"=", b"-", b"*", b"\x00"])) + lines[row][at:]
    return b"\n".join(lines)


def arrange(draw, arrangement, cert_pem, cert_der, key_pem, key, ca_pem) -> tuple[bytes, bytes]:
    der_key = gocases.encode_key(key, "pkcs8")
    if arrangement == "chain":
        return cert_pem + ca_pem, key_pem
    if arrangement == "chain-reversed":
        return ca_pem + cert_pem, key_pem
    if arrangement == "key-first-in-cert":
        return key_pem + cert_pem, key_pem
    if arrangement == "swapped":
        return key_pem, cert_pem
    if arrangement == "key-in-both":
        return key_pem, key_pem
    if arrangement == "cert-in-both":
        return cert_pem, cert_pem + key_pem
    if arrangement == "empty-cert":
        return b"", key_pem
    if arrangement == "empty-key":
        return cert_pem, b""
    if arrangement == "whitespace-cert":
        return b" \n\t\r\n", key_pem
    if arrangement == "whitespace-key":
        return cert_pem, b"\n\n"
    if arrangement == "der-cert":
        return cert_der, key_pem
    if arrangement == "der-key":
        import base64
        body = b"".join(line for line in der_key.split(b"\n") if line and not line.startswith(b"-----"))
        return cert_pem, base64.b64decode(body)
    if arrangement == "crlf":
        return cert_pem.replace(b"\n", b"\r\n"), key_pem.replace(b"\n", b"\r\n")
    if arrangement == "trailing-garbage":
        return cert_pem + draw(st.sampled_from([b"garbage", b"\x00\x01", b"-----END CERTIFICATE-----\n"])), key_pem + b"trailing\n"
    if arrangement == "leading-garbage":
        return b"subject=CN = leaf\n" + cert_pem, b"Bag Attributes\n" + key_pem
    if arrangement == "empty-body-cert":
        return b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", key_pem
    if arrangement == "empty-body-key":
        label = draw(st.sampled_from([b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY"]))
        return cert_pem, b"-----BEGIN " + label + b"-----\n-----END " + label + b"-----\n"
    if arrangement == "corrupt-cert":
        return _corrupt(draw, cert_pem), key_pem
    if arrangement == "corrupt-key":
        return cert_pem, _corrupt(draw, key_pem)
    if arrangement == "headers-on-key":
        return cert_pem, key_pem.replace(b"-----\n", b"-----\nComment: generated\n\n", 1)
    if arrangement == "other-blocks-key":
        extra = draw(st.sampled_from([ca_pem, gocases.pem_block("EC PARAMETERS", b"\x06\x08*\x86H\xce=\x03\x01\x07"),
                                      gocases.pem_block("PUBLIC KEY", b"\x30\x00")]))
        return cert_pem, extra + key_pem
    if arrangement == "other-blocks-cert":
        return gocases.pem_block("X509 CRL", b"\x30\x00") + gocases.pem_block("TRUSTED CERTIFICATE", cert_der), key_pem
    return cert_pem, key_pem


@SETTINGS
@given(case=pairs())
def test_x509_key_pair_matches_go(go_oracle, case):
    cert_file, key_file, description = case
    go = go_oracle.ask({"pair": {"cert": cert_file, "key": key_file}})["pair"]
    result = load_x509_key_pair(cert_file, key_file)
    model = {"ok": result.ok, "error": result.go_error}
    event("loads" if go["ok"] else go["error"][:90])  # --hypothesis-show-statistics: what Go said, how often
    go_oracle.record(model == go, f"X509KeyPair: {description}: Go {go['error']!r}, model {result.go_error!r}")
    assert model == go, description


def test_sha1_leaf_loads_like_go(go_oracle):
    """X509KeyPair never checks the signature: a SHA-1 leaf loads (the refusal comes at Verify)."""
    key = gocases.key_pool()["rsa2048"][0]
    cert = gocases.build_certificate(gocases.Spec(gocases.name("s"), gocases.name("s")), key, key)
    cert_pem = gocases.pem_block("CERTIFICATE", gocases.resign(cert, key, "sha1-rsa"))
    key_pem = gocases.encode_key(key, "pkcs1")
    go = go_oracle.ask({"pair": {"cert": cert_pem, "key": key_pem}})["pair"]
    assert go == {"ok": True, "error": None}
    assert load_x509_key_pair(cert_pem, key_pem).ok
    assert x509.load_pem_x509_certificate(cert_pem).signature_hash_algorithm.name == "sha1"
