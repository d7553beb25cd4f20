"""OpenShift 4 control planes: kube-apiserver from its KubeAPIServerConfig, etcd and the kubelet
from the node, every path mapped to the node's files and to the etcd objects they are written from.

Facts: ``shared/docs/control-plane-layouts.md`` §2. The revision in use comes from the node's static
pod, else the operator's status (``kubeapiservers.operator.openshift.io/cluster``), else the mirror
pod; the config from the node's revisioned directory, else ``config-<revision>`` in etcd.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

from analyzer.decode.flags import Flags
from analyzer.decode.manifest import StaticPod
from analyzer.decode.openshift_config import KubeAPIServerConfig, config_to_flags, load_extended_arguments, load_kube_apiserver_config
from analyzer.errors import DecodeError
from analyzer.evidence.node import KUBELET_PKI
from analyzer.wiring.nodes import Node
from analyzer.wiring.components import controller_manager, etcd, kube_apiserver, kubeconfigs, kubelet, object_hint, scheduler
from analyzer.wiring.kubeadm import first_service_ip
from analyzer.wiring.model import Component, Load, Material, PairPayload, State, Wiring
from analyzer.wiring.openshift_releases import (
    STANDARD_MOUNTS_SOURCE,
    STATIC_POD_RESOURCES,
    substitute_placeholders,
)
from analyzer.wiring.openshift_pods import (
    APISERVER_POD, CONFIG_IN_POD, ETCD_NAMESPACE, ETCD_POD, KCM_NAMESPACE, KCM_POD, KUBELET_BOOTSTRAP_KUBECONFIG,
    KUBELET_CLIENT_CA, KUBELET_KUBECONFIG, NODE_KUBECONFIGS, SCHEDULER_NAMESPACE, SCHEDULER_POD, SERVER_CA_IN_POD,
    SYSTEM_SERVING_NAMES, TARGET, mirror_pod, pod_from_etcd, standard_mounts,
)
from analyzer.wiring.openshift_etcd import METRICS_CONTAINER, etcd_from_objects, cluster_release, metrics_proxy
from analyzer.evidence.node import Mount
from analyzer.wiring.resolve import StaticPodResolver
from analyzer.wiring.sources import EtcdObjects, node_static_pod
from analyzer.model.vocabulary import Component as ComponentName
from analyzer.model.vocabulary import Distribution, Role



def _mounts(pod: StaticPod) -> tuple[Mount, ...]:
    host_paths = {volume.name: volume.path for volume in pod.volumes}
    return tuple(Mount(mount.mount_path, host_paths[mount.name]) for mount in pod.mounts if mount.name in host_paths)


def _operator_revision(objects: EtcdObjects | None, node: str) -> tuple[int | None, str]:
    """The revision the operator's status says a node runs, else its latest available revision."""
    if objects is None:
        return None, ""
    stored = objects.find("operator.openshift.io/kubeapiservers", None, "cluster")
    status = (stored.object or {}).get("status", {}) if stored else {}
    for entry in status.get("nodeStatuses") or []:
        if entry.get("nodeName") == node and str(entry.get("currentRevision") or "").isdigit():
            return int(str(entry["currentRevision"])), f"nodeStatuses[{node}].currentRevision"
    latest = status.get("latestAvailableRevision")
    if str(latest or "").isdigit() and int(str(latest)):
        return int(str(latest)), "latestAvailableRevision"
    return None, ""


# The revisioned secrets every kube-apiserver revision has (cluster-kube-apiserver-operator
# pkg/operator/starter.go RevisionSecrets, the ones not Optional, release-4.6 → main).
REQUIRED_REVISION_SECRETS = ("etcd-client", "localhost-recovery-serving-certkey")


def highest_complete_config(objects: EtcdObjects | None) -> int | None:
    """The highest revision N whose config-N loads and whose required revisioned secrets exist: the
    revision controller writes them all before the installer can roll N out
    (library-go pkg/operator/revisioncontroller/revision_controller.go createNewRevision)."""
    if objects is None:
        return None
    revisions = sorted((int(m.group(1)) for stored in objects.iter_objects("configmaps", TARGET)
                        if (m := re.fullmatch(r"config-(\d+)", stored.name))), reverse=True)
    for revision in revisions:
        config = objects.data("configmaps", TARGET, f"config-{revision}", "config.yaml")
        if config.state is not State.PRESENT:
            continue
        try:
            load_kube_apiserver_config(config.data)
        except DecodeError:
            continue
        if all(objects.find("secrets", TARGET, f"{name}-{revision}") is not None for name in REQUIRED_REVISION_SECRETS):
            return revision
    return None


