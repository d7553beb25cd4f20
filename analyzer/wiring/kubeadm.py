"""kubeadm control planes (and Kubespray, which is kubeadm underneath): flags from the static pod
manifests on the node, or from the mirror pods in etcd when only a snapshot was sent.

Layout and flags: ``shared/docs/control-plane-layouts.md`` §1. Names the serving certificates must
carry (§1.3) come from the node, the kubeconfigs that dial it, and ``kube-system/kubeadm-config``.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import yaml

from analyzer.decode.flags import Flags
from analyzer.decode.manifest import StaticPod, load_static_pod
from analyzer.decode.sos_yaml import safe_load
from analyzer.errors import DecodeError
from analyzer.evidence.node import KUBELET_PKI
from analyzer.records import datarecord
from analyzer.wiring.nodes import Node
from analyzer.gomodel.goversions import release_of_image
from analyzer.wiring.components import (
    controller_manager,
    etcd,
    kube_apiserver,
    kubeconfigs,
    kubelet,
    scheduler,
    url_hosts,
)
from analyzer.wiring.model import PairPayload, State, Wiring
from analyzer.wiring.resolve import HostResolver
from analyzer.wiring.sources import EtcdObjects, node_file, node_static_pod
from analyzer.model.vocabulary import Component as ComponentName
from analyzer.model.vocabulary import Distribution, Role

MANIFESTS = "/etc/kubernetes/manifests"
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
ADMIN_KUBECONFIGS = {Role.ADMIN: "/etc/kubernetes/admin.conf", Role.SUPER_ADMIN: "/etc/kubernetes/super-admin.conf"}
# Files kubeadm writes on some nodes or versions only: when absent they are not loads at all, so no
# check reports them (severity by consequence, checks/severity.py rule 4). path -> why, for the notes.
OPTIONAL_FILES: dict[str, str] = {
    # cmd/kubeadm/app/phases/kubeconfig/kubeconfig.go: super-admin.conf is created by `kubeadm init`
    # from v1.29 (CreateInitKubeConfigFiles); CreateJoinControlPlaneKubeConfigFiles never writes it.
    "/etc/kubernetes/super-admin.conf": (
        "no /etc/kubernetes/super-admin.conf: kubeadm writes it only from v1.29 and only on the node where "
        "`kubeadm init` ran, so its absence is normal"
    ),
}
KUBELET_KUBECONFIG = "/etc/kubernetes/kubelet.conf"
# kubeadm writes KubeletConfiguration authentication.x509.clientCAFile as the cluster CA.
KUBELET_CLIENT_CA = "/etc/kubernetes/pki/ca.crt"


@datarecord
class Layout:
    """Where a static-pod control plane keeps what the wiring reads. kubeadm's is the reference;
    Kubespray and RKE2 (wiring/layouts.py) differ in directories, not in how components load."""

    distribution: Distribution
    manifests: str
    kubelet_kubeconfig: str
    kubelet_client_ca: str
    # The CA kubeconfigs embed, which clients verify kube-apiserver's serving pairs with.
    cluster_ca: str
    admin_kubeconfigs: dict[Role, str]
    # The kubelet's serving pair, decided per node (rotated pem or self-signed pair).
    kubelet_serving: Callable[[Node], tuple[str, str]]
    # etcd's flags when etcd is not a static pod with a command line: (flags, where from) or None.
    etcd_flags: Callable[[Node], tuple[Flags, str] | None] | None = None


def _pod_from_node(node: Node, component: str, layout: Layout) -> tuple[StaticPod, str] | None:
    path = f"{layout.manifests}/{component}.yaml"
    pod = node_static_pod(node, path, component)
    return (pod, f"{path} on {node.name}") if pod is not None else None


def _pod_from_mirror(objects: EtcdObjects, component: str, node: str) -> tuple[StaticPod, str] | None:
    stored = objects.find("pods", "kube-system", f"{component}-{node}")
    if stored is None or stored.object is None:
        return None
    try:
        # The API form is JSON, which is YAML: the static pod loader reads it as it reads a manifest.
        return load_static_pod(json.dumps(stored.object).encode(), component), f"mirror pod kube-system/{component}-{node} in etcd"
    except DecodeError:
        return None


def mirror_nodes(objects: EtcdObjects) -> list[str]:
    """Control-plane nodes named by the kube-apiserver mirror pods in etcd."""
    prefix = "kube-apiserver-"
    return sorted(stored.name[len(prefix) :] for stored in objects.iter_objects("pods", "kube-system") if stored.name.startswith(prefix))


def cluster_configuration(objects: EtcdObjects | None) -> dict[str, Any]:
    """kube-system/kubeadm-config ClusterConfiguration, the source of kubeadm's SAN list."""
    if objects is None:
        return {}
    stored = objects.find("configmaps", "kube-system", "kubeadm-config")
    if stored is None or stored.object is None:
        return {}
    try:
        document = safe_load((stored.object.get("data") or {}).get("ClusterConfiguration", "")) or {}
    except yaml.YAMLError:
        return {}
    return document if isinstance(document, dict) else {}


