"""RKE2's procedures: ``rke2 certificate rotate`` for leaves, the datastore's bootstrap data for the rest.

Upstream facts:
- ``rke2 certificate rotate`` is k3s's (rancher/rke2 pkg/cli/cmds/cert.go Rotate -> k3s-io/k3s
  pkg/cli/cert/cert.go rotate): it copies /var/lib/rancher/rke2/server/tls to server/tls-<unix time>,
  deletes the leaf files of the services named with --service (all of them by default) and asks to
  restart; rke2-server issues new pairs, with new keys, at its next start. RKE2 also writes
  /var/lib/rancher/rke2/force-restart so that the static pods are restarted (pkg/rke2/rke2_linux.go):
  without that file a restart of rke2-server leaves running static pods alone.
- CAs and the service-account key are not in any service's files (k3s pkg/util/services/services.go:
  "CA is intentionally not included ... as it requires manual action"); they are bootstrap data,
  stored encrypted with the token in the datastore (k3s pkg/bootstrap). ``rke2 certificate rotate-ca
  --path`` uploads new ones through the supervisor of a running server (https://127.0.0.1:9345,
  k3s pkg/cli/cert/cert.go rotateCA).
"""

from __future__ import annotations

from analyzer.checks.remedies.common import (
    BUNDLE_IDS, NAMES_IDS, PAIR_IDS, SIGNING_KEY_IDS, TIME_IDS, Procedure, Row, rows,
)
from analyzer.model.vocabulary import Component, Distribution
from analyzer.wiring.model import Load

RKE2 = Distribution.RKE2
FORCE_RESTART = "touch /var/lib/rancher/rke2/force-restart && systemctl restart rke2-server"
RKE2_ROTATE = (
    "systemctl stop rke2-server",
    "rke2 certificate rotate   # backs up /var/lib/rancher/rke2/server/tls to server/tls-<time> and deletes the leaf "
    "certificates so that rke2-server issues new ones; --service <name> limits it to the named services",
    "systemctl start rke2-server   (rotate left /var/lib/rancher/rke2/force-restart, so the static pods restart too)",
)
RKE2_CA_RESTORE = (
    "RKE2 does not re-create its CAs: restore /var/lib/rancher/rke2/server/tls/*-ca.crt and *-ca.key from a backup "
    "(or an etcd snapshot's bootstrap data), or replace them deliberately with `rke2 certificate rotate-ca --path <new CA dir>` "
    "while rke2-server runs (it uploads them through the supervisor on 127.0.0.1:9345)",
    FORCE_RESTART,
)
RKE2_CA_REPLACE = (
    "A backup holds the same CA (same dates, same key): replace it with `rke2 certificate rotate-ca --path <new CA dir>` "
    "while rke2-server runs (it uploads the new CAs through the supervisor on 127.0.0.1:9345)",
    FORCE_RESTART,
)
RKE2_CA_EXPIRED = (RKE2_CA_REPLACE[0] + "; if the bundle still holds a valid CA, removing the expired one is enough", FORCE_RESTART)
# rke2 runs kube-apiserver with --requestheader-allowed-names=system:auth-proxy and k3s issues
# client-auth-proxy.crt as CN system:auth-proxy (k3s pkg/daemons/control/deps/deps.go genClientCerts).
RKE2_NOT_ALLOWED = (
    RKE2_ROTATE[0],
    "rke2 certificate rotate --service auth-proxy   # deletes client-auth-proxy.crt/.key (after a backup); rke2-server "
    "issues them again as CN system:auth-proxy, the name --requestheader-allowed-names holds",
    RKE2_ROTATE[2],
)
RKE2_SERVICE_ACCOUNT = (
    "rke2 certificate rotate does not touch /var/lib/rancher/rke2/server/tls/service.key: it is bootstrap data, the same on "
    "every server; restore it from a backup (or an etcd snapshot's bootstrap data) on the servers that differ",
    FORCE_RESTART,
)
RKE2_ADMIN = (
    "rke2-server rewrites /etc/rancher/rke2/rke2.yaml from its current CA and admin certificate at every start: systemctl restart rke2-server",
    "cp /etc/rancher/rke2/rke2.yaml ~/.kube/config",
)
RKE2_KUBELET = ("systemctl restart rke2-server (rke2-agent on workers): the agent requests new kubelet certificates from the server at start",)
RKE2_DRIFT = ("Copy the good version over the other on every server, then restart the static pods with it: " + FORCE_RESTART,)


def _is_ca(load: Load) -> bool:
    return load.role.endswith("-ca")  # client-ca, root-ca, token-ca, etcd-ca, ... (model.vocabulary.Role)


def rotate(load: Load) -> tuple[str, ...]:
    if _is_ca(load):
        return RKE2_CA_RESTORE
    if load.component == Component.ADMIN_KUBECONFIGS:
        return RKE2_ADMIN
    if load.component == Component.KUBELET:
        return RKE2_KUBELET
    return RKE2_ROTATE


def replace_ca_or_rotate(load: Load) -> tuple[str, ...]:
    """An expired or weak CA is replaced; a leaf is rotated (rotation makes new keys)."""
    return RKE2_CA_REPLACE if _is_ca(load) else rotate(load)


def restore_ca(load: Load) -> tuple[str, ...]:
    return RKE2_CA_RESTORE


def ca_expired(load: Load) -> tuple[str, ...]:
    return RKE2_CA_EXPIRED


def not_allowed(load: Load) -> tuple[str, ...]:
    return RKE2_NOT_ALLOWED


def service_account(load: Load) -> tuple[str, ...]:
    return RKE2_SERVICE_ACCOUNT


def drift(load: Load) -> tuple[str, ...]:
    return RKE2_DRIFT


TABLE: dict[Row, Procedure] = {
    **rows((*TIME_IDS, "policy.rsa-key-size"), RKE2, replace_ca_or_rotate),
    **rows((*PAIR_IDS, *NAMES_IDS, "trust.unknown-authority", "kubeconfig.ca-unloadable",
            "kubeconfig.ca-does-not-trust-server", "usage.incompatible"), RKE2, rotate),
    **rows(BUNDLE_IDS, RKE2, restore_ca),
    ("validity.ca-expired", RKE2): ca_expired,
    ("names.not-allowed", RKE2): not_allowed,
    **rows(SIGNING_KEY_IDS, RKE2, service_account),
    ("drift.copies-differ", RKE2): drift,
}
