"""Who a node is: its name (kubelet certificate, kubelet.conf, etcd member name, hostname, input) and its distribution.

Decided here, in the wiring, from the files the evidence offers: naming a node means decoding its
certificates, kubeconfigs and manifests, which is the wiring's work, not the evidence's. In order:
the kubelet's client certificate (``CN=system:node:<name>``, the node's identity), RKE2's agent
certificate, the ``system:node:<name>`` user of ``kubelet.conf`` (sos keeps user names), the etcd
member name (``--name`` of the kubeadm or OpenShift etcd manifest), the sosreport's ``hostname`` or
``/etc/hostname``, and last the input's own name. ``name_source`` says which.
"""

from __future__ import annotations

import re

from cryptography.x509.oid import NameOID

from analyzer.decode.kubeconfig import load_kubeconfig
from analyzer.decode.manifest import load_static_pod
from analyzer.decode.sos_yaml import load_yaml_mapping
from analyzer.errors import DecodeError
from analyzer.evidence.node import ETC_KUBERNETES, KUBELET_PKI, KUBESPRAY_ETCD_SSL, RKE2_DATA, NodeEvidence
from analyzer.evidence.node.host_paths import KUBELET_CLIENT_DATED, RKE_KUBECONFIG
from analyzer.gomodel.keys import load_certificates
from analyzer.gomodel.material import MaterialState
from analyzer.gomodel.pem import inspect_material
from analyzer.model.nodes import UNNAMED, NodeIdentity
from analyzer.model.vocabulary import Distribution


_SHELL_VARIABLE = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")
_NODE_USER = "system:node:"


# --------------------------------------------------------------------------- names


def _certificate_node_name(data: bytes | None) -> str | None:
    if data is None or inspect_material(data).state is not MaterialState.PRESENT:
        return None
    try:
        certificate = load_certificates(data)[0]
        attributes = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except (DecodeError, ValueError):
        return None
    for attribute in attributes:
        value = attribute.value if isinstance(attribute.value, str) else ""
        if value.startswith(_NODE_USER) and len(value) > len(_NODE_USER):
            return value[len(_NODE_USER) :]
    return None


def _name_from_kubelet_pem(node: NodeEvidence) -> tuple[str, str] | None:
    current = node.read_host_file(f"{KUBELET_PKI}/kubelet-client-current.pem")
    candidates = [current] if current.readable else []
    dated = [p for p in node.list_host_dir(KUBELET_PKI) if KUBELET_CLIENT_DATED.match(p.rpartition("/")[2])]
    candidates += [node.read_host_file(path) for path in sorted(dated, reverse=True)]  # newest first
    for found in candidates:
        name = _certificate_node_name(found.data)
        if name:
            return name, f"kubelet client certificate {found.host_path} (CN {_NODE_USER}{name})"
    return None


def _name_from_rke2_agent(node: NodeEvidence) -> tuple[str, str] | None:
    """RKE2's kubelet client certificate (agent/client-kubelet.crt, CN system:node:<name>)."""
    found = node.read_host_file(f"{RKE2_DATA}/agent/client-kubelet.crt")
    name = _certificate_node_name(found.data)
    return (name, f"kubelet client certificate {found.host_path} (CN {_NODE_USER}{name})") if name else None


def _name_from_kubelet_conf(node: NodeEvidence) -> tuple[str, str] | None:
    # kubeadm's kubelet.conf; bootkube/Tectonic nodes keep the kubelet's kubeconfig as /etc/kubernetes/kubeconfig.
    found = node.read_host_file(f"{ETC_KUBERNETES}/kubelet.conf")
    if found.data is None:
        found = node.read_host_file(f"{ETC_KUBERNETES}/kubeconfig")
    if found.data is None:
        return None
    try:
        config = load_kubeconfig(found.data, found.host_path)
    except DecodeError:
        return None
    if config.user is None:
        return None
    client = config.user.client_certificate
    name = _certificate_node_name(client.data) if client.data_state is MaterialState.PRESENT else None
    if name:
        return name, f"client certificate in {found.host_path} (CN {_NODE_USER}{name})"
    if config.user.name.startswith(_NODE_USER) and len(config.user.name) > len(_NODE_USER):
        return config.user.name[len(_NODE_USER) :], f'user "{config.user.name}" of {found.host_path}'
    return None


