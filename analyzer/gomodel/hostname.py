"""Certificate.VerifyHostname and HostnameError, as Go words them (src/crypto/x509/verify.go,
Go 1.27.3; HostnameError as changed in Go 1.25.5, CVE-2025-61729). Checked against real Go by
tests/test_gooracle_verify.py."""

from __future__ import annotations

import ipaddress
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

ERR_LEGACY_COMMON_NAME = "x509: certificate relies on legacy Common Name field, use SANs instead"
# HostnameError.Error prints a count instead of the names from 100 on (CVE-2025-61729 fix).
_MAX_NAMES_INCLUDED = 100


def format_hostname_error(
    host: str,
    *,
    dns_names: tuple[str, ...] | list[str] = (),
    ip_addresses: tuple[Any, ...] | list[Any] = (),
    common_name: str = "",
    has_san_extension: bool | None = None,
) -> str:
    """HostnameError.Error for a certificate with these names that did not match ``host``.

    ``host`` is what VerifyHostname passes on: an IP without its brackets. ``has_san_extension``
    defaults to whether any SAN was given.
    """
    if has_san_extension is None:
        has_san_extension = bool(dns_names or ip_addresses)
    if not has_san_extension and _go_match_hostnames(common_name, host):
        return ERR_LEGACY_COMMON_NAME
    if _go_parse_ip(host) is not None:
        if not ip_addresses:
            return f"x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
        if len(ip_addresses) >= _MAX_NAMES_INCLUDED:
            return f"x509: certificate is valid for {len(ip_addresses)} IP SANs, but none matched {host}"
        valid = ", ".join(_go_ip_string(ip) for ip in ip_addresses)
    else:
        if len(dns_names) >= _MAX_NAMES_INCLUDED:
            return f"x509: certificate is valid for {len(dns_names)} names, but none matched {host}"
        valid = ", ".join(dns_names)
    if not valid:
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    return f"x509: certificate is valid for {valid}, not {host}"


def find_hostname_error(cert: x509.Certificate, host: str) -> str | None:
    """Certificate.VerifyHostname(host): None when Go accepts ``host``, else its message."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(san.get_values_for_type(x509.DNSName))
        ip_addresses = tuple(san.get_values_for_type(x509.IPAddress))
        has_san = True
    except x509.ExtensionNotFound:
        dns_names, ip_addresses, has_san = (), (), False
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(common_names[-1].value) if common_names else ""

    candidate = host[1:-1] if len(host) >= 3 and host[0] == "[" and host[-1] == "]" else host
    ip = _go_parse_addr(candidate)
    if ip is not None:
        if any(_go_ip_equal(ip, other) for other in ip_addresses):
            return None
        # Go 1.27 reports the address as net.IP(addr.AsSlice()).String(): no zone, and an
        # IPv4-mapped address as dotted IPv4 (verify.go VerifyHostname).
        return format_hostname_error(
            _go_ip_string(ip), dns_names=dns_names, ip_addresses=ip_addresses, common_name=common_name,
            has_san_extension=has_san,
        )
    name = _ascii_lower(host)
    valid_name = _go_valid_hostname(name, pattern=False)
    for match in dns_names:
        if valid_name and _go_valid_hostname(match, pattern=True):
            if _go_match_hostnames(match, name):
                return None
        elif _go_match_exactly(match, name):
            return None
    return format_hostname_error(
        host, dns_names=dns_names, ip_addresses=ip_addresses, common_name=common_name, has_san_extension=has_san
    )


def _ascii_lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _go_match_hostnames(pattern: str, host: str) -> bool:
    pattern, host = _ascii_lower(pattern), _ascii_lower(host.removesuffix("."))
    if not pattern or not host:
        return False
    pattern_parts, host_parts = pattern.split("."), host.split(".")
    if len(pattern_parts) != len(host_parts):
        return False
    return all((i == 0 and part == "*") or part == host_parts[i] for i, part in enumerate(pattern_parts))


def _go_match_exactly(a: str, b: str) -> bool:
    if a in ("", ".") or b in ("", "."):
        return False
    return _ascii_lower(a) == _ascii_lower(b)


def _go_valid_hostname(host: str, *, pattern: bool) -> bool:
    if not pattern:
        host = host.removesuffix(".")
    if not host or host == "*":
        return False
    for i, part in enumerate(host.split(".")):
        if not part:
            return False
        if pattern and i == 0 and part == "*":
            continue
        for j, c in enumerate(part):
            if c.isascii() and (c.isalnum() or c == "_" or (c == "-" and j != 0)):
                continue
            return False
    return True


def _go_parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """net.ParseIP: dotted IPv4 or IPv6 text, without zone or brackets."""
    if "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _go_parse_addr(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """netip.ParseAddr, which VerifyHostname uses (verify.go, Go 1.27.3): like net.ParseIP but an
    IPv6 address may carry a non-empty ``%zone``, which is then dropped."""
    address, percent, zone = text.partition("%")
    if percent and not zone:
        return None
    ip = _go_parse_ip(address)
    if ip is None or (percent and ip.version == 4):
        return None
    return ip


def _go_ip_equal(a: Any, b: Any) -> bool:
    """net.IP.Equal treats an IPv4 address and its IPv4-mapped IPv6 form as equal."""
    return bool(_as_v4(a) == _as_v4(b))


def _as_v4(ip: Any) -> Any:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _go_ip_string(ip: Any) -> str:
    """net.IP.String: IPv4-mapped addresses print as dotted IPv4, IPv6 as RFC 5952 text."""
    return str(_as_v4(ipaddress.ip_address(ip) if isinstance(ip, str) else ip))