def _config(resolver: StaticPodResolver, objects: EtcdObjects | None, revision: int | None,
            node: str | None) -> tuple[KubeAPIServerConfig | None, str, list[str]]:
    """config.yaml: the node's revisioned copy, else ``config-<revision>`` in etcd (both through the
    resolver), else the operator's current ``config`` (what the next revision will carry)."""
    steps: list[str] = []
    candidates: list[tuple[Material, bool]] = [(resolver.file(CONFIG_IN_POD).material, False)]
    if objects is not None:
        candidates.append((objects.data("configmaps", TARGET, "config", "config.yaml"), True))
    for material, unrevisioned in candidates:
        if material.state is not State.PRESENT:
            continue
        data = substitute_placeholders(material.data.decode("utf-8", "replace"), revision, node).encode()
        try:
            config = load_kube_apiserver_config(data)
        except DecodeError as err:
            steps.append(f"{material.location.describe()} does not load ({err})")
            continue
        if unrevisioned:
            steps.append(f"no config-{revision} in the evidence: wired from the operator's current ConfigMap "
                         f"{TARGET}/config, which the next revision will carry" if revision else
                         f"wired from the operator's current ConfigMap {TARGET}/config (no revision known)")
        return config, material.location.describe(), steps
    return None, "", steps


def user_sources(objects: EtcdObjects | None) -> dict[str, str]:
    """user-serving-cert-NNN → openshift-config/<secret>, from apiservers.config.openshift.io/cluster
    (the config observer syncs entry i to user-serving-cert-%03d)."""
    if objects is None:
        return {}
    stored = objects.find("config.openshift.io/apiservers", None, "cluster")
    spec = ((stored.object or {}).get("spec") or {}) if stored else {}
    entries = (spec.get("servingCerts") or {}).get("namedCertificates") or []
    sources = {}
    for index, entry in enumerate(entries):
        secret = ((entry or {}).get("servingCertificate") or {}).get("name")
        if secret:
            sources[f"user-serving-cert-{index:03d}"] = f"openshift-config/{secret}"
    return sources


def load_balancer_names(objects: EtcdObjects | None) -> dict[str, tuple[str, ...]]:
    """The API and internal API host names the load-balancer serving pairs must carry."""
    names: dict[str, tuple[str, ...]] = {}
    if objects is not None:
        stored = objects.find("config.openshift.io/infrastructures", None, "cluster")
        status = ((stored.object or {}).get("status") or {}) if stored else {}
        for secret, field in (("external-loadbalancer-serving-certkey", "apiServerURL"), ("internal-loadbalancer-serving-certkey", "apiServerInternalURI")):
            host = urlsplit(str(status.get(field) or "")).hostname
            if host:
                names[secret] = (host,)
    return names


