"""The YAML and JSON a control plane is configured with: kubeconfigs, static pod manifests (and
the flags and SNI pairs in them), OpenShift's KubeAPIServerConfig and extended arguments, and the
EncryptionConfiguration.
"""

from __future__ import annotations

from harness import instrumented, run

with instrumented():
    from analyzer.decode.encryption import load_encryption_config
    from analyzer.decode.kubeconfig import load_kubeconfig
    from analyzer.decode.flags import sni_cert_keys
    from analyzer.decode.manifest import find_host_path, load_static_pod
    from analyzer.decode.openshift_config import config_to_flags, load_extended_arguments, load_kube_apiserver_config
    from analyzer.errors import KforensicError


def test_one(data: bytes) -> None:
    for load in (
        lambda: load_kubeconfig(data, "/etc/kubernetes/admin.conf"),
        lambda: _pod(data),
        lambda: sni_cert_keys(config_to_flags(load_kube_apiserver_config(data))),
        lambda: load_extended_arguments(data),
        lambda: load_encryption_config(data, "encryption-config.yaml"),
    ):
        try:
            load()
        except KforensicError:
            pass


def _pod(data: bytes) -> None:
    pod = load_static_pod(data, "kube-apiserver")
    sni_cert_keys(pod.flags)
    for mount in pod.mounts:
        find_host_path(pod, mount.mount_path)


if __name__ == "__main__":
    run(test_one)
