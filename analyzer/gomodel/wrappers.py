"""How Kubernetes and etcd components wrap Go's errors, with the upstream file each text comes from.

The inner part of every message is Go's own (tls.X509KeyPair, x509.ParseCertificate,
x509.CertPool.AppendCertsFromPEM...), predicted by the rest of gomodel and checked against real
Go by the differential tests; the wrapper is the component's ``fmt.Errorf`` around it. Wiring
attaches a wrapper to every load (``Load.error_format``) from this table, so one text lives in one
place.

``versions`` says which releases print the text; Go's %v and %w print the same, so a change from
one to the other (the SNI wrapper went from %v to %w) does not change the words.
"""

from __future__ import annotations

from analyzer.records import datarecord


@datarecord
class Wrapper:
    component: str
    text: str  # "{}" is the wrapped error; other fields are named ({path})
    source: str  # upstream file (repository path) holding the fmt.Errorf
    versions: str
    wraps: str  # the call whose error is wrapped

    def format(self, error: str, **fields: str) -> str:
        return self.text.replace("{}", "\0").format(**fields).replace("\0", error)

    @property
    def error_format(self) -> str:
        """The wrapper as a ``Load.error_format`` (only "{}" left to fill)."""
        return self.text


WRAPPERS: dict[str, Wrapper] = {
    "sni": Wrapper(
        "kube-apiserver", "failed to load SNI cert and key: {}",
        "kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/server/options/serving.go (SecureServingOptions.ApplyTo)",
        "every release with --tls-sni-cert-key; dynamiccertificates.NewDynamicSNIContentFromFiles since 1.17, "
        "tls.LoadX509KeyPair before", "tls.X509KeyPair via dynamiccertificates"),
    "serving-static": Wrapper(
        "kube-apiserver", "unable to load server certificate: {}",
        "kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/server/options/serving.go (ApplyTo, before dynamic serving certificates)",
        "before 1.17 (later releases load --tls-cert-file through dynamiccertificates)", "tls.LoadX509KeyPair"),
    "client-go-root-ca": Wrapper(
        "client-go (kubectl, controllers, kubelet's kubeconfig)", "unable to load root certificates: {}",
        "kubernetes/kubernetes staging/src/k8s.io/client-go/transport/transport.go (TLSConfigFor, rootCertPool)",
        "every supported release", "rootCertPool: AppendCertsFromPEM, then createErrorParsingCAData"),
    "delegated-client-ca": Wrapper(
        "kube-controller-manager, kube-scheduler", "unable to load client CA provider: {}",
        "kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/server/options/authentication.go (DelegatingAuthenticationOptions.ApplyTo)",
        "since 1.17", "dynamiccertificates.NewDynamicCAContentFromFile"),
    "delegated-request-header": Wrapper(
        "kube-controller-manager, kube-scheduler", "unable to create request header authentication config: {}",
        "kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/server/options/authentication.go (DelegatingAuthenticationOptions.ApplyTo)",
        "since 1.17", "dynamiccertificates.NewDynamicCAContentFromFile"),
    "root-ca-file": Wrapper(
        "kube-controller-manager", "error parsing root-ca-file at {path}: {}",
        "kubernetes/kubernetes cmd/kube-controller-manager/app/core.go (service-account token controller)",
        "every supported release", "certutil.ParseCertsPEM"),
    "cluster-signing": Wrapper(
        "kube-controller-manager", 'error reading CA cert file "{path}": {}',
        "kubernetes/kubernetes pkg/controller/certificates/signer/signer.go (NewCSRSigningController)",
        "every supported release", "dynamiccertificates.NewDynamicServingContentFromFiles"),
    "kubelet-run": Wrapper(
        "kubelet", "failed to run Kubelet: {}",
        "kubernetes/kubernetes cmd/kubelet/app/server.go (Run)",
        "every supported release", "BuildAuthn (client CA through dynamiccertificates)"),
}


def wrap(key: str, error: str, **fields: str) -> str:
    """``error`` as the component prints it."""
    return WRAPPERS[key].format(error, **fields)


def error_format(key: str, **fields: str) -> str:
    """A ``Load.error_format``: the wrapper with its named fields filled and "{}" left for the error."""
    return WRAPPERS[key].format("{}", **fields)


# client-go transport.go createErrorParsingCAData: why AppendCertsFromPEM found no certificate.
CA_NOT_PEM = "unable to parse bytes as PEM block"
CA_NOTHING_VALID = "no valid certificate authority data seen"