def _etcd_manifests(node: NodeEvidence) -> list[str]:
    paths = [f"{ETC_KUBERNETES}/manifests/etcd.yaml", f"{ETC_KUBERNETES}/manifests/etcd-pod.yaml"]
    revisions = [
        p for p in node.list_host_dir(f"{ETC_KUBERNETES}/static-pod-resources")
        if re.fullmatch(r"etcd-pod-\d+", p.rpartition("/")[2])
    ]  # fmt: skip
    revisions.sort(key=lambda p: int(p.rpartition("-")[2]), reverse=True)
    return paths + [f"{p}/etcd-pod.yaml" for p in revisions]


def _name_from_etcd_manifest(node: NodeEvidence) -> tuple[str, str] | None:
    for path in _etcd_manifests(node):
        found = node.read_host_file(path)
        if found.data is None:
            continue
        try:
            pod = load_static_pod(found.data, "etcd")
            env = _container_env(found.data, "etcd")
        except DecodeError:
            continue
        name = pod.flags.find("name")
        variable = _SHELL_VARIABLE.match(name or "")
        if variable:  # OpenShift: --name=${NODE_<node>_ETCD_NAME}, set in the container's env
            name = env.get(variable.group(1))
        if name:
            return name, f"etcd member name (--name) in {path}"
        if env.get("NODE_NAME"):
            return env["NODE_NAME"], f"NODE_NAME of the etcd container in {path}"
    return None


def _container_env(data: bytes, container: str) -> dict[str, str]:
    document = load_yaml_mapping(data, "static pod manifest")
    containers = (document.get("spec") or {}).get("containers") or []
    for entry in containers if isinstance(containers, list) else []:
        if isinstance(entry, dict) and entry.get("name") == container:
            env = entry.get("env") or []
            return {
                str(item["name"]): str(item["value"])
                for item in (env if isinstance(env, list) else [])
                if isinstance(item, dict) and "name" in item and isinstance(item.get("value"), str | int)
            }
    return {}


def _name_from_hostname(node: NodeEvidence) -> tuple[str, str] | None:
    candidates = []
    if node.scrubbed:
        candidates.append("/hostname")  # sos writes `hostname` at the report's root
    candidates.append("/etc/hostname")
    for path in candidates:
        found = node.read_host_file(path)
        if found.data is None or len(found.data) > 256:
            continue
        text = found.data.decode("utf-8", "replace").strip()
        if text and re.fullmatch(r"[A-Za-z0-9._-]+", text):
            label = "the sosreport's hostname" if path == "/hostname" else "/etc/hostname"
            return text, label
    return None


def _find_name(node: NodeEvidence, fallback: str) -> tuple[str, str]:
    for finder in (_name_from_kubelet_pem, _name_from_rke2_agent, _name_from_kubelet_conf, _name_from_etcd_manifest,
                   _name_from_hostname):
        found = finder(node)
        if found:
            return found
    return fallback, UNNAMED


# --------------------------------------------------------------------------- distribution


def _find_distribution(node: NodeEvidence) -> Distribution:
    def names(host_dir: str) -> set[str]:
        return {path.rpartition("/")[2] for path in node.list_host_dir(host_dir)}

    if node.host_exists(f"{RKE2_DATA}/server") or node.host_exists(f"{RKE2_DATA}/agent"):
        return Distribution.RKE2
    if node.host_exists(f"{ETC_KUBERNETES}/checkpoint-secrets") or node.host_exists(f"{ETC_KUBERNETES}/bootstrap-manifests"):
        return Distribution.SELF_HOSTED
    kubernetes = names(ETC_KUBERNETES)
    manifests = names(f"{ETC_KUBERNETES}/manifests")
    ssl = names(f"{ETC_KUBERNETES}/ssl")
    if "static-pod-resources" in kubernetes or any(name.endswith("-pod.yaml") for name in manifests):
        return Distribution.OPENSHIFT
    if "kube-ca.pem" in ssl or any(RKE_KUBECONFIG.match(name) for name in ssl):
        return Distribution.RKE
    if ssl & {"ca.crt", "apiserver.crt"} or node.host_exists(KUBESPRAY_ETCD_SSL):
        return Distribution.KUBESPRAY
    if manifests or "pki" in kubernetes or kubernetes & {"admin.conf", "kubelet.conf", "super-admin.conf"}:
        return Distribution.KUBEADM
    return Distribution.UNKNOWN


def identify_node(node: NodeEvidence) -> NodeIdentity:
    """Who the node is: its name (and where it was read) and its distribution, from what it holds."""
    name, name_source = _find_name(node, node.fallback_name)
    return NodeIdentity(name, name_source, _find_distribution(node))
