"""Seed corpora for every fuzz target, generated from the test fixtures (nothing committed).

    python fuzz/make_corpus.py [OUT]        # default: fuzz/corpus/<target>/

Seeds are real parts: certificates from cryptography, kubeconfigs and manifests from the kubeadm and
OpenShift fixture clusters, Kubernetes objects as kube-apiserver stores them (plain and encrypted
with the keys the value target configures), archives from tarfile/zipfile, bbolt files from the
test writer with etcd's buckets and mvccpb records. Sizes are kept small so that each execution
is cheap: libFuzzer's mutations do the rest.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from cryptography.hazmat.primitives import serialization  # noqa: E402

from harness import VALUE_ETCD_KEY, VALUE_KEYS  # noqa: E402
from analyzer.evidence.etcd import Revision  # noqa: E402
from analyzer.pb import etcd_mvcc_pb2  # noqa: E402
from tests.fixtures import k8s_objects  # noqa: E402
from tests.fixtures.boltwriter import write_bolt  # noqa: E402
from tests.fixtures.encryption import encrypt_value, encryption_config_yaml  # noqa: E402
from tests.fixtures.kubeadm_case import KubeadmCluster  # noqa: E402
from tests.fixtures.openshift_case import OpenShiftCluster  # noqa: E402
from tests.fixtures.pki import make_ca, make_leaf, new_key  # noqa: E402

PEM, DER = serialization.Encoding.PEM, serialization.Encoding.DER
NO_PASSWORD = serialization.NoEncryption()


def snapshot_seeds() -> Iterator[bytes]:
    objects = [
        (b"/registry/secrets/default/tls", k8s_objects.secret("default", "tls", {"tls.crt": b"C", "tls.key": b"K"})),
        (b"/registry/configmaps/kube-system/ca", k8s_objects.configmap("kube-system", "ca", {"ca.crt": "x"})),
        (b"/registry/namespaces/default", k8s_objects.namespace("default")),
    ]
    records: dict[bytes, bytes] = {}
    main = 2
    for round_ in range(3):
        for key, value in objects:
            kv = etcd_mvcc_pb2.KeyValue(key=key, create_revision=2, mod_revision=main, version=round_ + 1, value=value)
            records[Revision(main, 0).key()] = kv.SerializeToString()
            main += 1
    records[Revision(main, 0, True).key()] = etcd_mvcc_pb2.KeyValue(key=objects[0][0], mod_revision=main).SerializeToString()
    meta = {b"consistent_index": (main + 7).to_bytes(8, "big"), b"term": (2).to_bytes(8, "big"),
            b"scheduledCompactRev": Revision(3, 0).key(), b"finishedCompactRev": Revision(3, 0).key(),
            b"storageVersion": b"3.5.0"}
    buckets = {b"key": records, b"meta": meta, b"cluster": {b"clusterVersion": b"3.5.0"},
               b"members": {b"8e9e05c52164694d": b'{"id":10276657743932975437,"peerURLs":["https://10.0.0.10:2380"],"name":"master-0"}'}}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seed.db"
        # 512-byte pages (the smallest bbolt page the reader takes) keep files of a few KiB.
        for page_size, order, leaf, inline in ((512, "<", 4, frozenset({b"cluster"})), (512, ">", 64, frozenset()),
                                               (1024, "<", 64, frozenset({b"meta", b"members"})), (1024, "<", 3, frozenset())):
            write_bolt(path, buckets, page_size=page_size, order=order, leaf_capacity=leaf, branch_capacity=3, inline=inline)
            data = path.read_bytes()
            yield data
            yield data + hashlib.sha256(data).digest()  # etcdctl snapshot save appends the SHA-256


def value_seeds() -> Iterator[bytes]:
    plain = [
        k8s_objects.secret("default", "tls", {"tls.crt": b"cert", "tls.key": b"key"}, labels={"app": "x"},
                           writes=[k8s_objects.Write("kubectl", k8s_objects.EPOCH_2024)]),
        k8s_objects.configmap("kube-system", "ca", {"ca.crt": "-----BEGIN CERTIFICATE-----"}),
        k8s_objects.service_account("default", "default"),
        k8s_objects.namespace("default"),
        k8s_objects.pod("kube-system", "kube-apiserver", containers=[{"name": "kube-apiserver", "command": ["kube-apiserver", "--a=b"]}],
                        host_paths={"certs": "/etc/kubernetes/pki"}),
        k8s_objects.custom_resource("config.openshift.io/v1", "APIServer", "cluster", {"servingCerts": {}}),
        bytes.fromhex("d9d9f7a2") + b"\x4aapiVersion\x42v1\x44kind\x49ConfigMap",  # CBOR self-described
    ]
    for value in plain:
        yield value
        for provider, name, secret in VALUE_KEYS:
            yield encrypt_value(provider, name, secret, value, VALUE_ETCD_KEY)


def certificate_seeds() -> Iterator[bytes]:
    ca = make_ca("seed-ca")
    leaves = [make_leaf(ca, "kube-apiserver", dns=("kubernetes", "a.example"), ips=("10.0.0.1",), server=True),
              make_leaf(ca, "admin", orgs=("system:masters",), client=True, key_kind="rsa"),
              make_leaf(ca, "ed", server=True, key_kind="ed25519")]
    for leaf in leaves:
        yield leaf.cert_pem
        yield leaf.cert_pem + leaf.key_pem
        yield leaf.cert.public_bytes(DER)
    yield ca.cert_pem + leaves[0].cert_pem
    rsa_key = new_key("rsa")
    for fmt in (serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8):
        yield rsa_key.private_bytes(PEM, fmt, NO_PASSWORD)
    yield new_key("ec").private_bytes(PEM, serialization.PrivateFormat.TraditionalOpenSSL, NO_PASSWORD)
    yield rsa_key.public_key().public_bytes(PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    yield rsa_key.public_key().public_bytes(PEM, serialization.PublicFormat.PKCS1)
    yield b"-----BEGIN CERTIFICATE-----\n-----SCRUBBED CERTIFICATE-----\n"


def config_seeds() -> Iterator[bytes]:
    kubeadm, openshift = KubeadmCluster(), OpenShiftCluster()
    yield from kubeadm.kubeconfigs().values()
    yield from kubeadm.manifests().values()
    yield openshift.config_yaml()
    yield openshift.kube_apiserver_pod_yaml()
    yield openshift.kcm_config_yaml()
    yield openshift.component_kubeconfig("kube-controller-manager")
    yield encryption_config_yaml([(p, n, s) for p, n, s in VALUE_KEYS]).encode()


def log_seeds() -> Iterator[bytes]:
    sni = "sni-serving-cert::/etc/kubernetes/static-pod-certs/secrets/sni-1/tls.crt::/etc/kubernetes/static-pod-certs/secrets/sni-1/tls.key"
    yield (HERE.parent / "analyzer" / "demo" / "kube-apiserver.log").read_bytes()
    yield f'I0601 11:58:01.123456       1 dynamic_serving_content.go:113] "Loaded a new cert/key pair" name="{sni}"\n'.encode()
    yield b'2025-06-01T11:58:05.987654321Z stderr F E0601 11:58:05.000000 1 run.go:74] "command failed" err="tls: private key does not match public key"\n'
    yield b'Jun 01 11:58:05 master-0 hyperkube[1234]: W0601 11:58:05.1 1 x.go:1] message\n'
    yield b'{"ts":1748779085.5,"caller":"x.go:1","msg":"Loaded a new cert/key pair","name":"' + sni.encode() + b'","v":0}\n'


def archive_seeds() -> Iterator[bytes]:
    files = {"etc/kubernetes/pki/ca.crt": make_ca("archive-ca").cert_pem, "etc/kubernetes/admin.conf": b"apiVersion: v1\nkind: Config\n",
             "etc/hostname": b"master-0\n"}

    def tar_bytes(mode: str) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode=mode, format=tarfile.PAX_FORMAT) as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(data), 1735689600
                tar.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo("etc/kubernetes/ca-link.crt")
            link.type, link.linkname = tarfile.SYMTYPE, "pki/ca.crt"
            tar.addfile(link)
            hard = tarfile.TarInfo("etc/hostname.hard")
            hard.type, hard.linkname = tarfile.LNKTYPE, "etc/hostname"
            tar.addfile(hard)
        return out.getvalue()

    plain = tar_bytes("w")
    yield plain
    yield gzip.compress(plain, mtime=0)
    yield lzma.compress(plain)
    yield bz2.compress(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("nested/backup.tar.gz", gzip.compress(plain, mtime=0))
    yield out.getvalue()


SEEDS = {
    "snapshot": snapshot_seeds,
    "values": value_seeds,
    "certificates": certificate_seeds,
    "configs": config_seeds,
    "logs": log_seeds,
    "archives": archive_seeds,
}


def main(out: Path) -> None:
    for target, seeds in SEEDS.items():
        directory = out / target
        directory.mkdir(parents=True, exist_ok=True)
        written = list(seeds())
        for seed in written:
            (directory / f"seed-{hashlib.sha1(seed).hexdigest()[:16]}").write_bytes(seed)
        print(f"{target}: {len(written)} seeds in {directory}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "corpus")
