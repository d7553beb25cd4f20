"""Which Go release a predicted error belongs to, and how older releases word the same failure.

gomodel replays Go 1.27 (tests/gooracle checks every prediction against a Go 1.27.3 toolchain).
A component built with an older Go prints some failures differently, or not at all; when the
evidence names the component's release (a log's ``Version: v1.21.11``, kubeadm's
``kubernetesVersion``), the report gives that release's wording too.

Only changes this project has evidence for are listed; each names where the fact comes from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace

from analyzer.gomodel.keypair import PKCS8_FIRST_VERSION
from analyzer.gomodel.x509parse import GO_VERSION
from analyzer.gomodel.klog import LogEvent
from analyzer.model.findings import Finding
from analyzer.records import datarecord

PREDICTED_GO = f"{GO_VERSION[0]}.{GO_VERSION[1]}"  # the release whose words gomodel predicts

# Kubernetes minor -> the Go minor its .0 release was built with (kubernetes/kubernetes
# CHANGELOG/CHANGELOG-1.N.md, "Kubernetes is now built with Go 1.x" entries, and .go-version on
# the release branches). Patch releases late in a branch's life sometimes moved to the next Go
# minor; the table keeps the .0 one.
KUBERNETES_GO: dict[tuple[int, int], tuple[int, int]] = {
    (1, 20): (1, 15), (1, 21): (1, 16), (1, 22): (1, 16), (1, 23): (1, 17), (1, 24): (1, 18), (1, 25): (1, 19),
    (1, 26): (1, 19), (1, 27): (1, 20), (1, 28): (1, 20), (1, 29): (1, 21), (1, 30): (1, 22), (1, 31): (1, 22),
    (1, 32): (1, 23), (1, 33): (1, 24), (1, 34): (1, 24), (1, 35): (1, 25),
}

_TLS_VERIFY = re.compile(r"tls: failed to verify (?:client )?certificate: ")
_SHA1 = re.compile(r"x509: cannot verify signature: insecure algorithm (SHA1-RSA|ECDSA-SHA1)")
_SMALL_RSA = re.compile(r"crypto/rsa: \d+-bit keys are insecure \(see https://go\.dev/pkg/crypto/rsa#hdr-Minimum_key_size\)")
_PKCS8_WRAPPED = "tls: failed to parse private key: "
_DUPLICATE = re.compile(r'x509: certificate contains duplicate extension with OID "[\d.]+"')
ACCEPTED = "(no error: this release accepts it)"


@datarecord
class WordingChange:
    """One place where Go's words (or verdict) changed. ``older`` turns today's text into what
    releases before ``since`` print, ``ACCEPTED`` when they do not fail at all."""

    key: str
    since: tuple[int, int]
    applies: Callable[[str], bool]
    older: Callable[[str, tuple[int, int]], str]
    source: str


def _sha1_older(error: str, go: tuple[int, int]) -> str:
    if go < (1, 18):
        return ACCEPTED  # SHA-1 signatures verified before Go 1.18
    # Go 1.18 to 1.23 offered the x509sha1 GODEBUG in the message; Go 1.24 removed the setting.
    return _SHA1.sub(lambda m: m.group(0) + " (temporarily override with GODEBUG=x509sha1=1)", error)


CHANGES: tuple[WordingChange, ...] = (
    WordingChange(
        "tls-verify-prefix", (1, 20), lambda e: bool(_TLS_VERIFY.search(e)), lambda e, go: _TLS_VERIFY.sub("", e, count=1),
        "Go 1.20 release notes: handshake verification errors became *tls.CertificateVerificationError, printed "
        "with this prefix (crypto/tls handshake_client.go / handshake_server.go: 'failed to verify certificate' "
        "for the server's, 'failed to verify client certificate' for a client's)"),
    WordingChange(
        "sha1-insecure", (1, 24), lambda e: bool(_SHA1.search(e)), _sha1_older,
        "Go 1.18 release notes (SHA-1 certificate signatures rejected, GODEBUG=x509sha1=1); Go 1.24 release notes "
        "(x509sha1 removed); text of InsecureAlgorithmError in crypto/x509/x509.go"),
    WordingChange(
        "rsa-1024-minimum", (1, 24), lambda e: bool(_SMALL_RSA.search(e)), lambda e, go: ACCEPTED,
        "Go 1.24 release notes: crypto/rsa refuses keys under 1024 bits (GODEBUG rsa1024min, go.dev/issue/68762; "
        "crypto/rsa/rsa.go checkKeySize)"),
    WordingChange(
        "pkcs8-error-wrapped", PKCS8_FIRST_VERSION, lambda e: _PKCS8_WRAPPED in e,
        lambda e, go: e[: e.index(_PKCS8_WRAPPED) + len(_PKCS8_WRAPPED) - 2],  # the PKCS#8 error ends the text
        "crypto/tls/tls.go parsePrivateKey: Go 1.27.3 returns the PKCS#8 error wrapped (checked with tests/gooracle); "
        "golang/go@7926af0d and Go 1.19 return the bare text (Go 1.26 not checked)"),
    WordingChange(
        "duplicate-extension-oid", (1, 20), lambda e: bool(_DUPLICATE.search(e)),
        lambda e, go: _DUPLICATE.sub("x509: certificate contains duplicate extensions", e),
        "crypto/x509/parser.go: Go 1.19 (checked with a 1.19 toolchain) printed no OID; Go 1.27.3 prints it "
        "(checked with tests/gooracle); the first release with the OID is not pinned"),
    WordingChange(
        "negative-serial", (1, 23), lambda e: "x509: negative serial number" in e, lambda e, go: ACCEPTED,
        "Go 1.23 release notes: ParseCertificate rejects negative serial numbers (GODEBUG x509negativeserial)"),
)


def go_of_kubernetes(version: str) -> tuple[int, int] | None:
    """The Go minor a Kubernetes release (``v1.21.11+k3s1``, ``1.28``) was built with, if known."""
    match = re.match(r"v?(\d+)\.(\d+)", version.strip())
    if match is None:
        return None
    return KUBERNETES_GO.get((int(match.group(1)), int(match.group(2))))


def wording_for(error: str, go: tuple[int, int]) -> str | None:
    """How a component built with Go ``go`` reports what today's Go reports as ``error``: None
    when the words are the same, ``ACCEPTED`` (possibly inside a sentence) when it did not fail."""
    text = error
    for change in CHANGES:
        if go < change.since and change.applies(text):
            older = change.older(text, go)
            if older == ACCEPTED:
                return ACCEPTED
            text = older
    return None if text == error else text


# "Version: v1.21.11+k3s1" / "Version" v1.28.3 in a kube-apiserver or kubelet start-up line.
_VERSION_LINE = re.compile(r'"?Version"?[:=]\s*"?(v\d+\.\d+\.\d+[^\s",]*)')


def version_in_log_message(message: str) -> str | None:
    """The release a component states when it starts (klog ``Version: v1.28.3`` or structured
    ``"Version" version="v1.28.3"``)."""
    match = _VERSION_LINE.search(message)
    if match is None:
        match = re.search(r'\bversion="(v\d+\.\d+\.\d+[^"]*)"', message) if "Version" in message else None
    return match.group(1) if match else None


def releases_in_log(events: Iterable[LogEvent]) -> list[tuple[str, str]]:
    """(release, where) for every start-up line of a log that states its release."""
    found = []
    for event in events:
        release = version_in_log_message(event.message)
        if release:
            found.append((release, f"{event.source} line {event.line_number}"))
    return found


def release_of_image(image: str | None) -> str | None:
    """The Kubernetes release in an upstream component image tag (``…/kube-apiserver:v1.28.3``);
    OpenShift's images are pinned by digest and say nothing."""
    if not image or "@" in image or ":" not in image.rsplit("/", 1)[-1]:
        return None
    tag = image.rsplit(":", 1)[1]
    return tag if re.fullmatch(r"v\d+\.\d+\.\d+\S*", tag) else None


