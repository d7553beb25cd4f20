"""x509.Certificate.Verify: kforensic's model against real Go on generated chains.

Each example builds a root, maybe an intermediate, and a leaf (keys from the pool, signatures
SHA-256, SHA-1 or MD5, RSA under 1024 bits, CAs without basicConstraints or certSign, path length
limits, unknown critical extensions, names that are not UTF-8), hands Go and the model the same
roots and intermediates (the wrong CA, a regenerated CA of the same name, a missing intermediate,
the leaf itself as root), and asks at a chosen time for a chosen name or IP (wildcards, CN-only
certificates, IPv6, zones, trailing dots) and key usages (serving certificates without
serverAuth, client certificates without clientAuth). Verdict and error text must be Go's.
"""

from __future__ import annotations

import re
from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from analyzer.gomodel.fmt import go_rfc3339
from analyzer.gomodel.verify import go_verify
from analyzer.gomodel.x509parse import parse_certificate
from tests.fixtures import gocases
from tests.fixtures.gooracle import examples
from tests.fixtures.gocases import (
    ISSUED,
    Spec,
    build_certificate,
    name,
    pem_block,
    resign,
)

EXAMPLES = examples(900)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DAY = timedelta(days=1)

ISSUER_KINDS = ("rsa2048", "rsa1024", "rsa512", "p256", "p384", "ed25519")
NAMES = ("api.example.com", "*.example.com", "kubernetes.default.svc", "localhost", "Node-1.Example.com", "x_y.example.com")
IPS = ("10.0.0.1", "::1", "fe80::1", "192.168.1.10")
HOSTS = ("",) * 16 + ("api.example.com", "foo.example.com", "a.b.example.com", "API.EXAMPLE.COM.", "localhost", "10.0.0.1",
         "10.0.0.2", "[::1]", "::1", "fe80::1%eth0", "::ffff:10.0.0.1", "kubernetes.default.svc", "node-1.example.com",
         "*.example.com", "x_y.example.com", "leaf")
USAGES = ((), ("serverAuth",), ("clientAuth",), ("any",), ("serverAuth", "clientAuth"))
EKUS = (None, ("serverAuth",), ("clientAuth",), ("serverAuth", "clientAuth"), ("codeSigning",), ("any",))
MOMENTS = {  # the leaf lives from ISSUED + 1 day to ISSUED + 1 year; see certificates()
    "inside": ISSUED + 10 * DAY,
    "leaf-starts": ISSUED + DAY,
    "just-before-leaf": ISSUED + DAY - timedelta(seconds=1),
    "before-everything": ISSUED - 400 * DAY,
    "leaf-ends": ISSUED + 366 * DAY,
    "leaf-expired": ISSUED + 400 * DAY,
    "short-intermediate-expired": ISSUED + 40 * DAY,
    "far-future": ISSUED + 4000 * DAY,
}


