"""Tests for analyzer.decode.manifest and analyzer.decode.flags: flags in order, host mounts, revisions, SNI pairs."""

from __future__ import annotations

import pytest

from analyzer.decode.flags import Flag, FlagOrigin, NamedCertKey, parse_flags, parse_named_cert_key, sni_cert_keys
from analyzer.decode.manifest import find_host_path, load_static_pod
from analyzer.errors import DecodeError

KUBEADM_APISERVER = b"""\
apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: 10.0.0.10:6443
  labels:
    component: kube-apiserver
    tier: control-plane
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=10.0.0.10
    - --allow-privileged=true
    - --authorization-mode=Node,RBAC
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    - --enable-bootstrap-token-auth=true
    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
    - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
    - --etcd-servers=https://127.0.0.1:2379
    - --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt
    - --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key
    - --proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.crt
    - --proxy-client-key-file=/etc/kubernetes/pki/front-proxy-client.key
    - --requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt
    - --service-account-key-file=/etc/kubernetes/pki/sa.pub
    - --service-account-signing-key-file=/etc/kubernetes/pki/sa.key
    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt
    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key
    - --tls-sni-cert-key=/etc/kubernetes/pki/lb.crt,/etc/kubernetes/pki/lb.key:api.example.com
    - --tls-sni-cert-key=/etc/kubernetes/pki/internal.crt,/etc/kubernetes/pki/internal.key
    - --tls-cert-file=/etc/kubernetes/pki/apiserver-override.crt
    image: registry.k8s.io/kube-apiserver:v1.30.2
    name: kube-apiserver
    volumeMounts:
    - mountPath: /etc/ssl/certs
      name: ca-certs
      readOnly: true
    - mountPath: /etc/pki
      name: etc-pki
      readOnly: true
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
  hostNetwork: true
  volumes:
  - hostPath:
      path: /etc/ssl/certs
      type: DirectoryOrCreate
    name: ca-certs
  - hostPath:
      path: /etc/pki
      type: DirectoryOrCreate
    name: etc-pki
  - hostPath:
      path: /etc/kubernetes/pki
      type: DirectoryOrCreate
    name: k8s-certs
"""

KUBEADM_ETCD = b"""\
apiVersion: v1
kind: Pod
metadata:
  labels: {component: etcd, tier: control-plane}
  name: etcd
  namespace: kube-system
spec:
  containers:
  - name: etcd
    command:
    - etcd
    - --advertise-client-urls=https://10.0.0.10:2379
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --key-file=/etc/kubernetes/pki/etcd/server.key
    - --peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt
    - --peer-key-file=/etc/kubernetes/pki/etcd/peer.key
    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    volumeMounts:
    - {mountPath: /var/lib/etcd, name: etcd-data}
    - {mountPath: /etc/kubernetes/pki/etcd, name: etcd-certs}
  volumes:
  - {hostPath: {path: /etc/kubernetes/pki/etcd, type: DirectoryOrCreate}, name: etcd-certs}
  - {hostPath: {path: /var/lib/etcd, type: DirectoryOrCreate}, name: etcd-data}
"""

