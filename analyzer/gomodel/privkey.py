"""crypto/x509's private-key parsers (pkcs8.go, pkcs1.go, sec1.go) and crypto/rsa's key check.

Each ``*_error`` function returns None when Go parses the key and otherwise the exact error Go
returns (Go 1.27.3, checked by tests/test_gooracle_keypair.py against real Go). ``load_der_key``
then hands the key to cryptography for the comparisons kforensic makes — without OpenSSL's RSA
key validation: OpenSSL tests p and q for primality (about 47 ms per 2048-bit key and 330 ms per
4096-bit one), which Go never does. Go's own checks — ``rsa.PrivateKey.Validate``
(crypto/rsa/rsa.go precompute, crypto/internal/fips140/rsa/rsa.go checkPrivateKey) — are
replayed here on the integers instead, with Go's texts.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InternalError, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from analyzer.gomodel import der as asn1
from analyzer.gomodel.x509replay import GO_CURVE_OIDS

OID_RSA = (1, 2, 840, 113549, 1, 1, 1)
OID_EC = (1, 2, 840, 10045, 2, 1)
OID_ED25519 = (1, 3, 101, 112)
OID_X25519 = (1, 3, 101, 110)
# The only curves Go parses, with their scalar sizes.
CURVE_SIZES = {oid: size for oid, (_, size, _) in GO_CURVE_OIDS.items()}
_USE_EC = "x509: failed to parse private key (use ParseECPrivateKey instead for this key format)"
_USE_PKCS1 = "x509: failed to parse private key (use ParsePKCS1PrivateKey instead for this key format)"
_USE_PKCS8 = "x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)"
RSA_IN_PKCS8 = "x509: failed to parse RSA private key embedded in PKCS#8: "
_LONE_OID = asn1.Field("struct", "", (asn1.OID,))
_LONE_BYTES = asn1.Field("struct", "", (asn1.BYTES,))


def load_der_key(der: bytes, expect: str | None = None) -> Any:
    """The cryptography object for a DER private key, None when cryptography cannot read it.
    ``expect`` ("rsa", "ecdsa", "ed25519") is the kind Go read: OpenSSL reads a PKCS#1 key
    without its optional CRT values as a DSA key, say, which Go never does.

    RSA keys skip OpenSSL's validation (cryptography's ``unsafe_skip_rsa_key_validation``): the
    caller has already run Go's checks (``pkcs1_error``), which are the ones that decide whether a
    component starts. Nothing is signed or decrypted with these keys; they are only compared."""
    try:
        key = serialization.load_der_private_key(der, password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError, UnsupportedAlgorithm, InternalError):
        # InternalError: OpenSSL refuses some raw keys only in key setup (an X448 or X25519 key
        # of the wrong length in PKCS#8, found by the certificates fuzz target), below
        # cryptography's own checks.
        key = None
    if key is not None and (expect is None or isinstance(key, _KINDS[expect])):
        return key
    return _rsa_from_numbers(der) if expect in (None, "rsa") else None


_KINDS: dict[str, type] = {"rsa": rsa.RSAPrivateKey, "ecdsa": ec.EllipticCurvePrivateKey, "ed25519": ed25519.Ed25519PrivateKey}


def rsa_public_numbers(der: bytes) -> tuple[int, int] | None:
    """(N, E) of a PKCS#1 key, bare or in PKCS#8, as Go reads them; None for anything else."""
    values = _pkcs1_values(der)
    return (values[1], values[2]) if values is not None else None


def _pkcs1_values(der: bytes) -> tuple[Any, ...] | None:
    try:
        return asn1.unmarshal(asn1.PKCS1_PRIVATE_KEY, der)[0]
    except asn1.Asn1Error:
        pass
    try:
        (_, (algorithm, _), private), _ = asn1.unmarshal(asn1.PKCS8, der)
        return asn1.unmarshal(asn1.PKCS1_PRIVATE_KEY, private)[0] if algorithm == OID_RSA else None
    except asn1.Asn1Error:
        return None


def _rsa_from_numbers(der: bytes) -> rsa.RSAPrivateKey | None:
    """An RSA key OpenSSL's decoder refuses but Go reads: Go's PKCS#1 structure has Dp, Dq and
    Qinv optional (Go computes them), OpenSSL's does not. Multi-prime keys, which cryptography
    cannot hold, stay None."""
    values = _pkcs1_values(der)
    if values is None or values[9]:
        return None
    _, n, e, d, p, q, dp, dq, qinv, _ = values
    try:
        numbers = rsa.RSAPrivateNumbers(
            p, q, d, dp if dp is not None else d % (p - 1), dq if dq is not None else d % (q - 1),
            qinv if qinv is not None else rsa.rsa_crt_iqmp(p, q), rsa.RSAPublicNumbers(e, n))
        return numbers.private_key(unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError, OverflowError, ZeroDivisionError):
        return None


