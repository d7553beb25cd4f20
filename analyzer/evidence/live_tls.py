"""Where and how to reach a running etcd, and why a TLS handshake with it failed.

``--etcd`` URLs and the client files given with them, and a plain TLS probe outside gRPC that
tells which of the given files was refused (checks.etcd_client explains it the Go way).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from analyzer.errors import UsageError, os_problem
from analyzer.records import datarecord

if TYPE_CHECKING:  # imported where a handshake is made: a scan without --etcd imports these classes, not ssl
    import ssl

DEFAULT_TIMEOUT = 10.0  # seconds per request
DEFAULT_PORT = 2379


@datarecord
class ClientFiles:
    """The files given with --etcd-cacert, --etcd-cert and --etcd-key, as the user named them."""

    cacert: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    @property
    def given(self) -> bool:
        return any((self.cacert, self.cert, self.key))


@datarecord
class LiveTarget:
    """What ``--etcd`` and its companions ask for: where, with which files, how long to wait, which revision."""

    urls: tuple[str, ...]
    files: ClientFiles = ClientFiles()
    timeout: float = DEFAULT_TIMEOUT
    revision: int | None = None


@datarecord
class EtcdEndpoint:
    url: str
    host: str
    port: int
    secure: bool

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_endpoint(url: str, files: ClientFiles) -> EtcdEndpoint:
    """``https://host:port``, ``http://host:port`` or ``host:port`` (https when a CA or pair is given)."""
    text = url.strip()
    parts = urlsplit(text if "://" in text else f"{'https' if files.given else 'http'}://{text}")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise UsageError(f"--etcd {url}: not an etcd client URL (expected https://HOST:PORT)")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise UsageError(f"--etcd {url}: the port is not a number between 0 and 65535") from None
    if parts.scheme == "http" and files.given:
        raise UsageError(f"--etcd {url}: TLS files were given for a plain http:// endpoint")
    return EtcdEndpoint(text, parts.hostname, port, parts.scheme == "https")


# -- handshake diagnosis ---------------------------------------------------------------------------


@datarecord
class HandshakeFacts:
    """What a plain TLS probe learnt about a failed handshake; checks.etcd_client explains it the Go way.

    ``stage``: "server-untrusted" (the server's certificate does not verify with --etcd-cacert),
    "client-refused" (the server ended the handshake over our client certificate), "pair-unusable"
    (the pair does not load locally), or "other".
    """

    endpoint: str
    stage: str
    files: ClientFiles
    detail: str
    peer_chain_der: tuple[bytes, ...] = ()
    alert: str | None = None


def probe_handshake(endpoint: EtcdEndpoint, files: ClientFiles, timeout: float) -> HandshakeFacts | None:
    """One TLS handshake outside gRPC, to tell which of the given files was refused, or None when it succeeds.

    First without a client certificate and with the CA: does our side trust the server? Then with
    the pair: does the server accept it? A Go server sends its verdict on the client certificate as
    an alert; under TLS 1.3 that arrives after our side finished, so one read waits for it.
    """
    import ssl

    chain = _peer_chain(endpoint, files, timeout)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # Go's hostname verdict is given separately, from the chain
    if files.cacert is not None:
        try:
            context.load_verify_locations(cafile=str(files.cacert))
        except (ssl.SSLError, OSError) as err:
            return HandshakeFacts(endpoint.url, "pair-unusable", files, f"{files.cacert}: {_ssl_reason(err)}", chain)
    else:
        context.load_default_certs()
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as raw, context.wrap_socket(raw) as tls:
            tls.getpeercert(binary_form=True)
    except TimeoutError:
        return None  # nothing to tell about TLS: the server does not answer at all
    except ssl.SSLCertVerificationError as err:
        return HandshakeFacts(endpoint.url, "server-untrusted", files, err.verify_message or _ssl_reason(err), chain)
    except (ssl.SSLError, OSError) as err:
        if files.cert is None:
            alert = _alert(err) if isinstance(err, ssl.SSLError) else None
            return HandshakeFacts(endpoint.url, "client-refused", files, _ssl_reason(err), chain, alert)
    if files.cert is None:
        return None
    try:
        context.load_cert_chain(str(files.cert), str(files.key) if files.key else None)
    except (ssl.SSLError, OSError) as err:
        return HandshakeFacts(endpoint.url, "pair-unusable", files, _ssl_reason(err), chain)
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as raw, context.wrap_socket(raw) as tls:
            # An HTTP/2 client preface: a server that accepted the certificate waits for more
            # (a timeout), one that refused it has sent an alert (etcd serves gRPC and HTTP on one port).
            tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            tls.settimeout(min(timeout, 2.0))
            tls.recv(1)
    except TimeoutError:
        return None
    except ssl.SSLError as err:
        return HandshakeFacts(endpoint.url, "client-refused", files, _ssl_reason(err), chain, _alert(err))
    except OSError as err:
        return HandshakeFacts(endpoint.url, "client-refused", files, os_problem(err).removeprefix("cannot read: "), chain)
    return None


def _peer_chain(endpoint: EtcdEndpoint, files: ClientFiles, timeout: float) -> tuple[bytes, ...]:
    """The certificates the server presents, read without verifying them (to explain a refusal).

    Under TLS 1.2 a server that wants a client certificate ends the handshake without one before
    our side can look at its chain, so the pair goes along when there is one.
    """
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        if files.cert is not None:
            context.load_cert_chain(str(files.cert), str(files.key) if files.key else None)
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as raw, context.wrap_socket(raw) as tls:
            if hasattr(tls, "get_unverified_chain"):  # Python 3.13+
                return tuple(tls.get_unverified_chain())
            leaf = tls.getpeercert(binary_form=True)
            return (leaf,) if leaf else ()
    except (ssl.SSLError, OSError):
        return ()


def _ssl_reason(err: BaseException) -> str:
    reason = getattr(err, "reason", None)
    return str(reason).lower().replace("_", " ") if reason else (str(err) or type(err).__name__)


def _alert(err: ssl.SSLError) -> str | None:
    """The TLS alert the server sent (OpenSSL names it ``SSLV3_ALERT_BAD_CERTIFICATE`` and the like)."""
    reason = str(getattr(err, "reason", "") or "")
    for marker in ("ALERT_", "alert "):
        if marker in reason:
            return reason.split(marker, 1)[1].lower().replace("_", " ")
    return None