# cluster-kube-apiserver-operator bindata/assets/kube-apiserver/pod.yaml, as installed at revision 7.
OPENSHIFT_APISERVER = b"""\
apiVersion: v1
kind: Pod
metadata:
  namespace: openshift-kube-apiserver
  name: kube-apiserver
  labels:
    app: openshift-kube-apiserver
    apiserver: "true"
    revision: "7"
spec:
  initContainers:
    - name: setup
      image: quay.io/openshift/hyperkube
      command: ['/usr/bin/timeout', '100', '/bin/bash', '-ec']
      args:
      - |
        echo "Fixing audit permissions ..."
        chmod 0700 /var/log/kube-apiserver
  containers:
  - name: kube-apiserver
    image: quay.io/openshift/hyperkube
    command: ["/bin/bash", "-ec"]
    args:
        - |
          LOCK=/var/log/kube-apiserver/.lock
          # We should be able to acquire the lock immediatelly.
          exec {LOCK_FD}>${LOCK} && flock --verbose -w 30 "${LOCK_FD}" || {
            echo "Failed to acquire lock for kube-apiserver. Please check setup container for details."
            exit 1
          }
          if [ -f /etc/kubernetes/static-pod-certs/configmaps/trusted-ca-bundle/ca-bundle.crt ]; then
            echo "Copying system trust bundle ..."
            cp -f /etc/kubernetes/static-pod-certs/configmaps/trusted-ca-bundle/ca-bundle.crt /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem
          fi

          exec watch-termination --termination-touch-file=/var/log/kube-apiserver/.terminating --termination-log-file=/var/log/kube-apiserver/termination.log --graceful-termination-duration=135s --kubeconfig=/etc/kubernetes/static-pod-resources/configmaps/kube-apiserver-cert-syncer-kubeconfig/kubeconfig -- hyperkube kube-apiserver --openshift-config=/etc/kubernetes/static-pod-resources/configmaps/config/config.yaml --advertise-address=${HOST_IP}  -v=2 --permit-address-sharing
    volumeMounts:
    - mountPath: /etc/kubernetes/static-pod-resources
      name: resource-dir
    - mountPath: /etc/kubernetes/static-pod-certs
      name: cert-dir
    - mountPath: /var/log/kube-apiserver
      name: audit-dir
    env:
      - name: POD_NAME
        valueFrom:
          fieldRef:
            fieldPath: metadata.name
      - name: STATIC_POD_VERSION # Avoid using 'REVISION' here otherwise it will be substituted
        value: "7"
  - name: kube-apiserver-cert-syncer
    image: quay.io/openshift/operator
    command: ["cluster-kube-apiserver-operator", "cert-syncer"]
    args:
      - --kubeconfig=/etc/kubernetes/static-pod-resources/configmaps/kube-apiserver-cert-syncer-kubeconfig/kubeconfig
      - --destination-dir=/etc/kubernetes/static-pod-certs
  - name: kube-apiserver-check-endpoints
    image: quay.io/openshift/operator
    command: [cluster-kube-apiserver-operator, check-endpoints]
    args: [--kubeconfig, /etc/kubernetes/static-pod-certs/configmaps/check-endpoints-kubeconfig/kubeconfig, --v, '2']
  hostNetwork: true
  volumes:
  - hostPath:
      path: /etc/kubernetes/static-pod-resources/kube-apiserver-pod-7
    name: resource-dir
  - hostPath:
      path: /etc/kubernetes/static-pod-resources/kube-apiserver-certs
    name: cert-dir
  - hostPath:
      path: /var/log/kube-apiserver
    name: audit-dir
"""

OPENSHIFT_ETCD_LIKE = b"""\
apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: openshift-etcd
  labels: {app: etcd, etcd: "true", revision: "3"}
spec:
  containers:
  - name: etcdctl
    command: ["/bin/bash", "-c", "trap TERM INT; sleep infinity & wait"]
  - name: etcd
    command:
      - /bin/sh
      - -c
      - |
        #!/bin/sh
        set -euo pipefail
        etcdctl member list || true  # etcd is not this line
        exec nice -n -19 ionice -c2 -n0 etcd \\
          --logger=zap \\
          --cert-file=/etc/kubernetes/static-pod-certs/secrets/etcd-all-certs/etcd-serving-master-0.crt \\
          --key-file=/etc/kubernetes/static-pod-certs/secrets/etcd-all-certs/etcd-serving-master-0.key \\
          --trusted-ca-file=/etc/kubernetes/static-pod-certs/configmaps/etcd-all-bundles/server-ca-bundle.crt \\
          --listen-client-urls=https://0.0.0.0:2379 # the listen URL
    volumeMounts:
    - {mountPath: /etc/kubernetes/static-pod-resources, name: resource-dir}
    - {mountPath: /etc/kubernetes/static-pod-certs, name: cert-dir}
  volumes:
  - {hostPath: {path: /etc/kubernetes/static-pod-resources/etcd-pod-3}, name: resource-dir}
  - {hostPath: {path: /etc/kubernetes/static-pod-resources/etcd-certs}, name: cert-dir}
"""


# --------------------------------------------------------------------------------------------
# kubeadm
# --------------------------------------------------------------------------------------------


