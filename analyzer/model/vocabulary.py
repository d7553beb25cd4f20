"""The shared vocabulary: the distributions a control plane comes from (more enums join as the typed model grows).

StrEnum, so that a member is its own string in JSON, f-strings and comparisons: the report stays byte-identical.
"""

from __future__ import annotations

from enum import StrEnum


class Distribution(StrEnum):
    KUBEADM = "kubeadm"
    OPENSHIFT = "openshift"
    KUBESPRAY = "kubespray"
    RKE = "rke"
    RKE2 = "rke2"
    SELF_HOSTED = "self-hosted"  # bootkube / Tectonic
    UNKNOWN = "unknown"
