"""RSA private keys: Go's own checks, not OpenSSL's, against real Go.

kforensic loads RSA keys without OpenSSL's validation (which tests p and q for primality: tens of
milliseconds per key) and replays what Go checks instead: x509.ParsePKCS1PrivateKey's structure
and rsa.PrivateKey.Validate (gomodel/privkey.py). Each example takes a real key's numbers and
breaks them the ways they break — a changed exponent, modulus, prime, CRT value or coefficient,
values out of range, zero or negative, missing CRT values, swapped primes, another version — or
builds keys whose numbers agree although OpenSSL would refuse them (a composite "prime", primes
too close together, three primes). The same DER goes to x509.ParsePKCS1PrivateKey, to
x509.ParsePKCS8PrivateKey (wrapped) and, with a certificate of the original or the new public key,
to tls.X509KeyPair; the model must accept what Go accepts and refuse the rest with Go's words.
"""

from __future__ import annotations

import math
from functools import lru_cache

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from analyzer.errors import DecodeError
from analyzer.gomodel import privkey
from analyzer.gomodel.keypair import PairOutcome, load_x509_key_pair
from analyzer.gomodel.keys import load_private_key
from tests.fixtures import gocases
from tests.fixtures.gocases import integer_der, oid_der, tlv
from tests.fixtures.gooracle import examples

