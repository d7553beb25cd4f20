"""kforensic: find the certificate or key that took a Kubernetes control plane down."""

__version__ = "0.1.0"
