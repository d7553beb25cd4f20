"""Self-hosted (bootkube / Tectonic) procedures: the API is down, so the pod-checkpointer's files on
each master are what to fix first, then the Secret the next rollout mounts.

Upstream facts, from kubernetes-retired/bootkube:
- the checkpointer keeps each Secret a checkpointed pod mounts as files, one per key, under
  /etc/kubernetes/checkpoint-secrets/<namespace>/<pod-name>/<secret-name> (cmd/checkpoint/README.md,
  pkg/checkpoint/checkpoint.go);
- ``bootkube start`` runs a temporary control plane from a rendered asset directory: its
  bootstrap-manifests as static pods and its tls/ copied to /etc/kubernetes/bootstrap-secrets
  (pkg/bootkube/bootstrap.go, cmd/render/plugin/default/asset/asset.go).
No tool re-issues one certificate: the same procedure fits every finding, named by the Secret.
"""

from __future__ import annotations

from analyzer.checks.remedies.common import (
    BUNDLE_IDS, NAMES_IDS, PAIR_IDS, SIGNING_KEY_IDS, TIME_IDS, Procedure, Row, rows,
)
from analyzer.model.vocabulary import Distribution
from analyzer.wiring.model import Load


def checkpointed(load: Load) -> tuple[str, ...]:
    secret = (load.object or "kube-system/<secret>").split("/", 1)[1]
    return (
        f"On every master, replace the checkpointed copies the kubelet runs from: "
        f"/etc/kubernetes/checkpoint-secrets/kube-system/<pod>/{secret}/ (the file names are the Secret's keys) with "
        "re-issued material signed by the CA the cluster should use",
        "Or start a temporary control plane from re-rendered assets: bootkube render, copy its bootstrap-manifests to "
        "/etc/kubernetes/manifests with its tls/ in /etc/kubernetes/bootstrap-secrets, and let it come up",
        f"Once kube-apiserver answers, update the Secret so the next rollout mounts the same: "
        f"kubectl -n kube-system edit secret {secret} (or kubectl apply the re-rendered manifests/{secret}-secret.yaml)",
    )


TABLE: dict[Row, Procedure] = rows(
    (*PAIR_IDS, *BUNDLE_IDS, *SIGNING_KEY_IDS, *TIME_IDS, *NAMES_IDS, "validity.ca-expired", "trust.unknown-authority",
     "usage.incompatible", "kubeconfig.ca-unloadable", "kubeconfig.ca-does-not-trust-server", "names.not-allowed",
     "drift.copies-differ", "policy.rsa-key-size"),
    Distribution.SELF_HOSTED, checkpointed,
)