def _one_in(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws (hypothesis favours 0 in integer ranges, so not integers(0, n-1) == 0)."""
    return st.sampled_from([False] * (n - 1) + [True])


def _key(kind: str, index: int = 0):
    keys = gocases.key_pool()[kind]
    return keys[index % len(keys)]


@st.composite
def ca_specs(draw, subject, issuer, not_after):
    flavour = draw(st.sampled_from(["normal"] * 12 + ["no-basic-constraints", "not-ca", "no-cert-sign", "path-len-0",
                                                      "unknown-critical", "client-eku-only"]))
    return flavour, Spec(
        subject, issuer, not_before=ISSUED - 365 * DAY, not_after=not_after,
        ca=None if flavour == "no-basic-constraints" else flavour != "not-ca",
        path_length=0 if flavour == "path-len-0" else None,
        key_cert_sign=False if flavour == "no-cert-sign" else draw(st.sampled_from([None, True])),
        key_ids=draw(st.booleans()),
        unknown_critical=flavour == "unknown-critical",
        eku=("clientAuth",) if flavour == "client-eku-only" else None,
    )


@st.composite
def verify_cases(draw) -> tuple[dict, str]:
    root_kind, inter_kind = draw(st.sampled_from(ISSUER_KINDS)), draw(st.sampled_from(ISSUER_KINDS))
    leaf_kind = draw(st.sampled_from([k for k in gocases.LEAF_KINDS if k != "secp256k1"] * 3 + ["secp256k1"]))
    root_key, inter_key, leaf_key = _key(root_kind), _key(inter_kind, 1), _key(leaf_kind, 2)
    latin1 = draw(_one_in(10))
    root_name = name("Caf\u00e9 Root" if latin1 else "root-ca", draw(st.sampled_from([None, "Org"])))
    if draw(_one_in(10)):
        root_name = name(None, draw(st.sampled_from([None, "Only Org"])))  # hint falls back to O or serial
    root_flavour, root_spec = draw(ca_specs(root_name, root_name, ISSUED + 3650 * DAY))
    root = build_certificate(root_spec, root_key, root_key)
    root_der = gocases.der(root)
    if latin1:  # the same name as a T61String of Latin-1 bytes, which Go turns into UTF-8
        root_der = resign(root, root_key, edit=gocases.raw_names(b"Caf\xe9 Root", b"Caf\xe9 Root"))

    shape = draw(st.sampled_from(["direct", "intermediate", "intermediate", "intermediate-missing", "wrong-ca",
                                  "regenerated-ca", "leaf-in-roots", "no-roots", "intermediate-as-root", "two-roots"]))
    with_intermediate = shape.startswith("intermediate")
    inter_name = name("intermediate-ca")
    inter_flavour, inter_spec = draw(ca_specs(inter_name, root_name,
                                              draw(st.sampled_from([ISSUED + 1825 * DAY, ISSUED + 30 * DAY]))))
    inter = build_certificate(inter_spec, inter_key, root_key) if with_intermediate else None
    inter_der = gocases.der(inter) if inter is not None else b""
    if inter is not None and latin1:
        inter_der = resign(inter, root_key, edit=gocases.raw_names(issuer=b"Caf\xe9 Root"))

    issuer_key, issuer_name = (inter_key, inter_name) if with_intermediate else (root_key, root_name)
    use_cn = draw(st.sampled_from(["leaf", "api.example.com", "*.example.com", "10.0.0.1", ""]))
    san = draw(st.sampled_from(["names", "names", "none", "empty", "ips-only"]))
    dns_names = tuple(draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))) if san == "names" else ()
    ip_addresses = tuple(draw(st.lists(st.sampled_from(IPS), max_size=2, unique=True))) if san in ("names", "ips-only") else ()
    if draw(_one_in(30)):  # Go refuses to parse an IPv4-mapped IPv6 SAN
        ip_addresses += ("::ffff:10.0.0.2",)
    leaf_spec = Spec(
        name(use_cn or None), issuer_name, not_before=ISSUED + DAY, not_after=ISSUED + 366 * DAY,
        serial=draw(st.integers(1, 2**64)), dns_names=dns_names, ip_addresses=ip_addresses,
        san=True if san == "empty" else None, eku=draw(st.sampled_from(EKUS)), key_ids=draw(st.booleans()),
        unknown_critical=draw(_one_in(30)), ca=draw(st.sampled_from([None, None, False])),
    )
    signature = draw(st.sampled_from(["default", "default", "sha1", "md5", "rsa-pss"]))
    leaf = build_certificate(leaf_spec, leaf_key, issuer_key, rsa_pss=signature == "rsa-pss")
    edit = gocases.raw_names(issuer=b"Caf\xe9 Root") if latin1 and not with_intermediate else None
    if signature in ("sha1", "md5") and not isinstance(issuer_key, gocases.ed25519.Ed25519PrivateKey):
        algorithm = f"{signature}-rsa" if isinstance(issuer_key, gocases.rsa.RSAPrivateKey) else "sha1-ecdsa"
        leaf_der = resign(leaf, issuer_key, algorithm, edit)
    elif edit is not None:
        leaf_der = resign(leaf, issuer_key, edit=edit)
    else:
        leaf_der = gocases.der(leaf)

    roots = pem_block("CERTIFICATE", root_der)
    intermediates = pem_block("CERTIFICATE", inter_der) if shape != "intermediate-missing" and inter_der else b""
    if shape == "wrong-ca":
        roots = pem_block("CERTIFICATE", gocases.der(build_certificate(Spec(name("other-ca"), name("other-ca"), ca=True),
                                                                      _key("p256", 1), _key("p256", 1))))
    elif shape == "regenerated-ca":  # same name, another key: Go's hint names the candidate
        other = _key("rsa2048", 2) if root_kind != "rsa2048" else _key("p256", 2)
        roots = pem_block("CERTIFICATE", gocases.der(build_certificate(root_spec, other, other)))
    elif shape == "leaf-in-roots":
        roots = pem_block("CERTIFICATE", leaf_der)
    elif shape == "no-roots":
        roots = b""
    elif shape == "intermediate-as-root":
        roots = pem_block("CERTIFICATE", inter_der) if inter_der else roots
    elif shape == "two-roots":
        other = _key("p384")
        roots = pem_block("CERTIFICATE", gocases.der(build_certificate(root_spec, other, other))) + roots

    moment_name = draw(st.sampled_from(["inside"] * 10 + list(MOMENTS)))
    case = {
        "leaf": leaf_der, "roots": roots, "intermediates": intermediates,
        "dns_name": draw(st.sampled_from(HOSTS)), "time": go_rfc3339(MOMENTS[moment_name]),
        "key_usages": list(draw(st.sampled_from(USAGES))),
    }
    description = (f"{leaf_kind} leaf ({signature}, san={san}, cn={use_cn!r}, eku={leaf_spec.eku}) under "
                   f"{shape} [root {root_kind}/{root_flavour}, intermediate {inter_kind}/{inter_flavour}], "
                   f"at {moment_name}, host {case['dns_name']!r}, usages {case['key_usages']}")
    return case, description


@SETTINGS
@given(case=verify_cases())
def test_verify_matches_go(go_oracle, case):
    request, description = case
    go = go_oracle.ask({"verify": request})["verify"]
    at = MOMENTS_BY_TEXT[request["time"]]
    parse_error = parse_certificate(request["leaf"]).go_error  # the oracle reports a leaf Go cannot parse so
    model = f"leaf: {parse_error}" if parse_error else go_verify(request["leaf"], roots_pem=request["roots"], intermediates_pem=request["intermediates"],
                      dns_name=request["dns_name"], now=at, key_usages=tuple(request["key_usages"]))
    event(_kind(go["error"]))  # pytest --hypothesis-show-statistics lists how often Go said what
    go_oracle.record(model == go["error"], f"Verify: {description}: Go {go['error']!r}, model {model!r}")
    assert model == go["error"], description


MOMENTS_BY_TEXT = {go_rfc3339(moment): moment for moment in MOMENTS.values()}


def _kind(error: str | None) -> str:
    """The error without its variable parts, to count which of Go's outcomes the examples reach."""
    if error is None:
        return "verified"
    error = re.sub(r'(candidate authority certificate )"[^"]*"', r"\1…", error)
    return re.sub(r'\d{4}-[\d:TZ-]*|for [^ ]+ because|valid for .*, not .*|match .*', "…", error)[:160]
