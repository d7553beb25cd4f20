"""What a node holds beyond its certificates: the EncryptionConfigurations and kube-apiserver logs
detection hands on with it."""

from __future__ import annotations

import re

from analyzer.decode.manifest import find_host_path, load_static_pod
from analyzer.errors import DecodeError
from analyzer.evidence.inputs import EncryptionConfigSource, LogSource
from analyzer.evidence.node import ETC_KUBERNETES, NodeEvidence
from analyzer.evidence.sniff import LOG_SNIFF_BYTES, is_encryption_config, sniff_log

# OpenShift's revisioned static-pod directories (layouts §2.2).
REVISION_DIR = re.compile(r"^kube-apiserver-pod-(\d+)$")


def find_encryption_configs(node: NodeEvidence) -> tuple[list[EncryptionConfigSource], list[str]]:
    """The EncryptionConfigurations kube-apiserver is configured with on this node, and what could not be read."""
    configs: list[EncryptionConfigSource] = []
    problems: list[str] = []
    paths: list[str] = []
    manifest = node.read_host_file(f"{ETC_KUBERNETES}/manifests/kube-apiserver.yaml")
    if manifest.data is not None:
        try:
            pod = load_static_pod(manifest.data, "kube-apiserver")
            configured = pod.flags.find("encryption-provider-config")
            if configured:
                paths.append(find_host_path(pod, configured) or configured)
        except DecodeError:
            pass
    # OpenShift: every revision keeps its own copy of the encryption-config secret (§2.2).
    for directory in node.list_host_dir(f"{ETC_KUBERNETES}/static-pod-resources"):
        if REVISION_DIR.match(directory.rpartition("/")[2]):
            paths.append(f"{directory}/secrets/encryption-config/encryption-config")
    for path in paths:
        found = node.read_host_file(path)
        if found.data is not None and found.tree_path is not None and is_encryption_config(found.data):
            configs.append(EncryptionConfigSource(node.where(found.tree_path), found.data, node, path))
        elif found.tree_path is not None:
            problems.append(f"{node.where(found.tree_path)}: not a readable EncryptionConfiguration")
    return configs, problems


def find_apiserver_logs(node: NodeEvidence) -> list[LogSource]:
    """kube-apiserver's logs on this node: /var/log/kube-apiserver and its CRI pod logs (audit logs left out)."""
    logs: list[LogSource] = []
    candidates = [
        path for path in node.list_host_dir("/var/log/kube-apiserver")
        if not path.rpartition("/")[2].startswith("audit")
    ]  # fmt: skip
    for pod_dir in node.list_host_dir("/var/log/pods"):
        name = pod_dir.rpartition("/")[2]
        if "_kube-apiserver-" in name:  # <namespace>_kube-apiserver-<node>_<uid>
            candidates.extend(node.list_host_dir(f"{pod_dir}/kube-apiserver"))
    for path in candidates:
        head = node.read_host_file(path, LOG_SNIFF_BYTES)
        if head.data is None or head.tree_path is None:
            continue
        log_format = sniff_log(head.data)
        if log_format is not None:
            entry = node.tree.stat(head.tree_path)
            size = entry.size if entry is not None else len(head.data)
            logs.append(LogSource(node.where(head.tree_path), log_format, size, node, None, node.tree, head.tree_path))
    return logs