_KUBERNETES_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "admin")


def annotate(findings: list[Finding], releases: list[tuple[str, str]]) -> list[Finding]:
    """Every finding with a Go error says which Go its words are; where a Kubernetes release named
    by the evidence was built with a Go that words it otherwise, that wording is added. etcd has its
    own Go and releases, so its findings only get the first part."""
    out = []
    for finding in findings:
        if not finding.go_error or finding.id.startswith("logs."):  # a log's text is what was printed, not a prediction
            out.append(finding)
            continue
        older: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        if finding.component in _KUBERNETES_COMPONENTS:
            for release, where in releases:
                go = go_of_kubernetes(release)
                text = wording_for(finding.go_error, go) if go else None
                if go and text and release not in seen:
                    seen.add(release)
                    older.append((f"Kubernetes {release} ({where})", f"{go[0]}.{go[1]}", text))
        out.append(replace(finding, go_version=PREDICTED_GO, go_error_older=tuple(older)))
    return out


# Go minors where some wording in CHANGES differs from its neighbours (newest first).
_WORDING_ERAS = ((1, 25), (1, 23), (1, 19), (1, 17))


def older_go_wording_of(logged: str, predicted: str) -> tuple[int, int] | None:
    """The newest Go era (in _WORDING_ERAS) whose wording of ``predicted`` ends ``logged``: a log
    written by a component built with an older Go shows the same failure in its words."""
    for go in _WORDING_ERAS:
        text = wording_for(predicted, go)
        if text and text != ACCEPTED and logged.endswith(text):
            return go
    return None
