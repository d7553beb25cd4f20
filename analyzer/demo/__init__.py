"""The example case shipped with kforensic, built by tests/fixtures/demo_case.py from a real etcd.

An OpenShift 4 control plane whose kube-apiserver crash-loops on every master: an emptied
``tls.key`` was published into the user's named-certificate secret. The evidence is what a support
case receives: the etcd snapshot (secrets encrypted at rest), a tarball of master-0's
/etc/kubernetes and /var/lib/kubelet/pki, and the kube-apiserver log.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

EVIDENCE = ("snapshot_2025-06-01_115500.db", "master-0-etc-kubernetes.tar.gz", "kube-apiserver.log")
# The time the case is looked at: the demo gives the same report on any day.
REFERENCE_TIME = "2025-06-01T12:00:00Z"


def evidence_paths() -> list[Path]:
    """The demo's evidence files as paths (the package is installed as files, not zipped)."""
    paths = []
    for name in EVIDENCE:
        with as_file(files(__name__) / name) as path:
            paths.append(Path(path))
    return paths

