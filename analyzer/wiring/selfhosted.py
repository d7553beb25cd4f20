"""Self-hosted control planes (bootkube, Tectonic): the control plane runs as Kubernetes objects.

bootkube renders kube-apiserver as a DaemonSet and kube-controller-manager and kube-scheduler as
Deployments in ``kube-system``, each mounting a Secret of its own name at ``/etc/kubernetes/secrets``
(kubernetes-retired/bootkube cmd/render/plugin/default/asset/internal/templates.go). Their flags are
in the pod template; their certificates in those Secrets.

While the API is down nothing reads the Secrets: the pod-checkpointer has written each
checkpointed pod as a static pod ``/etc/kubernetes/manifests/<namespace>-<pod>.json`` whose secret
volumes became hostPath volumes under ``/etc/kubernetes/checkpoint-secrets/<namespace>/<pod>/<secret>``
(bootkube pkg/checkpoint: checkpoint.go, secret.go, pod.go), and the kubelet keeps restarting that
copy. So on a node the checkpointed files are what runs, and the Secret in etcd is what the next
successful rollout would mount: when they differ, the node will keep restarting the stale checkpoint.

Nodes are named by their own identity (evidence/node/identity.py: the kubelet's client certificate or kubeconfig,
hostname files), and without node files by ``spec.nodeName`` of the DaemonSet's pods, never by the
random suffix of a pod's name.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from typing import Any

from analyzer.decode.etcd_config import flags_from_environment
from analyzer.decode.flags import FlagOrigin, Flags, parse_flags
from analyzer.decode.manifest import StaticPod, load_static_pod
from analyzer.errors import DecodeError
from analyzer.evidence.node import ETC_KUBERNETES
from analyzer.records import datarecord
from analyzer.wiring.nodes import Node
from analyzer.wiring.components import controller_manager, etcd, kube_apiserver, kubelet, scheduler
from analyzer.wiring.model import Component, Copy, Material, State, Wiring
from analyzer.wiring.resolve import Resolved, _absent
from analyzer.wiring.sources import EtcdObjects, node_directory, node_file
from analyzer.model.vocabulary import Distribution

NAMESPACE = "kube-system"
CHECKPOINT_SECRETS = f"{ETC_KUBERNETES}/checkpoint-secrets"
CHECKPOINT_MANIFESTS = f"{ETC_KUBERNETES}/manifests"
# The kubelet's kubeconfig and client CA on a bootkube/Tectonic node.
KUBELET_KUBECONFIG = f"{ETC_KUBERNETES}/kubeconfig"
KUBELET_CLIENT_CA = f"{ETC_KUBERNETES}/ca.crt"
# component -> (resource holding it, builder)
COMPONENTS = {
    "kube-apiserver": "daemonsets",
    "kube-controller-manager": "deployments",
    "kube-scheduler": "deployments",
}


def is_self_hosted(objects: EtcdObjects | None, nodes: list[Node]) -> bool:
    if objects is not None and objects.find("daemonsets", NAMESPACE, "kube-apiserver") is not None:
        return True
    return any(node.host_exists(CHECKPOINT_SECRETS) or node.host_exists(f"{ETC_KUBERNETES}/bootstrap-manifests") for node in nodes)


@datarecord
class SecretMount:
    mount_path: str
    secret: str


@datarecord(frozen=False)
class CheckpointResolver:
    """In-pod paths to the checkpointed file on the node, with the Secret in etcd as the other copy."""

    node: Node | None
    objects: EtcdObjects | None
    mounts: tuple[SecretMount, ...]
    pod: str | None  # the checkpointed pod's name on this node

    def _split(self, path: str) -> tuple[SecretMount, str] | None:
        for mount in sorted(self.mounts, key=lambda m: len(m.mount_path), reverse=True):
            prefix = mount.mount_path.rstrip("/") + "/"
            if path.startswith(prefix):
                return mount, path[len(prefix):]
        return None

    def file(self, path: str) -> Resolved:
        split = self._split(path)
        if split is None:
            if self.node is not None:
                return Resolved(node_file(self.node, path))
            return Resolved(_absent(path, "the file lives on the node; this evidence has no copy of the node's files"))
        mount, key = split
        stored = self.objects.data("secrets", NAMESPACE, mount.secret, key) if self.objects is not None else None
        object_ref = f"{NAMESPACE}/{mount.secret}"
        if self.node is not None and self.pod is not None:
            checkpoint = node_file(self.node, f"{CHECKPOINT_SECRETS}/{NAMESPACE}/{self.pod}/{mount.secret}/{key}")
            if checkpoint.state is not State.NOT_IN_EVIDENCE:
                copies = ((Copy.SYNCED_FROM, stored),) if stored is not None else ()
                return Resolved(checkpoint, copies, object_ref)
        if stored is not None:
            return Resolved(stored, (), object_ref)
        return Resolved(_absent(path, f"neither a checkpoint of Secret {object_ref} on the node nor the Secret itself is in this evidence"),
                        (), object_ref)

    def directory(self, path: str) -> list[Material]:
        if self.node is not None and self.node.host_exists(path):
            return node_directory(self.node, path)
        return [self.file(path).material]


def _template(objects: EtcdObjects | None, component: str) -> tuple[dict[str, Any], str] | None:
    if objects is None:
        return None
    stored = objects.find(COMPONENTS[component], NAMESPACE, component)
    if stored is None or stored.object is None:
        return None
    template = ((stored.object.get("spec") or {}).get("template")) or {}
    kind = "DaemonSet" if COMPONENTS[component] == "daemonsets" else "Deployment"
    return template, f"{kind} {NAMESPACE}/{component} in etcd"


def _pod_of(template: dict[str, Any], component: str) -> StaticPod | None:
    try:
        document = {"apiVersion": "v1", "kind": "Pod", "metadata": template.get("metadata") or {}, "spec": template.get("spec") or {}}
        return load_static_pod(json.dumps(document).encode(), component)
    except DecodeError:
        return None


def _secret_mounts(spec: dict[str, Any], container: str) -> tuple[SecretMount, ...]:
    secrets = {v.get("name"): (v.get("secret") or {}).get("secretName") for v in spec.get("volumes") or [] if v.get("secret")}
    mounts = []
    for entry in spec.get("containers") or []:
        if entry.get("name") != container:
            continue
        for mount in entry.get("volumeMounts") or []:
            secret = secrets.get(mount.get("name"))
            if secret and mount.get("mountPath"):
                mounts.append(SecretMount(str(mount["mountPath"]), str(secret)))
    return tuple(mounts)


def _checkpoint_mounts(pod: StaticPod) -> tuple[SecretMount, ...]:
    """Without the template: the checkpoint's hostPath volumes name the Secret as their last directory."""
    host_paths = {volume.name: volume.path for volume in pod.volumes}
    return tuple(
        SecretMount(mount.mount_path, posixpath.basename(host_paths[mount.name].rstrip("/")))
        for mount in pod.mounts
        if host_paths.get(mount.name, "").startswith(CHECKPOINT_SECRETS + "/")
    )