def test_kubeadm_apiserver_flags_keep_their_order():
    pod = load_static_pod(KUBEADM_APISERVER)
    assert (pod.component, pod.name, pod.namespace, pod.script) == ("kube-apiserver", "kube-apiserver", "kube-system", None)
    assert pod.flags.items[0] == Flag("advertise-address", "10.0.0.10", FlagOrigin.COMMAND, 1)
    assert pod.flags.find("client-ca-file") == "/etc/kubernetes/pki/ca.crt"
    assert pod.flags.values("tls-sni-cert-key") == (
        "/etc/kubernetes/pki/lb.crt,/etc/kubernetes/pki/lb.key:api.example.com",
        "/etc/kubernetes/pki/internal.crt,/etc/kubernetes/pki/internal.key",
    )
    assert pod.flags.positionals == ()
    assert "etcd-certfile" in pod.flags and "tls-sni" not in pod.flags


def test_a_repeated_scalar_flag_keeps_the_last_value():
    flags = load_static_pod(KUBEADM_APISERVER).flags
    assert flags.values("tls-cert-file") == ("/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/pki/apiserver-override.crt")
    assert flags.find("tls-cert-file") == "/etc/kubernetes/pki/apiserver-override.crt"


def test_sni_pairs_come_in_load_order():
    pairs, error = sni_cert_keys(load_static_pod(KUBEADM_APISERVER).flags)
    assert error is None
    assert pairs == [
        NamedCertKey("/etc/kubernetes/pki/lb.crt", "/etc/kubernetes/pki/lb.key", ("api.example.com",), 0),
        NamedCertKey("/etc/kubernetes/pki/internal.crt", "/etc/kubernetes/pki/internal.key", (), 1),
    ]


def test_kubeadm_paths_are_the_same_on_the_host():
    pod = load_static_pod(KUBEADM_APISERVER)
    assert find_host_path(pod, "/etc/kubernetes/pki/apiserver.key") == "/etc/kubernetes/pki/apiserver.key"
    assert find_host_path(pod, "/etc/kubernetes/pki") == "/etc/kubernetes/pki"
    assert find_host_path(pod, "/etc/kubernetes/pkix/other") is None  # a prefix, not a parent
    assert find_host_path(pod, "/usr/share/ca.crt") is None
    assert pod.revision is None


def test_kubeadm_etcd():
    pod = load_static_pod(KUBEADM_ETCD)
    assert pod.component == "etcd"
    assert pod.flags.find("peer-key-file") == "/etc/kubernetes/pki/etcd/peer.key"
    assert find_host_path(pod, "/etc/kubernetes/pki/etcd/server.crt") == "/etc/kubernetes/pki/etcd/server.crt"


# --------------------------------------------------------------------------------------------
# OpenShift
# --------------------------------------------------------------------------------------------


def test_openshift_flags_come_from_the_exec_line_of_the_script():
    pod = load_static_pod(OPENSHIFT_APISERVER)
    assert pod.component == "kube-apiserver"
    assert pod.container_names == ("kube-apiserver", "kube-apiserver-cert-syncer", "kube-apiserver-check-endpoints")
    assert pod.script is not None and pod.script.startswith("LOCK=")
    assert [(f.name, f.value, f.origin) for f in pod.flags] == [
        ("openshift-config", "/etc/kubernetes/static-pod-resources/configmaps/config/config.yaml", FlagOrigin.SCRIPT),
        ("advertise-address", "${HOST_IP}", FlagOrigin.SCRIPT),
        ("v", "2", FlagOrigin.SCRIPT),
        ("permit-address-sharing", None, FlagOrigin.SCRIPT),
    ]
    assert "kubeconfig" not in pod.flags  # watch-termination's flag, before `-- hyperkube kube-apiserver`


def test_openshift_revision_from_label_env_and_host_path():
    pod = load_static_pod(OPENSHIFT_APISERVER)
    assert (pod.revision_label, pod.static_pod_version, pod.revision) == ("7", "7", 7)
    unlabelled = load_static_pod(OPENSHIFT_APISERVER.replace(b'revision: "7"', b"").replace(b'value: "7"', b"value: REVISION"))
    assert (unlabelled.revision_label, unlabelled.static_pod_version, unlabelled.revision) == (None, "REVISION", 7)