def parse_pkcs8(der: bytes) -> tuple[str | None, str | None]:
    """x509.ParsePKCS8PrivateKey: (key kind, None) or (None, Go's error). Kinds: rsa, ecdsa,
    ed25519, x25519 (ML-DSA keys, new in Go 1.27, are reported as an unknown algorithm)."""
    try:
        (_, (algorithm, parameters), private), _ = asn1.unmarshal(asn1.PKCS8, der)
    except asn1.Asn1Error as error:
        if asn1.parses(asn1.EC_PRIVATE_KEY, der):
            return None, _USE_EC
        if asn1.parses(asn1.PKCS1_PRIVATE_KEY, der):
            return None, _USE_PKCS1
        return None, str(error)
    if algorithm == OID_RSA:
        problem = pkcs1_error(private)
        return ("rsa", None) if problem is None else (None, f"{RSA_IN_PKCS8}{problem}")
    if algorithm == OID_EC:
        try:
            (curve,), _ = asn1.unmarshal(_LONE_OID, asn1.tlv_sequence(parameters or b""))
        except asn1.Asn1Error:
            curve = None
        problem = sec1_error(curve, private)
        return ("ecdsa", None) if problem is None else (None, f"x509: failed to parse EC private key embedded in PKCS#8: {problem}")
    if algorithm in (OID_ED25519, OID_X25519):
        name = "Ed25519" if algorithm == OID_ED25519 else "X25519"
        if parameters:
            return None, f"x509: invalid {name} private key parameters"
        try:
            (seed,), _ = asn1.unmarshal(_LONE_BYTES, asn1.tlv_sequence(private))
        except asn1.Asn1Error as error:
            return None, f"x509: invalid {name} private key: {error}"
        if len(seed) != 32:
            return None, (f"x509: invalid Ed25519 private key length: {len(seed)}" if name == "Ed25519"
                          else "crypto/ecdh: invalid private key size")
        return name.lower(), None
    return None, "x509: PKCS#8 wrapping contained private key with unknown algorithm: " + ".".join(map(str, algorithm))


def pkcs1_error(der: bytes) -> str | None:
    """x509.ParsePKCS1PrivateKey's error (crypto/x509/pkcs1.go), None when Go parses the key."""
    try:
        (version, n, e, d, p, q, dp, dq, qinv, extra), rest = asn1.unmarshal(asn1.PKCS1_PRIVATE_KEY, der)
    except asn1.Asn1Error as error:
        if asn1.parses(asn1.EC_PRIVATE_KEY, der):
            return _USE_EC
        if asn1.parses(asn1.PKCS8, der):
            return _USE_PKCS8
        return str(error)
    if rest:
        return "asn1: syntax error: trailing data"
    if version > 1:
        return "x509: unsupported private key version"
    if min(n, d, p, q) <= 0 or any(v is not None and v <= 0 for v in (dp, dq, qinv)):
        return "x509: private key contains zero or negative value"
    primes = [p, q]
    for prime, _, _ in extra or ():
        if prime <= 0:
            return "x509: private key contains zero or negative prime"
        primes.append(prime)
    return rsa_validate_error(n, e, d, primes, (dp, dq, qinv))


def sec1_error(curve: tuple[int, ...] | None, der: bytes) -> str | None:
    """x509.parseECPrivateKey's error (crypto/x509/sec1.go), None when Go parses the key.
    ``curve`` is the OID from a PKCS#8 wrapper, which wins over the key's own."""
    try:
        (version, private, own_curve, _), _ = asn1.unmarshal(asn1.EC_PRIVATE_KEY, der)
    except asn1.Asn1Error as error:
        if asn1.parses(asn1.PKCS8, der):
            return _USE_PKCS8
        if asn1.parses(asn1.PKCS1_PRIVATE_KEY, der):
            return _USE_PKCS1
        return f"x509: failed to parse EC private key: {error}"
    if version != 1:
        return f"x509: unknown EC private key version {version}"
    size = CURVE_SIZES.get(curve if curve is not None else own_curve or ())
    if size is None:
        return "x509: unknown elliptic curve"
    if len(private) > size and private[: len(private) - size].strip(b"\x00"):
        return "x509: invalid private key length"
    return None