def _checkpointed_pod(node: Node, component: str) -> tuple[str, StaticPod, str] | None:
    """(pod name, manifest, path) of the checkpoint the kubelet runs for ``component`` on this node."""
    prefix = f"{NAMESPACE}-{component}-"
    for path in sorted(node.list_host_dir(CHECKPOINT_MANIFESTS)):
        name = posixpath.basename(path)
        if name.startswith(prefix) and name.endswith(".json"):
            found = node_file(node, path)
            if found.state is not State.PRESENT:
                continue
            try:
                pod = load_static_pod(found.data, component)
            except DecodeError:
                continue
            return name.removesuffix(".json").removeprefix(f"{NAMESPACE}-"), pod, path
    return None


def _pod_nodes(objects: EtcdObjects | None) -> dict[str, str]:
    """node name -> kube-apiserver pod name, from spec.nodeName of the DaemonSet's pods."""
    found: dict[str, str] = {}
    if objects is None:
        return found
    for stored in objects.iter_objects("pods", NAMESPACE):
        obj = stored.object or {}
        owners = (obj.get("metadata") or {}).get("ownerReferences") or []
        node = (obj.get("spec") or {}).get("nodeName")
        mirror = "kubernetes.io/config.mirror" in ((obj.get("metadata") or {}).get("annotations") or {})
        if node and stored.name.startswith("kube-apiserver-") and not mirror and all(o.get("kind") == "DaemonSet" for o in owners):
            found[str(node)] = stored.name
    return found