@pytest.mark.parametrize(
    ("in_pod", "on_host"),
    [
        (
            "/etc/kubernetes/static-pod-certs/secrets/user-serving-cert-000/tls.key",
            "/etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/user-serving-cert-000/tls.key",
        ),
        (
            "/etc/kubernetes/static-pod-resources/secrets/localhost-recovery-serving-certkey/tls.crt",
            "/etc/kubernetes/static-pod-resources/kube-apiserver-pod-7/secrets/localhost-recovery-serving-certkey/tls.crt",
        ),
        (
            "/etc/kubernetes/static-pod-resources/configmaps/config/../config/config.yaml",
            "/etc/kubernetes/static-pod-resources/kube-apiserver-pod-7/configmaps/config/config.yaml",
        ),
        ("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", None),
    ],
)
def test_openshift_paths_map_to_revisioned_and_cert_dirs(in_pod, on_host):
    assert find_host_path(load_static_pod(OPENSHIFT_APISERVER), in_pod) == on_host


def test_the_longest_mount_wins():
    nested = OPENSHIFT_APISERVER.replace(
        b"    - mountPath: /var/log/kube-apiserver\n      name: audit-dir\n",
        b"    - mountPath: /etc/kubernetes/static-pod-resources/secrets\n      name: audit-dir\n      subPath: nested\n",
    )
    pod = load_static_pod(nested)
    assert find_host_path(pod, "/etc/kubernetes/static-pod-resources/secrets/x/tls.key") == "/var/log/kube-apiserver/nested/x/tls.key"


def test_script_with_continuations_and_comments():
    pod = load_static_pod(OPENSHIFT_ETCD_LIKE)
    assert pod.component == "etcd" and pod.revision == 3
    assert pod.flags.names() == ("logger", "cert-file", "key-file", "trusted-ca-file", "listen-client-urls")
    assert pod.flags.find("listen-client-urls") == "https://0.0.0.0:2379"
    assert pod.flags.positionals == ()


def test_the_exec_line_wins_over_an_earlier_mention():
    pod = load_static_pod(
        b"kind: Pod\nspec:\n  containers:\n  - name: kube-apiserver\n    command: [/bin/sh, -c]\n    args:\n    - |\n"
        b"      hyperkube kube-apiserver --version\n"
        b"      exec hyperkube kube-apiserver --openshift-config=/c.yaml\n"
    )
    assert [(f.name, f.value) for f in pod.flags] == [("openshift-config", "/c.yaml")]


# --------------------------------------------------------------------------------------------
# Flag parsing
# --------------------------------------------------------------------------------------------


def test_flag_forms():
    flags = parse_flags(["--a=1", "--b", "2", "--permit-address-sharing", "pos", "-v=4", "--c", "--d=", "--", "--e=5"])
    assert [(f.name, f.value, f.position) for f in flags] == [
        ("a", "1", 0),
        ("b", "2", 1),
        ("permit-address-sharing", None, 3),
        ("v", "4", 5),
        ("c", None, 6),
        ("d", "", 7),
    ]
    assert flags.positionals == ("pos", "--e=5")
    assert flags.values("c") == () and flags.find("d") == ""


def test_args_without_command_are_all_flags():
    pod = load_static_pod(
        b"kind: Pod\nspec:\n  containers:\n  - name: kube-scheduler\n    args: [--kubeconfig=/etc/kubernetes/scheduler.conf, --bind-address=127.0.0.1]\n"
    )
    assert [(f.name, f.origin) for f in pod.flags] == [("kubeconfig", FlagOrigin.ARGS), ("bind-address", FlagOrigin.ARGS)]


def test_a_shell_path_among_the_arguments_is_not_a_script():
    pod = load_static_pod(
        b"kind: Pod\nspec:\n  containers:\n  - name: kube-scheduler\n"
        b"    command: [kube-scheduler, --shell, /bin/sh, -c, --config=/c.yaml]\n"
    )
    assert pod.script is None
    assert [(f.name, f.value) for f in pod.flags] == [("shell", "/bin/sh"), ("c", None), ("config", "/c.yaml")]


def test_hyperkube_command_then_args():
    pod = load_static_pod(
        b"kind: Pod\nspec:\n  containers:\n  - name: kube-controller-manager\n"
        b"    command: [hyperkube, kube-controller-manager, --kubeconfig=/k]\n    args: [--root-ca-file=/ca.crt]\n"
    )
    assert [(f.name, f.origin, f.position) for f in pod.flags] == [
        ("kubeconfig", FlagOrigin.COMMAND, 2),
        ("root-ca-file", FlagOrigin.ARGS, 0),
    ]


