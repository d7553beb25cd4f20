"""What every distribution's rows share: the procedure type, the finding ids grouped by what fixes
them, and the questions a procedure asks about its load."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable

from analyzer.gomodel.keypair import PairFailure
from analyzer.model.vocabulary import Component, Distribution, Role
from analyzer.wiring.model import Load, load_files

Procedure = Callable[[Load], tuple[str, ...]]
Row = tuple[str, Distribution]

# The ids, grouped by the kind of fix they call for. Written out (the pair family from the failures
# tls.X509KeyPair can report, gomodel/keypair.py), so that the table is built by dict keys, not by
# matching prefixes at lookup time.
# "pair.from-log": kube-apiserver's log says a pair (or bundle) failed to load and the files cannot
# show it (a sosreport scrubbed the key): the same repair as when the files show it
# (analysis/logs/startup.py).
PAIR_IDS = (*(f"pair.{failure.value}" for failure in PairFailure), "pair.file-missing", "pair.file-empty", "pair.from-log")
BUNDLE_IDS = ("bundle.empty-pool", "bundle.file-empty", "bundle.file-missing", "bundle.unparseable")
# A leaf whose dates are wrong (validity.py also passes "validity.expired" for a not-yet-valid one).
TIME_IDS = ("validity.expired", "validity.expiring", "validity.not-yet-valid")
NAMES_IDS = ("names.missing", "names.advised-missing")
SIGNING_KEY_IDS = ("key.unparseable", "keys.unparseable", "service-account.key-mismatch")


def rows(ids: Iterable[str], distribution: Distribution, procedure: Procedure) -> dict[Row, Procedure]:
    """One table line per id: the same procedure for ``distribution``."""
    return {(finding_id, distribution): procedure for finding_id in ids}


def is_kubelet_client(load: Load) -> bool:
    return load.component == Component.KUBELET and load.role in (Role.KUBELET_KUBECONFIG, Role.KUBELET_CLIENT)


def is_kubelet_serving(load: Load) -> bool:
    return load.role == Role.KUBELET_SERVING


def secret_dir(load: Load) -> str:
    """The directory a file-backed secret sits in (OpenShift names it after the secret), or ""."""
    return posixpath.basename(posixpath.dirname(load_files(load).any or ""))


def no_known_procedure(load: Load, finding_id: str, distribution: Distribution) -> tuple[str, ...]:
    """The deliberate fallback: say what to check rather than invent a command."""
    what = load_files(load).any or load.label
    return (
        f"kforensic knows no tested procedure for {finding_id} on {distribution}: find which tool issued {what} "
        "(its issuer and the files beside it say which), re-issue or restore it with that tool, "
        f"then restart {load.component} so that it reads it again",
    )