def wire_openshift(nodes: list[Node], objects: EtcdObjects | None) -> Wiring:
    wiring = Wiring(Distribution.OPENSHIFT)
    release = cluster_release(objects)
    if objects is not None:
        wiring.notes.append(release.detail)
    sources = user_sources(objects)
    lb_names = load_balancer_names(objects)
    targets: list[tuple[str | None, Node | None]] = [(node.name, node) for node in nodes]
    if not targets and objects is not None:
        stored = objects.find("operator.openshift.io/kubeapiservers", None, "cluster")
        statuses = (((stored.object or {}).get("status") or {}).get("nodeStatuses") or []) if stored else []
        targets = [(entry.get("nodeName"), None) for entry in statuses if entry.get("nodeName")] or [(None, None)]
        wiring.notes.append("no node files in the evidence: every file is checked through the etcd object it is written from")
    given = (f"the {getattr(objects, 'evidence_kind', 'etcd snapshot')}" if objects is not None else None, "node files" if nodes else None)
    for name, node in targets:
        steps: list[str] = []
        pod = node_static_pod(node, APISERVER_POD, "kube-apiserver") if node else None
        revision = pod.revision if pod else None
        pod_source = f"{APISERVER_POD} on {name}" if pod else ""
        if revision is None:
            revision, field_name = _operator_revision(objects, name or "")
            if revision is not None:
                steps.append(f"revision {revision} from the operator's status (kubeapiservers.operator.openshift.io/cluster {field_name})"
                             + (f"; no {APISERVER_POD} on {name}" if node else ""))
        if revision is None:
            revision = highest_complete_config(objects)
            if revision is not None:
                steps.append(f"revision {revision}: the highest complete config-{revision} in etcd (no static pod and no operator status)")
        if pod is None and objects is not None:
            pod = pod_from_etcd(objects, revision, node=name)
            pod_source = f"ConfigMap {TARGET}/kube-apiserver-pod-{revision}" if pod else ""
            if pod is None:
                pod = mirror_pod(objects, name)
                pod_source = f"mirror pod {TARGET}/kube-apiserver-{name}" if pod else ""
                if pod is not None:
                    steps.append(f"mounts from the {pod_source} in etcd (no kube-apiserver-pod-{revision} in the evidence)")
            revision = revision or (pod.revision if pod else None)
        if pod is not None:
            mounts = _mounts(pod)
        else:
            mounts = standard_mounts("kube-apiserver", revision)
            missing = f"kube-apiserver-pod-{revision}" if revision else "kube-apiserver-pod-N"
            steps.append(f"no {missing} in the evidence: wired with the operator's standard mounts (resource-dir → "
                         f"{STATIC_POD_RESOURCES}/kube-apiserver-pod-{revision if revision else 'N'}, cert-dir → "
                         f"{STATIC_POD_RESOURCES}/kube-apiserver-certs; {STANDARD_MOUNTS_SOURCE})")
            if revision is None:
                steps.append("cannot tell the revision (no static pod, no operator status, no complete config-N): "
                             "the revisioned files (static-pod-resources/…) cannot be resolved")
        resolver = StaticPodResolver(node, objects, TARGET, revision, mounts, sources)
        config, config_source, config_steps = _config(resolver, objects, revision, name)
        steps.extend(config_steps)
        if config is None:
            wiring.notes.extend(steps)
            wiring.notes.append(_missing_config_note(objects, revision, name, given))
            continue
        flags = config_to_flags(config)
        how = f"{config_source} (revision {revision})" if revision else config_source
        apiserver = kube_apiserver(flags, resolver, node=name, distribution=Distribution.OPENSHIFT,
                                   configured_by=how + (f", mounts from {pod_source}" if pod_source else ", the operator's standard mounts"))
        if steps:
            note = f"kube-apiserver on {name or 'the cluster'}: " + "; ".join(steps)
            apiserver.notes.append(note)
            wiring.notes.append(note)
        service_ip = first_service_ip(config.services_subnet)
        apiserver.loads = [_with_names(load, lb_names, service_ip) for load in apiserver.loads]
        wiring.components.append(apiserver)
        server_ca = resolver.file(SERVER_CA_IN_POD).material
        if server_ca.state is State.PRESENT:
            wiring.serving_trust[name] = (server_ca, "kube-apiserver-server-ca, the bundle node and local kubeconfigs trust")
        if node is not None:
            wiring.components.extend(_node_components(node, objects, wiring.notes))
        elif objects is not None:
            wiring.components.extend(etcd_from_objects(objects, name, release, wiring.notes))
        wiring.components.extend(_controllers(node, name, objects))
    return wiring


def _controllers(node: Node | None, name: str | None, objects: EtcdObjects | None) -> list[Component]:
    """kube-controller-manager and kube-scheduler: their static pods (on the node, else their
    revisioned copies in etcd), with kube-controller-manager's extendedArguments from its config."""
    found = []
    for component, namespace, manifest in (("kube-controller-manager", KCM_NAMESPACE, KCM_POD),
                                           ("kube-scheduler", SCHEDULER_NAMESPACE, SCHEDULER_POD)):
        pod = node_static_pod(node, manifest, component) if node is not None else None
        source = f"{manifest} on {name}"
        if pod is None and objects is not None:
            pod = pod_from_etcd(objects, None, component, namespace)
            source = f"ConfigMap {namespace}/{component}-pod in etcd"
        if pod is None:
            continue
        resolver = StaticPodResolver(node, objects, namespace, pod.revision, _mounts(pod))
        flags = pod.flags
        config_path = flags.find("openshift-config")
        if component == "kube-controller-manager" and config_path:
            config = resolver.file(config_path).material
            if config.state is State.PRESENT:
                try:
                    extended = load_extended_arguments(config.data)
                    # Flags on the command line win over the config's (SetIfUnset, as ConfigToFlags does).
                    flags = Flags(flags.items + tuple(f for f in extended if f.name not in flags))
                except DecodeError:
                    pass
        build = controller_manager if component == "kube-controller-manager" else scheduler
        found.append(build(flags, resolver, node=name, distribution=Distribution.OPENSHIFT, configured_by=f"{source} (revision {pod.revision})"))
    return found