# --------------------------------------------------------------------------------------------
# rsa.PrivateKey.Validate (Go 1.27): Precompute, then the FIPS module's checkPrivateKey. No
# primality test: a key whose numbers agree with each other loads even if p is not prime.
# --------------------------------------------------------------------------------------------


def rsa_validate_error(n: int, e: int, d: int, primes: list[int], crt: tuple[int | None, ...]) -> str | None:
    """The error ParsePKCS1PrivateKey returns from ``key.Validate()``, None when it passes.
    ``crt`` is (Dp, Dq, Qinv) as stored in the key, each None when absent."""
    if len(primes) != 2:
        return _rsa_multi_prime_error(n, e, d, primes)
    p, q = primes
    error = _modulus_error(n) or _modulus_error(p) or _modulus_error(q) or _set_bytes_error(d, n)
    if error:
        return error
    dp, dq, qinv = crt
    if dp is None or dq is None or qinv is None:
        # rsa.NewPrivateKey (fips140/rsa newPrivateKey): the CRT values are computed from d, p, q.
        if p - 1 <= 1 or q - 1 <= 1:
            return "modulus must be > 1"
        dp, dq = d % (p - 1), d % (q - 1)
        if p % 2 == 0:
            return "crypto/rsa: p is even"
        qinv = pow(q % p, p - 2, p)
    else:
        error = _set_bytes_error(qinv, p)  # NewPrivateKeyWithPrecomputation
        if error:
            return error
    return _check_public_key(n, e) or _check_private_key(n, e, d, p, q, dp, dq, qinv)


def _modulus_error(value: int) -> str | None:
    return "modulus must be > 1" if value <= 1 else None  # bigmod.NewModulus


def _set_bytes_error(value: int, modulus: int) -> str | None:
    """bigmod.Nat.SetBytes: the value must fit the modulus's 64-bit limbs and be below it."""
    if (value.bit_length() + 63) // 64 > (modulus.bit_length() + 63) // 64:
        return "input overflows the modulus size"
    return "input overflows the modulus" if value >= modulus else None


def _check_public_key(n: int, e: int) -> str | None:
    """fips140/rsa checkPublicKey."""
    if n % 2 == 0:
        return "crypto/rsa: public modulus is even"
    if e < 2:
        return "crypto/rsa: public exponent too small or negative"
    if e % 2 == 0:
        return "crypto/rsa: public exponent is even"
    if e > (1 << 31) - 1:
        return "crypto/rsa: public exponent too large"
    return None


def _check_private_key(n: int, e: int, d: int, p: int, q: int, dp: int, dq: int, qinv: int) -> str | None:
    """fips140/rsa checkPrivateKey for a two-prime key with its CRT values, in Go's order."""
    if p >= n or q >= n:
        return "crypto/rsa: invalid prime"
    if (p * q) % n != 0:
        return "crypto/rsa: p * q != n"
    for prime, exponent in ((p, dp), (q, dq)):
        if prime - 1 <= 1:
            return "crypto/rsa: invalid prime"
        if _set_bytes_error(exponent, prime - 1) or (e * exponent) % (prime - 1) != 1:
            return "crypto/rsa: invalid CRT exponent"
    if ((q % p) * qinv) % p != 1:
        return "crypto/rsa: invalid CRT coefficient"
    if d % (p - 1) != dp:
        return "crypto/rsa: d does not match dP"
    if d % (q - 1) != dq:
        return "crypto/rsa: d does not match dQ"
    if p == q:
        return "crypto/rsa: p == q"
    if abs(p - q).bit_length() <= n.bit_length() // 2 - 100:
        return "crypto/rsa: |p - q| too small"
    if d.bit_length() <= n.bit_length() // 2:
        return "crypto/rsa: d too small"
    return None


def _rsa_multi_prime_error(n: int, e: int, d: int, primes: list[int]) -> str | None:
    """precomputeLegacy (crypto/rsa/rsa.go) for a key with more than two primes."""
    error = _modulus_error(n) or _set_bytes_error(d, n) or _check_public_key(n, e)
    if error:
        return error
    if any(prime <= 1 for prime in primes):
        return "crypto/rsa: prime factor is <= 1"
    try:
        pow(primes[1], -1, primes[0])  # Qinv
        product = primes[0] * primes[1]
        for prime in primes[2:]:
            pow(product, -1, prime)  # each CRTValue's Coeff
            product *= prime
    except ValueError:
        return "crypto/rsa: prime factors are not relatively prime"
    return None
