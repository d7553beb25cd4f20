"""What k8s.io/apiserver's dynamiccertificates says when it loads files, and how it picks a pair by SNI.

Messages: dynamic_serving_content.go refuses an empty pair with ``missing content for serving cert
"<name>"``, dynamic_cafile_content.go an empty CA file with ``missing content for CA bundle
"<name>"`` and an unusable one with ``error loading CA bundle for "<name>": <err>``; a file that is
not there fails Go's ``os.ReadFile`` with ``open <path>: no such file or directory``.

SNI: named_certificates.go getCertificateNames names a certificate without explicit names by its CN
(when a DNS-1123 subdomain, not an IP) and its DNS SANs; crypto/tls looks the host up exactly, then
with its first label as ``*``.
"""

from __future__ import annotations

import ipaddress
import re

from cryptography import x509


def open_missing(path: str) -> str:
    """os.ReadFile's *PathError for a file that does not exist."""
    return f"open {path}: no such file or directory"


def missing_serving_content(name: str) -> str:
    return f'missing content for serving cert "{name}"'


def missing_ca_content(name: str) -> str:
    return f'missing content for CA bundle "{name}"'


def ca_bundle_error(name: str, error: str) -> str:
    return f'error loading CA bundle for "{name}": {error}'


_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*")


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def certificate_names(certificate: x509.Certificate) -> list[str]:
    """The SNI names of a certificate without explicit names (named_certificates.go getCertificateNames):
    the CN when it is a DNS-1123 subdomain and not an IP, then the DNS SANs. IP SANs never count."""
    names: list[str] = []
    common_names = certificate.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    cn = str(common_names[-1].value) if common_names else ""  # pkix.Name keeps the last CN
    bare = cn.removeprefix("*.")
    if cn and not is_ip(cn) and (cn == "*" or (len(bare) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(bare))):
        names.append(cn)
    try:
        names += certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        pass
    return names


def sni_matches(pattern: str, host: str) -> tuple[bool, bool]:
    """(matches, exactly): an exact name, or a ``*.`` pattern for the host's first label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True, True
    if pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]:
        return True, False
    return False, False