def first_service_ip(service_range: str | None) -> str | None:
    """The first usable IP of the first service CIDR: kubeadm's GetAPIServerVirtualIP."""
    if not service_range:
        return None
    try:
        network = ipaddress.ip_network(service_range.split(",")[0].strip(), strict=False)
    except ValueError:
        return None
    return str(network.network_address + 1)


def apiserver_names(flags: Flags, node: str, config: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names in-cluster clients dial, the rest of kubeadm's list)."""
    domain = (config.get("networking") or {}).get("dnsDomain") or "cluster.local"
    service_ip = first_service_ip(flags.find("service-cluster-ip-range") or (config.get("networking") or {}).get("serviceSubnet"))
    required = ["kubernetes.default.svc"] + ([service_ip] if service_ip else [])
    advised = [node, "kubernetes", "kubernetes.default", f"kubernetes.default.svc.{domain}"]
    advertise = flags.find("advertise-address")
    if advertise:
        advised.append(advertise)
    endpoint = str(config.get("controlPlaneEndpoint") or "")
    if endpoint:
        advised.append(endpoint_host(endpoint))
    advised += [str(san) for san in ((config.get("apiServer") or {}).get("certSANs") or [])]
    return tuple(dict.fromkeys(required)), tuple(name for name in dict.fromkeys(advised) if name not in required)


def endpoint_host(endpoint: str) -> str:
    """The host of kubeadm's controlPlaneEndpoint: ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address."""
    if endpoint.count(":") > 1 and not endpoint.startswith("["):
        return endpoint
    return urlsplit("//" + endpoint).hostname or endpoint


def wire_kubeadm(nodes: list[Node], objects: EtcdObjects | None, distribution: Distribution = Distribution.KUBEADM) -> Wiring:
    return wire_static_pods(nodes, objects, replace(KUBEADM, distribution=distribution))


def wire_static_pods(nodes: list[Node], objects: EtcdObjects | None, layout: Layout) -> Wiring:
    """A control plane of static pods: flags from the manifests on each node (or the mirror pods in etcd)."""
    distribution = layout.distribution
    wiring = Wiring(distribution)
    config = cluster_configuration(objects)
    if config.get("kubernetesVersion"):
        wiring.releases.append((str(config["kubernetesVersion"]), "kube-system/kubeadm-config ClusterConfiguration kubernetesVersion"))
    targets: list[tuple[str, Node | None]] = [(node.name, node) for node in nodes]
    if not targets and objects is not None:
        targets = [(name, None) for name in mirror_nodes(objects)]
        if targets:
            wiring.notes.append(
                "no node files in the evidence: flags come from the mirror pods in etcd, and the certificate files "
                "themselves (kept on each node, not in etcd) cannot be checked; send a copy of /etc/kubernetes"
            )
    for name, node in targets:
        resolver = HostResolver(node)
        pods: dict[str, tuple[StaticPod, str]] = {}
        for component in COMPONENTS:
            found = _pod_from_node(node, component, layout) if node else None
            found = found or (_pod_from_mirror(objects, component, name) if objects is not None else None)
            if found:
                pods[component] = found
                release = release_of_image(found[0].image)
                if release:
                    wiring.releases.append((release, f"{found[1]} image {found[0].image}"))
        if "kube-apiserver" in pods:
            pod, source = pods["kube-apiserver"]
            apiserver = kube_apiserver(pod.flags, resolver, node=name, distribution=distribution, configured_by=source)
            required, advised = apiserver_names(pod.flags, name, config)
            apiserver.loads = [
                replace(load, payload=replace(load.payload, expected_names=required, advised_names=advised))
                if load.role == Role.SERVING and isinstance(load.payload, PairPayload) else load
                for load in apiserver.loads
            ]
            wiring.components.append(apiserver)
        etcd_flags: tuple[Flags | None, str] = (pods["etcd"][0].flags, pods["etcd"][1]) if "etcd" in pods else (None, "")
        if node is not None and layout.etcd_flags is not None and (etcd_flags[0] is None or not etcd_flags[0].find("cert-file")):
            # etcd as a service (Kubespray) or a static pod configured by file (RKE2).
            etcd_flags = layout.etcd_flags(node) or etcd_flags
        flags, source = etcd_flags
        if flags is not None:
            apiserver_flags = pods["kube-apiserver"][0].flags if "kube-apiserver" in pods else Flags()
            dialed = tuple(url_hosts(apiserver_flags.values("etcd-servers"), schemeless=True))
            peers = tuple(url_hosts(flags.values("initial-advertise-peer-urls")))
            etcd_component = etcd(flags, resolver, node=name, distribution=distribution, configured_by=source,
                                  expected_server=dialed, expected_peer=peers)
            advertised = tuple(url_hosts(flags.values("advertise-client-urls")))
            advised_etcd = tuple(dict.fromkeys((name, "localhost", "127.0.0.1", *advertised)))
            etcd_component.loads = [
                replace(load, payload=replace(load.payload, advised_names=advised_etcd))
                if load.role == Role.ETCD_SERVER and isinstance(load.payload, PairPayload) else load
                for load in etcd_component.loads
            ]
            wiring.components.append(etcd_component)
        if "kube-controller-manager" in pods:
            pod, source = pods["kube-controller-manager"]
            wiring.components.append(controller_manager(pod.flags, resolver, node=name, distribution=distribution, configured_by=source))
        if "kube-scheduler" in pods:
            pod, source = pods["kube-scheduler"]
            wiring.components.append(scheduler(pod.flags, resolver, node=name, distribution=distribution, configured_by=source))
        if node is not None:
            cluster_ca = node_file(node, layout.cluster_ca)
            if cluster_ca.state is State.PRESENT:
                wiring.serving_trust[name] = (cluster_ca, f"the cluster CA {layout.cluster_ca}, embedded in every kubeconfig")
            serving_cert, serving_key = layout.kubelet_serving(node)
            wiring.components.append(kubelet(
                resolver, node=name, distribution=distribution, configured_by=f"{layout.kubelet_kubeconfig} on {name}",
                kubeconfig=layout.kubelet_kubeconfig, serving_cert=serving_cert, serving_key=serving_key,
                client_ca=layout.kubelet_client_ca,
                # kubeadm's kubelet drop-in 10-kubeadm.conf: --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf
                bootstrap_kubeconfig="/etc/kubernetes/bootstrap-kubelet.conf",
            ))
            present = {role: path for role, path in layout.admin_kubeconfigs.items()
                       if path not in OPTIONAL_FILES or node_file(node, path).state is not State.MISSING}
            admin = kubeconfigs(ComponentName.ADMIN_KUBECONFIGS, present, resolver, node=name, distribution=distribution,
                                configured_by=f"{', '.join(sorted({posixpath.dirname(p) for p in present.values()}))} on {name}")
            admin.notes += [OPTIONAL_FILES[path] for path in layout.admin_kubeconfigs.values() if path not in present.values()]
            if admin.loads:
                wiring.components.append(admin)
    if not wiring.components and not nodes and objects is None:
        # A log on its own: nothing says which distribution it is, so no distribution's layout is blamed.
        wiring.notes.append("no node files and no etcd snapshot in the evidence: no component configuration to wire from")
    elif not wiring.components:
        wiring.notes.append(f"no static pod manifests in {layout.manifests} and no mirror pods were found")
    return wiring


def kubelet_serving_paths(node: Node) -> tuple[str, str]:
    """The rotated serving pem when serverTLSBootstrap is on, else the kubelet's own self-signed pair
    (cmd/kubelet InitializeTLS writes kubelet.crt/kubelet.key)."""
    current = f"{KUBELET_PKI}/kubelet-server-current.pem"
    if node_file(node, current).state is State.PRESENT:
        return current, current
    return f"{KUBELET_PKI}/kubelet.crt", f"{KUBELET_PKI}/kubelet.key"


KUBEADM = Layout(
    distribution=Distribution.KUBEADM, manifests=MANIFESTS, kubelet_kubeconfig=KUBELET_KUBECONFIG, kubelet_client_ca=KUBELET_CLIENT_CA,
    cluster_ca=KUBELET_CLIENT_CA, admin_kubeconfigs=ADMIN_KUBECONFIGS, kubelet_serving=kubelet_serving_paths,
)