# -- etcd on its own nodes (Tectonic) ----------------------------------------------------------------

# Tectonic ran etcd outside the cluster, on nodes of its own, as Container Linux's etcd-member.service:
# /usr/lib/coreos/etcd-wrapper runs etcd in rkt with /etc/ssl/etcd mounted at the same path, configured
# by the drop-in tectonic-installer writes (modules/ignition/resources/dropins/40-etcd-cluster.conf: an
# emptied ExecStart= then ExecStart=/usr/lib/coreos/etcd-wrapper with the TLS flags of modules/etcd
# cert_options: --cert-file=/etc/ssl/etcd/server.crt, --trusted-ca-file=/etc/ssl/etcd/ca.crt, ...).
ETCD_MEMBER_DROPINS = "/etc/systemd/system/etcd-member.service.d"
ETCD_MEMBER_UNITS = ("/usr/lib/systemd/system/etcd-member.service", "/etc/systemd/system/etcd-member.service")
TECTONIC_ETCD_SOURCE = "coreos/tectonic-installer modules/ignition/resources/dropins/40-etcd-cluster.conf"
# The ETCD_* settings /usr/lib/coreos/etcd-wrapper reads for itself (the image to run, the user, the
# certificate and data directories it mounts into the container): not taken as etcd's flags here.
ETCD_WRAPPER_ENV = frozenset({"ETCD_IMAGE", "ETCD_IMAGE_TAG", "ETCD_IMAGE_URL", "ETCD_SSL_DIR", "ETCD_USER", "ETCD_DATA_DIR"})


def is_etcd_member_node(node: Node) -> bool:
    """A node that runs etcd-member and no kubelet of the control plane (no /etc/kubernetes)."""
    return node.host_exists(ETCD_MEMBER_DROPINS) and not node.host_exists(ETC_KUBERNETES)


def _unit_settings(text: str) -> tuple[str | None, dict[str, str]]:
    """ExecStart (the last, after systemd's emptying ``ExecStart=``) and Environment= pairs of a unit file.
    systemd joins a line ending in a backslash with the next (systemd.syntax)."""
    exec_start: str | None = None
    env: dict[str, str] = {}
    for line in re.sub(r"\\\r?\n", " ", text).splitlines():
        key, _, value = line.strip().partition("=")
        if key == "ExecStart":
            exec_start = value.strip() or None
        elif key == "Environment":
            try:
                words = shlex.split(value)
            except ValueError:
                continue
            for word in words:
                name, equals, setting = word.partition("=")
                if equals:
                    env[name] = setting
    return exec_start, env


def etcd_member_flags(node: Node) -> tuple[Flags, str] | None:
    """etcd's flags on an etcd-member node: the unit, then its drop-ins in name order (systemd's order),
    the last ExecStart winning; ETCD_* environment settings as the flags they stand for, after those of
    the command line (decode/etcd_config.flags_from_environment). None without an ExecStart."""
    paths = [p for p in ETCD_MEMBER_UNITS if node.host_exists(p)]
    paths += sorted(p for p in node.list_host_dir(ETCD_MEMBER_DROPINS) if p.endswith(".conf"))
    exec_start: str | None = None
    env: dict[str, str] = {}
    used = []
    for path in paths:
        found = node_file(node, path)
        if found.state is not State.PRESENT:
            continue
        command, settings = _unit_settings(found.data.decode("utf-8", "replace"))
        env.update(settings)
        if command is not None or "ExecStart=" in found.data.decode("utf-8", "replace"):
            exec_start = command
        used.append(path)
    if exec_start is None:
        return None
    try:
        words = shlex.split(exec_start)
    except ValueError:
        return None
    start = next((i for i, word in enumerate(words) if posixpath.basename(word) in ("etcd-wrapper", "etcd")), None)
    if start is None:
        return None
    flags = parse_flags(words[start + 1 :])
    from_env = flags_from_environment(sorted((name, value) for name, value in env.items() if name not in ETCD_WRAPPER_ENV),
                                      FlagOrigin.ARGS, command_line=flags)
    if from_env:
        flags = Flags(flags.items + from_env.items, flags.positionals)
    return flags, ", ".join(used)