def _missing_config_note(objects: EtcdObjects | None, revision: int | None, node: str | None,
                         given: tuple[str | None, str | None]) -> str:
    """Why there is no kube-apiserver configuration to wire from, and what else would hold it (never
    what was already given)."""
    where = node or "the cluster"
    if objects is not None:
        name = f"config-{revision}" if revision else "config"
        stored = objects.data("configmaps", TARGET, name, "config.yaml")
        if stored.state is State.ENCRYPTED:
            return (
                f"cannot tell how kube-apiserver on {where} is configured: its config.yaml is encrypted at rest in etcd; give the "
                "EncryptionConfiguration with --encryption-config, or the master's /etc/kubernetes, whose "
                "static-pod-resources/kube-apiserver-pod-N/secrets/encryption-config/encryption-config holds it"
            )
    wanted = [what for what, have in (("the master's /etc/kubernetes", given[1]), ("an etcd snapshot", given[0])) if not have]
    gone = f"neither the master's files nor {given[0]} hold" if all(given) else "the evidence does not hold"
    tail = f"; {' or '.join(wanted)} would" if wanted else ""
    return f"cannot tell how kube-apiserver on {where} is configured: {gone} its config.yaml (config-N){tail}"


def _with_names(load: Load, lb_names: dict[str, tuple[str, ...]], service_ip: str | None) -> Load:
    pair = load.payload
    # A pair given SNI names: kube_apiserver already took them as expected names, wildcards left out.
    if load.role not in (Role.SERVING, Role.SNI) or not isinstance(pair, PairPayload) or pair.sni_names:
        return load
    hint = object_hint(pair.cert_path or "")
    if hint in SYSTEM_SERVING_NAMES:
        expected = SYSTEM_SERVING_NAMES[hint]
    elif hint in lb_names:
        expected = lb_names[hint]
    elif hint == "service-network-serving-certkey":
        expected = ("kubernetes.default.svc",) + ((service_ip,) if service_ip else ())
    else:
        return load
    return replace(load, payload=replace(pair, expected_names=expected))


def _node_components(node: Node, objects: EtcdObjects | None, notes: list[str]) -> list[Component]:
    components = []
    etcd_pod = node_static_pod(node, ETCD_POD, "etcd")
    if etcd_pod is not None:
        resolver = StaticPodResolver(node, objects, ETCD_NAMESPACE, etcd_pod.revision, _mounts(etcd_pod))
        components.append(etcd(etcd_pod.flags, resolver, node=node.name, distribution=Distribution.OPENSHIFT,
                               configured_by=f"{ETCD_POD} on {node.name}",
                               expected_server=("localhost", "127.0.0.1"), expected_peer=(), env=etcd_pod.env))
        revision = etcd_pod.revision
        # The node's manifest is what runs there: no other source stands in for its etcd-metrics container.
        components.extend(metrics_proxy(
            [(f"{ETCD_POD} on {node.name}", node_static_pod(node, ETCD_POD, METRICS_CONTAINER))],
            lambda pod: StaticPodResolver(node, objects, ETCD_NAMESPACE, revision, _mounts(pod)), node=node.name, notes=notes))
    host = StaticPodResolver(node, objects, TARGET, None, (Mount("/", "/"),))
    serving = f"{KUBELET_PKI}/kubelet-server-current.pem"
    components.append(kubelet(
        host, node=node.name, distribution=Distribution.OPENSHIFT, configured_by=f"/var/lib/kubelet on {node.name}",
        kubeconfig=KUBELET_KUBECONFIG, serving_cert=serving, serving_key=serving, client_ca=KUBELET_CLIENT_CA,
        client_pair=f"{KUBELET_PKI}/kubelet-client-current.pem", bootstrap_kubeconfig=KUBELET_BOOTSTRAP_KUBECONFIG,
    ))
    files = {_node_kubeconfig_role(path): path for path in sorted(node.list_host_dir(NODE_KUBECONFIGS)) if path.endswith(".kubeconfig")}
    if files:
        components.append(kubeconfigs(ComponentName.NODE_KUBECONFIGS, files, host, node=node.name, distribution=Distribution.OPENSHIFT,
                                      configured_by=f"{NODE_KUBECONFIGS} on {node.name}"))
    return components


def _node_kubeconfig_role(path: str) -> Role:
    """The role of one file of the node-kubeconfigs secret: its own for the files the operator writes."""
    name = f"{Role.NODE_KUBECONFIG} {path.rsplit('/', 1)[1]}"
    return Role(name) if name in set(Role) else Role.NODE_KUBECONFIG