# --------------------------------------------------------------------------------------------
# --tls-sni-cert-key values (component-base NamedCertKey.Set)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("foo.crt,foo.key", NamedCertKey("foo.crt", "foo.key")),
        ("  foo.crt , foo.key    ", NamedCertKey("foo.crt", "foo.key")),
        ("foo.crt,foo.key:abc", NamedCertKey("foo.crt", "foo.key", ("abc",))),
        ("foo.crt,foo.key: abc  ", NamedCertKey("foo.crt", "foo.key", ("abc",))),
        ("foo.crt,foo.key:abc,def,ghi", NamedCertKey("foo.crt", "foo.key", ("abc", "def", "ghi"))),
        ("foo.crt,foo.key:*.*.*", NamedCertKey("foo.crt", "foo.key", ("*.*.*",))),
    ],
)
def test_parse_named_cert_key(value, expected):
    assert parse_named_cert_key(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("foo.crt,foo.key:", "empty names list is not allowed"),
        ("", "expected comma separated certificate and key file paths"),
        ("   ", "expected comma separated certificate and key file paths"),
        ("a,b,c", "expected comma separated certificate and key file paths"),
    ],
)
def test_parse_named_cert_key_errors(value, message):
    with pytest.raises(DecodeError, match=message):
        parse_named_cert_key(value)


def test_a_refused_value_is_quoted_as_pflag_quotes_it():
    _pairs, error = sni_cert_keys(parse_flags(['--tls-sni-cert-key=a": b']))  # a value that holds the separator
    assert error == 'invalid argument "a\\": b" for "--tls-sni-cert-key" flag: expected comma separated certificate and key file paths'


def test_sni_pairs_stop_at_the_first_value_pflag_refuses():
    flags = parse_flags(["--tls-sni-cert-key=a.crt,a.key", "--tls-sni-cert-key=b.crt", "--tls-sni-cert-key=c.crt,c.key"])
    pairs, error = sni_cert_keys(flags)
    assert pairs == [NamedCertKey("a.crt", "a.key")]
    assert error == 'invalid argument "b.crt" for "--tls-sni-cert-key" flag: expected comma separated certificate and key file paths'


# --------------------------------------------------------------------------------------------
# Choosing the main container
# --------------------------------------------------------------------------------------------


def test_the_component_can_be_named():
    pod = load_static_pod(OPENSHIFT_APISERVER, component="kube-apiserver-cert-syncer")
    assert pod.flags.find("destination-dir") == "/etc/kubernetes/static-pod-certs"


@pytest.mark.parametrize(
    ("data", "component", "message"),
    [
        (OPENSHIFT_APISERVER, "nope", 'no container "nope"'),
        (b"kind: Pod\nspec:\n  containers: [{name: a}, {name: b}]\n", None, "cannot tell the main container"),
        (b"kind: Deployment\nspec: {}\n", None, "is a Deployment, not a Pod"),
        (b"kind: Pod\nspec:\n  containers: {name: a}\n", None, "spec.containers is not a list"),
    ],
)
def test_manifest_errors(data, component, message):
    with pytest.raises(DecodeError, match=message):
        load_static_pod(data, component)


def test_bash_with_o_option_before_c_finds_the_script():
    # OpenShift's kube-controller-manager: command ["/bin/bash", "-euxo", "pipefail", "-c"], the script in args.
    pod = """
apiVersion: v1
kind: Pod
metadata: {name: kube-controller-manager, namespace: openshift-kube-controller-manager}
spec:
  containers:
  - name: kube-controller-manager
    command: ["/bin/bash", "-euxo", "pipefail", "-c"]
    args:
    - |
      timeout 3m /bin/bash -exuo pipefail -c 'while [ -n "$(ss -Htanop \\( sport = 10257 \\))" ]; do sleep 1; done'

      exec hyperkube kube-controller-manager --openshift-config=/etc/kubernetes/static-pod-resources/configmaps/config/config.yaml --kubeconfig=/k/kubeconfig -v=2
"""
    from analyzer.decode.manifest import load_static_pod

    loaded = load_static_pod(pod.encode(), "kube-controller-manager")
    assert loaded.flags.find("kubeconfig") == "/k/kubeconfig"
    assert loaded.flags.find("openshift-config").endswith("config.yaml")
