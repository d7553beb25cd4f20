"""pem.Decode and x509.ParseCertificate: kforensic's model against real Go, on generated files.

Each example is a file made of PEM blocks (certificates, keys of every encoding, empty and
corrupt bodies, headers), garbage, whitespace and DER, optionally with CRLF line endings and
stray bytes. Go decodes it block by block (tests/gooracle/main.go); the model must find the same
blocks (type, headers, bytes), leave the same rest, and give the same ParseCertificate verdict
and error text for every block.
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from analyzer.gomodel.keypair import GO_VERSION
from analyzer.gomodel.x509parse import parse_certificate as _parse
from analyzer.gomodel.pem import iter_pem_blocks
from tests.fixtures import gocases
from tests.fixtures.gooracle import examples

EXAMPLES = examples(500)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BLOCK_TYPES = ("CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
               "CERTIFICATE REQUEST", "X509 CRL", "PUBLIC KEY", "", "CERTIFICATE ", "certificate")


def _certificates() -> list[bytes]:
    pool = gocases.key_pool()
    ca_key = pool["p256"][0]
    out = []
    for kind in ("rsa2048", "p256", "ed25519", "secp256k1", "rsa512"):
        spec = gocases.Spec(gocases.name(f"leaf-{kind}"), gocases.name("ca"), dns_names=("a.example",))
        out.append(gocases.der(gocases.build_certificate(spec, pool[kind][0], ca_key)))
    leaf = gocases.build_certificate(gocases.Spec(gocases.name("odd"), gocases.name("ca")), pool["p256"][1], ca_key)
    out.append(gocases.resign(leaf, ca_key, edit=gocases.set_serial(-5)))
    out.append(gocases.resign(leaf, ca_key, edit=gocases.duplicate_extension()))
    out.append(gocases.resign(leaf, ca_key, edit=gocases.raw_subject(b"caf\xe9")))
    return out


CERTS = _certificates()
KEYS = [gocases.encode_key(gocases.key_pool()[kind][0], encoding)
        for kind in ("rsa2048", "p256", "ed25519") for encoding in gocases.KEY_ENCODINGS]


@st.composite
def bodies(draw) -> bytes:
    kind = draw(st.sampled_from(["cert", "truncated-cert", "cert-trailing", "random", "empty"]))
    cert = draw(st.sampled_from(CERTS))
    if kind == "cert":
        return cert
    if kind == "truncated-cert":
        return cert[: draw(st.integers(0, len(cert) - 1))]
    if kind == "cert-trailing":
        return cert + draw(st.binary(min_size=1, max_size=4))
    if kind == "random":
        return draw(st.binary(max_size=40))
    return b""


@st.composite
def pieces(draw) -> bytes:
    kind = draw(st.sampled_from(["block", "block", "headers", "key", "corrupt-body", "empty-body", "garbage", "whitespace", "der"]))
    if kind == "key":
        return draw(st.sampled_from(KEYS))
    if kind in ("block", "headers", "corrupt-body"):
        headers = ()
        if kind == "headers":
            headers = draw(st.lists(st.tuples(st.sampled_from(["Proc-Type", "DEK-Info", "X", " Spaced ", "Proc-Type"]),
                                              st.sampled_from(["4,ENCRYPTED", "AES-128-CBC,00", "", " v "])), max_size=3))
        text = gocases.pem_block(draw(st.sampled_from(BLOCK_TYPES)), draw(bodies()), tuple(headers),
                                 width=draw(st.sampled_from([64, 76, 1000])))
        if kind == "corrupt-body":
            lines = text.split(b"\n")
            if len(lines) > 3:
                row = draw(st.integers(1, len(lines) - 3))
                line = lines[row]
                at = draw(st.integers(0, len(line)))
                lines[row] = line[:at] + draw(st.sampled_from([b"!", b"=", b" ", b"\t", b"-", b"\r", b"\x00"])) + line[at:]
            text = b"\n".join(lines)
        return text
    if kind == "empty-body":
        block_type = draw(st.sampled_from(BLOCK_TYPES)).encode()
        return b"-----BEGIN " + block_type + b"-----\n-----END " + block_type + b"-----\n"
    if kind == "garbage":
        return draw(st.binary(max_size=12))
    if kind == "whitespace":
        return draw(st.sampled_from([b"", b"\n", b" ", b"\r\n", b"\t\n \n", b"\n\n\n"]))
    return draw(st.sampled_from(CERTS))


@st.composite
def pem_files(draw) -> bytes:
    data = b"".join(draw(st.lists(pieces(), max_size=4)))
    if draw(st.booleans()):
        data = data.replace(b"\n", b"\r\n")
    if data and draw(st.integers(0, 4)) == 0:  # one stray edit anywhere
        at = draw(st.integers(0, len(data)))
        if draw(st.booleans()):
            data = data[:at] + draw(st.sampled_from([b"\n", b"-", b" ", b"\r", b"x"])) + data[at:]
        else:
            data = data[:at] + data[at + 1 :]
    return data


def model_decode(data: bytes) -> dict:
    blocks, rest = [], data
    for block in iter_pem_blocks(data):
        blocks.append({
            "type": block.type.encode("utf-8", "surrogateescape"),
            "headers": sorted((k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
                              for k, v in block.headers),
            "bytes": block.der,
            "parse": _parse(block.der, GO_VERSION).go_error,
        })
        rest = data[block.end :]
    return {"blocks": blocks, "rest": rest}


def go_decode(answer: dict) -> dict:
    return {
        "blocks": [{"type": b["type"], "headers": sorted(b["headers"]), "bytes": b["bytes"],
                    "parse": None if b["parse"]["ok"] else b["parse"]["error"]} for b in answer["blocks"]],
        "rest": answer["rest"],
    }


@SETTINGS
@given(data=pem_files())
def test_pem_decode_and_parse_match_go(go_oracle, data):
    go = go_decode(go_oracle.ask({"pem": data})["pem"])
    model = model_decode(data)
    event(f"{len(go['blocks'])} blocks; parse errors: {sorted({b['parse'] or 'none' for b in go['blocks']})}"[:120])
    go_oracle.record(model == go, f"pem.Decode/ParseCertificate of {data[:80]!r}...")
    assert model == go
