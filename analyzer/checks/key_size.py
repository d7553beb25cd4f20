"""Policy: RSA keys under 2048 bits.

Go still loads them (crypto/rsa refuses only keys under 1024 bits, from Go 1.24), so nothing
breaks today; NIST SP 800-131A has disallowed them for signatures since 2014 and kubeadm has made
2048-bit keys since its first release (cmd/kubeadm/app/util/pkiutil: rsaKeySize = 2048). A warning;
the steps that replace the key are the remediation table's policy.rsa-key-size rows.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from analyzer.checks.context import CheckContext, finding, presented_chain
from analyzer.checks.remediation import remedies
from analyzer.gomodel.clientgo import common_name, sha256_fingerprint
from analyzer.model.findings import Finding, Severity
from analyzer.wiring.model import Load

MIN_RSA_BITS = 2048


def check_rsa_key_size(load: Load, ctx: CheckContext) -> list[Finding]:
    chain = presented_chain(load)
    key = chain[0].public_key() if chain else None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size >= MIN_RSA_BITS:
        return []
    return [finding(
        load, "policy.rsa-key-size", Severity.WARNING, f"{load.label}: {key.key_size}-bit RSA key",
        f"{load.label} (CN={common_name(chain[0])}) has a {key.key_size}-bit RSA key; policy asks for at least {MIN_RSA_BITS} bits. "
        "Go still loads it, so nothing fails because of it today.",
        material=load.certificate, remediation=remedies(load, "policy.rsa-key-size", ctx), fingerprint=sha256_fingerprint(chain[0]),
    )]