def _etcd_member(node: Node, objects: EtcdObjects | None) -> list[Component]:
    found = etcd_member_flags(node)
    if found is None:
        return []
    flags, source = found
    resolver = CheckpointResolver(node, objects, (), None)  # etcd-wrapper mounts /etc/ssl/etcd at the same path
    return [etcd(flags, resolver, node=node.name, distribution=Distribution.SELF_HOSTED,
                 configured_by=f"etcd-member.service on {node.name} ({source}; {TECTONIC_ETCD_SOURCE})",
                 expected_server=(), expected_peer=())]


def wire_self_hosted(nodes: list[Node], objects: EtcdObjects | None) -> Wiring:
    wiring = Wiring(Distribution.SELF_HOSTED)
    etcd_nodes = [node for node in nodes if is_etcd_member_node(node)]
    for member in etcd_nodes:
        members = _etcd_member(member, objects)
        wiring.components.extend(members)
        if not members:
            wiring.notes.append(f"{member.name} runs etcd-member, but no ExecStart of its unit or drop-ins in the evidence "
                                "starts etcd: cannot tell which files etcd there loads")
    nodes = [node for node in nodes if node not in etcd_nodes]
    targets: list[tuple[str, Node | None]] = [(node.name, node) for node in nodes]
    if not targets:
        targets = [(name, None) for name in sorted(_pod_nodes(objects))]
        if targets:
            wiring.notes.append("no node files in the evidence: nodes are those the kube-apiserver DaemonSet's pods ran on "
                                "(spec.nodeName), and what each node's checkpoint holds cannot be checked")
    builders = {"kube-apiserver": kube_apiserver, "kube-controller-manager": controller_manager, "kube-scheduler": scheduler}
    for name, node in targets:
        for component, build in builders.items():
            checkpoint = _checkpointed_pod(node, component) if node is not None else None
            template = _template(objects, component)
            pod: StaticPod | None
            if checkpoint is not None:
                pod_name, pod, path = checkpoint
                mounts = _secret_mounts(template[0].get("spec") or {}, pod.component) if template else _checkpoint_mounts(pod)
                # The checkpoint's hostPath volumes point into checkpoint-secrets; the template names the Secret.
                source = f"checkpointed pod {path} on {name}" + (f" (from the {template[1]})" if template else "")
            elif template is not None:
                pod_name, pod = None, _pod_of(template[0], component)
                mounts = _secret_mounts(template[0].get("spec") or {}, component)
                source = template[1]
            else:
                continue
            if pod is None:
                continue
            resolver = CheckpointResolver(node, objects, mounts, pod_name)
            wiring.components.append(build(pod.flags, resolver, node=name, distribution=Distribution.SELF_HOSTED, configured_by=source))
        if node is not None:
            wiring.components.append(kubelet(
                CheckpointResolver(node, objects, (), None), node=name, distribution=Distribution.SELF_HOSTED,
                configured_by=f"{KUBELET_KUBECONFIG} on {name}", kubeconfig=KUBELET_KUBECONFIG,
                serving_cert="/var/lib/kubelet/pki/kubelet.crt", serving_key="/var/lib/kubelet/pki/kubelet.key",
                client_ca=KUBELET_CLIENT_CA if node_file(node, KUBELET_CLIENT_CA).state is State.PRESENT else None,
            ))
    if not wiring.components:
        wiring.notes.append("a self-hosted control plane was recognised, but neither its DaemonSet/Deployments in etcd nor "
                            "checkpointed pods on a node were found")
    return wiring