SETTINGS = settings(max_examples=examples(300), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

E = 65537


def pkcs1(version: int, n: int, e: int, d: int, p: int, q: int, crt: tuple[int, int, int] | None,
          extra: tuple[tuple[int, int, int], ...] = ()) -> bytes:
    """An RSAPrivateKey as Go's pkcs1PrivateKey reads it (CRT values and extra primes optional)."""
    body = b"".join(integer_der(v) for v in (version, n, e, d, p, q, *(crt or ())))
    if extra:
        body += tlv(0x30, b"".join(tlv(0x30, b"".join(integer_der(v) for v in prime)) for prime in extra))
    return tlv(0x30, body)


def pkcs8(inner: bytes) -> bytes:
    return tlv(0x30, integer_der(0) + tlv(0x30, oid_der("1.2.840.113549.1.1.1") + b"\x05\x00") + tlv(0x04, inner))


def _is_probable_prime(n: int) -> bool:
    if n < 2 or n % 2 == 0:
        return n == 2
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def consistent(primes: list[int], e: int = E) -> tuple[int, int, int, int, int]:
    """(n, e, d, p, q) for these primes (or "primes") with d = e⁻¹ mod λ; ``e`` is the first odd
    exponent from the one asked for that is invertible modulo λ (the keys are new every session)."""
    n, lam = math.prod(primes), math.lcm(*(p - 1 for p in primes))
    while math.gcd(e, lam) != 1:
        e += 2
    return n, e, pow(e, -1, lam), primes[0], primes[1]


def crt_of(d: int, p: int, q: int) -> tuple[int, int, int]:
    return d % (p - 1), d % (q - 1), pow(q, -1, p)


@lru_cache(maxsize=1)
def material() -> dict[str, list[int]]:
    """Prime material from real keys: two 2048-bit keys' primes and one 1024-bit key's."""
    pool = gocases.key_pool()
    big = [k.private_numbers() for k in pool["rsa2048"][:2]]
    small = pool["rsa1024"][0].private_numbers()
    close = small.p + (1 << 380)  # a prime within 2^400 of p: Go refuses |p - q| that small
    while not _is_probable_prime(close):
        close += 2
    return {"rsa2048": [big[0].p, big[0].q], "other": [big[1].p, big[1].q], "rsa1024": [small.p, small.q],
            "close": [small.p, close]}


MUTATIONS = (
    "intact", "intact", "no-crt", "new-e", "e+2", "e-even", "e-one", "e-huge", "d+2", "d+n", "dp+1", "dq+p-1",
    "qinv+1", "qinv+p", "swap-pq", "swap-pq-recomputed", "p+2", "n+2", "n-even", "zero-d", "negative-dp",
    "version-2", "version-1", "composite-p", "close-primes", "three-primes", "trailing",
)


def build(mutation: str) -> tuple[bytes, tuple[int, int], tuple[int, int]]:
    """(PKCS#1 DER, the original public key (n, e), the key's own public key (n, e))."""
    m = material()
    n, e, d, p, q = consistent(m["rsa2048"])
    original = (n, e)
    crt: tuple[int, int, int] | None = crt_of(d, p, q)
    version, extra, tail = 0, (), b""
    dp, dq, qinv = crt
    if mutation == "no-crt":
        crt = None
    elif mutation == "new-e":  # a consistent key with another exponent: the pair no longer matches
        n, e, d, p, q = consistent(m["rsa2048"], 17)
        crt = crt_of(d, p, q)
    elif mutation in ("e+2", "e-even", "e-one", "e-huge"):
        e = {"e+2": E + 2, "e-even": E + 1, "e-one": 1, "e-huge": (1 << 31) + 1}[mutation]
    elif mutation == "d+2":
        d += 2
    elif mutation == "d+n":
        d += n
    elif mutation == "dp+1":
        crt = (dp + 1, dq, qinv)
    elif mutation == "dq+p-1":
        crt = (dp, dq + q - 1, qinv)
    elif mutation == "qinv+1":
        crt = (dp, dq, qinv + 1)
    elif mutation == "qinv+p":
        crt = (dp, dq, qinv + p)
    elif mutation == "swap-pq":
        p, q = q, p
    elif mutation == "swap-pq-recomputed":
        p, q = q, p
        crt = crt_of(d, p, q)
    elif mutation == "p+2":
        p += 2
    elif mutation == "n+2":
        n += 2
    elif mutation == "n-even":
        n += 1
    elif mutation == "zero-d":
        d = 0
    elif mutation == "negative-dp":
        crt = (-dp, dq, qinv)
    elif mutation == "version-2":
        version = 2
    elif mutation == "version-1":
        version = 1  # multi-prime version without extra primes: Go reads it like version 0
    elif mutation == "composite-p":  # p is the product of two primes: numbers agree, OpenSSL refuses
        n, e, d, p, q = consistent([m["rsa1024"][0] * m["rsa1024"][1], m["rsa2048"][0]])
        crt = (d % (p - 1), d % (q - 1), pow(q, -1, p))
    elif mutation == "close-primes":
        n, e, d, p, q = consistent(m["close"])
        crt = crt_of(d, p, q)
    elif mutation == "three-primes":
        primes = [m["rsa1024"][0], m["rsa1024"][1], m["other"][0]]
        n, e, d, p, q = consistent(primes)
        r = primes[2]
        crt, version, extra = crt_of(d, p, q), 1, ((r, d % (r - 1), pow(p * q, -1, r)),)
    elif mutation == "trailing":
        tail = b"\x00"
    return pkcs1(version, n, e, d, p, q, crt, extra) + tail, original, (n, e)


def certificate_pem(public: tuple[int, int]) -> bytes | None:
    n, e = public
    try:
        key = rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:
        return None  # cryptography will not build a certificate for it

    class Holder:  # build_certificate takes the subject's key pair; only its public half is used
        def public_key(self) -> rsa.RSAPublicKey:
            return key

    issuer = gocases.key_pool()["p256"][0]
    spec = gocases.Spec(gocases.name("rsa-leaf"), gocases.name("issuer"), dns_names=("rsa.example",))
    return gocases.pem(gocases.build_certificate(spec, Holder(), issuer))


@lru_cache(maxsize=64)
def _certificate_cached(public: tuple[int, int]) -> bytes | None:
    return certificate_pem(public)


@SETTINGS
@given(mutation=st.sampled_from(MUTATIONS), wrapped=st.booleans(), own_certificate=st.booleans())
def test_rsa_keys_are_accepted_and_refused_like_go(go_oracle, mutation, wrapped, own_certificate):
    der, original, own = build(mutation)
    go = go_oracle.ask({"pkcs1": der, "pkcs8": pkcs8(der)})
    model_pkcs1, model_pkcs8 = privkey.pkcs1_error(der), privkey.parse_pkcs8(pkcs8(der))[1]
    matched = (model_pkcs1, model_pkcs8) == (go["pkcs1"]["error"], go["pkcs8"]["error"])
    go_oracle.record(matched, f"RSA {mutation}: Go {go['pkcs1']['error']!r}/{go['pkcs8']['error']!r}, "
                              f"model {model_pkcs1!r}/{model_pkcs8!r}")
    assert (model_pkcs1, model_pkcs8) == (go["pkcs1"]["error"], go["pkcs8"]["error"]), mutation
    event(f"{mutation}: {go['pkcs1']['error'] or 'accepted'}")

    # kforensic's own loader (service-account keys: client-go keyutil reads them with these parsers).
    key_pem = gocases.pem_block("PRIVATE KEY", pkcs8(der)) if wrapped else gocases.pem_block("RSA PRIVATE KEY", der)
    go_accepts = (go["pkcs8"] if wrapped else go["pkcs1"])["ok"]
    if mutation != "three-primes":  # cryptography cannot hold a multi-prime key at all
        try:
            load_private_key(key_pem)
            loaded = True
        except DecodeError:
            loaded = False
        assert loaded == go_accepts, mutation

    # tls.X509KeyPair with a certificate of the original key or of the key's own public key.
    cert_pem = _certificate_cached(own if own_certificate else original)
    if cert_pem is None:
        return
    pair = go_oracle.ask({"pair": {"cert": cert_pem, "key": key_pem}})["pair"]
    result = load_x509_key_pair(cert_pem, key_pem)
    if mutation == "three-primes" and pair["ok"]:
        # Go loads it; cryptography cannot hold a multi-prime key, so kforensic says it cannot tell.
        assert result.outcome is PairOutcome.UNVERIFIABLE and result.unverifiable_input == "key"
        return
    model = {"ok": result.ok, "error": result.go_error}
    go_oracle.record(model == pair, f"X509KeyPair RSA {mutation} (wrapped={wrapped}): Go {pair['error']!r}, model {result.go_error!r}")
    assert model == pair, mutation


@pytest.mark.parametrize("mutation", ["composite-p", "close-primes", "no-crt"])
def test_keys_openssl_would_refuse_load_when_go_loads_them(go_oracle, mutation):
    """The point of skipping OpenSSL's validation: its verdict was not Go's."""
    der, _, own = build(mutation)
    go = go_oracle.ask({"pkcs1": der})["pkcs1"]
    assert privkey.pkcs1_error(der) == go["error"]
    if go["ok"]:
        assert load_private_key(gocases.pem_block("RSA PRIVATE KEY", der)).algorithm.value == "RSA"
    else:
        with pytest.raises(DecodeError, match="crypto/rsa"):
            load_private_key(gocases.pem_block("RSA PRIVATE KEY", der))
