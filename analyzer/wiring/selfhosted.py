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

Nodes are named by their own identity (node.py: the kubelet's client certificate or kubeconfig,
hostname files), and without node files by ``spec.nodeName`` of the DaemonSet's pods, never by the
random suffix of a pod's name.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Any

from analyzer.decode.manifest import StaticPod, load_static_pod
from analyzer.errors import DecodeError
from analyzer.evidence.node import ETC_KUBERNETES, NodeEvidence
from analyzer.wiring.components import controller_manager, kube_apiserver, kubelet, scheduler
from analyzer.wiring.model import Copy, Material, State, Wiring
from analyzer.wiring.resolve import Resolved, _absent
from analyzer.wiring.sources import EtcdObjects, node_directory, node_file

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


def is_self_hosted(objects: EtcdObjects | None, nodes: list[NodeEvidence]) -> bool:
    if objects is not None and objects.find("daemonsets", NAMESPACE, "kube-apiserver") is not None:
        return True
    return any(node.host_exists(CHECKPOINT_SECRETS) or node.host_exists(f"{ETC_KUBERNETES}/bootstrap-manifests") for node in nodes)


@dataclass(frozen=True)
class SecretMount:
    mount_path: str
    secret: str


@dataclass
class CheckpointResolver:
    """In-pod paths to the checkpointed file on the node, with the Secret in etcd as the other copy."""

    node: NodeEvidence | None
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


def _checkpointed_pod(node: NodeEvidence, component: str) -> tuple[str, StaticPod, str] | None:
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


def wire_self_hosted(nodes: list[NodeEvidence], objects: EtcdObjects | None) -> Wiring:
    wiring = Wiring("self-hosted")
    targets: list[tuple[str, NodeEvidence | None]] = [(node.name, node) for node in nodes]
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
            wiring.components.append(build(pod.flags, resolver, node=name, distribution="self-hosted", configured_by=source))
        if node is not None:
            wiring.components.append(kubelet(
                CheckpointResolver(node, objects, (), None), node=name, distribution="self-hosted",
                configured_by=f"{KUBELET_KUBECONFIG} on {name}", kubeconfig=KUBELET_KUBECONFIG,
                serving_cert="/var/lib/kubelet/pki/kubelet.crt", serving_key="/var/lib/kubelet/pki/kubelet.key",
                client_ca=KUBELET_CLIENT_CA if node_file(node, KUBELET_CLIENT_CA).state is State.PRESENT else None,
            ))
    if not wiring.components:
        wiring.notes.append("a self-hosted control plane was recognised, but neither its DaemonSet/Deployments in etcd nor "
                            "checkpointed pods on a node were found")
    return wiring
