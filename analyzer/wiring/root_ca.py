"""The copies of the cluster CA that pods trust kube-apiserver with, wherever they are in etcd.

kube-controller-manager publishes one CA to every pod, from ``--root-ca-file`` (else the CA of its
own kubeconfig; cmd/kube-controller-manager/app/controllermanager.go), through two controllers:

* the tokens controller writes it as ``ca.crt`` into every ``kubernetes.io/service-account-token``
  secret, and rewrites it whenever it differs (pkg/controller/serviceaccount/tokens_controller.go,
  ``secretUpdateNeeded``: ``needsCA`` when the bytes differ from rootCA);
* since v1.20 the root-ca-cert-publisher writes it as ``ca.crt`` of the ``kube-root-ca.crt``
  config map in every namespace, and rewrites it when it differs
  (pkg/controller/certificates/rootcacertpublisher/publisher.go ``syncNamespace``).

So after a CA change the copies stay on the old CA until kube-controller-manager runs with the new
one and reaches kube-apiserver; and pods that already read them keep the old CA until restarted
(client-go reads the in-cluster CA once: kubernetes/kubernetes#119483). The checks compare every
copy with the certificate kube-apiserver really serves (checks/service_accounts.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from analyzer.decode.envelope import may_hold
from analyzer.decode.values import decode_value
from analyzer.wiring.nodes import Node
from analyzer.wiring.model import State, Wiring
from analyzer.wiring.sources import EtcdObjects, node_file
from analyzer.wiring.sources.etcd_objects import TOKEN_SECRET_TYPE

ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
_TOKEN_TYPE_BYTES = TOKEN_SECRET_TYPE.encode()
# Where kubeadm keeps the cluster CA on a master (the kubelet's client CA, embedded in every kubeconfig).
KUBEADM_CLUSTER_CA = "/etc/kubernetes/pki/ca.crt"


def attach_root_ca_copies(wiring: Wiring, objects: EtcdObjects | None, nodes: list[Node]) -> None:
    """Every copy of the CA handed to pods, and the cluster CA as a fallback reference."""
    if objects is None:
        return
    for namespace, name in sorted(_token_secrets(objects)):  # key order, as the reports list them
        wiring.service_account_tokens.append(objects.data("secrets", namespace, name, "ca.crt"))
    # The config map has the same name in every namespace: select by key before decoding anything.
    for namespace in objects.namespaces_with("configmaps", ROOT_CA_CONFIGMAP):
        wiring.root_ca_configmaps.append(objects.data("configmaps", namespace, ROOT_CA_CONFIGMAP, "ca.crt"))
    # The reference when kube-apiserver's served chain cannot be read: the CA the node's files use.
    # (Never one of the copies themselves: a stale kube-system copy would make the others look right.)
    for node in nodes:
        current = node_file(node, KUBEADM_CLUSTER_CA)
        if current.state is State.PRESENT:
            wiring.current_ca = current
            return


def _token_secrets(objects: EtcdObjects) -> Iterator[tuple[str, str]]:
    """(namespace, name) of every service-account token secret, selected before decoding.

    A cluster holds tens of thousands of secrets and few of them are tokens. They are streamed in
    the order the store reads fastest, and a secret whose stored bytes cannot hold the type is
    dropped unread: protobuf and CBOR keep ``type`` as raw UTF-8, JSON too unless it escapes
    characters. What remains (the tokens, and anything encrypted) is decoded one at a time and
    dropped again; only the tokens go on to ``data``, which reads them as every other object.
    """
    if not isinstance(objects, EtcdObjects):  # a must-gather: its objects are parsed already
        for collected in objects.iter_objects("secrets"):
            if collected.object is not None and collected.object.get("type") == TOKEN_SECRET_TYPE:
                yield collected.namespace or "", collected.name
        return
    prefix = f"{objects.root}/secrets/"
    # A snapshot's index pass screened every Secret already (EtcdObjects), so only possible tokens
    # come back; a running etcd sends every Secret. Either way each value is screened here by the
    # same rule (cheap, and the only screen a running etcd's values get).
    for record in objects.snapshot.iter_may_hold(objects.index, prefix.encode()):
        value = record.value
        if not may_hold(value, 0, len(value), _TOKEN_TYPE_BYTES):
            continue
        decoded = decode_value(value, etcd_key=record.key, mod_revision=record.mod_revision, encryption=objects.encryption)
        if decoded.object is None or decoded.object.get("type") != TOKEN_SECRET_TYPE:
            continue
        namespace, _, name = record.key.decode("utf-8", "replace")[len(prefix) :].partition("/")
        if name and "/" not in name:
            yield namespace, name
