"""What every distribution's rows share: the procedure type, the finding ids grouped by what fixes
them, and the questions a procedure asks about its load."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from analyzer.gomodel.keypair import PairFailure
from analyzer.model.vocabulary import Distribution
from analyzer.wiring.model import BundlePayload, KubeconfigPayload, Load, PairPayload, PrivateKeyPayload, PublicKeysPayload

Procedure = Callable[[Load], tuple[str, ...]]
Row = tuple[str, Distribution]

# The ids, grouped by the kind of fix they call for. Written out (the pair family from the failures
# tls.X509KeyPair can report, gomodel/keypair.py), so that the table is built by dict keys, not by
# matching prefixes at lookup time.
PAIR_IDS = (*(f"pair.{failure.value}" for failure in PairFailure), "pair.file-missing", "pair.file-empty")
BUNDLE_IDS = ("bundle.empty-pool", "bundle.file-empty", "bundle.file-missing", "bundle.unparseable")
# A leaf whose dates are wrong (validity.py also passes "validity.expired" for a not-yet-valid one).
TIME_IDS = ("validity.expired", "validity.expiring", "validity.not-yet-valid")
NAMES_IDS = ("names.missing", "names.advised-missing")
SIGNING_KEY_IDS = ("key.unparseable", "keys.unparseable", "service-account.key-mismatch")


def rows(ids: Iterable[str], distribution: Distribution, procedure: Procedure) -> dict[Row, Procedure]:
    """One table line per id: the same procedure for ``distribution``."""
    return {(finding_id, distribution): procedure for finding_id in ids}


@dataclass(frozen=True)
class Files:
    """Where a load's files are, as the component sees them."""

    cert: str | None
    key: str | None
    ca: str | None

    @property
    def any(self) -> str | None:
        return self.cert or self.key or self.ca


def files_of(load: Load) -> Files:
    """The one place the procedures read a load's paths. A kubeconfig's "cert" is the kubeconfig itself (the
    procedures regenerate or edit that file), its key and CA the files it names, if any."""
    match load.payload:
        case PairPayload(cert_path=cert, key_path=key):
            return Files(cert, key, None)
        case KubeconfigPayload(path=path, key_file=key, ca_file=ca):
            return Files(path, key, ca)
        case BundlePayload(path=path):
            return Files(None, None, path)
        case PrivateKeyPayload(path=path):
            return Files(None, path, None)
        case PublicKeysPayload(paths=paths):
            return Files(None, ", ".join(paths), None)


def is_kubelet_client(load: Load) -> bool:
    return load.component == "kubelet" and load.role in ("kubelet-kubeconfig", "kubelet-client")


def is_kubelet_serving(load: Load) -> bool:
    return load.role == "kubelet-serving"


def secret_dir(load: Load) -> str:
    """The directory a file-backed secret sits in (OpenShift names it after the secret), or ""."""
    return posixpath.basename(posixpath.dirname(files_of(load).any or ""))


def no_known_procedure(load: Load, finding_id: str, distribution: str) -> tuple[str, ...]:
    """The deliberate fallback: say what to check rather than invent a command."""
    what = files_of(load).any or load.label
    return (
        f"kforensic knows no tested procedure for {finding_id} on {distribution}: find which tool issued {what} "
        "(its issuer and the files beside it say which), re-issue or restore it with that tool, "
        f"then restart {load.component} so that it reads it again",
    )
