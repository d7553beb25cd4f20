"""What a path's name tells (a hint, never the proof): cluster-backup stamps and dirty flags, and which members of a compressed tar are worth holding."""


from __future__ import annotations

import re
from datetime import UTC, datetime


MAX_LOOSE_DEPTH = 3  # loose files (logs, configs, archives) are looked for this deep in a case


BACKUP_NAME = re.compile(
    r"^(snapshot|static_kuberesources)_(?P<stamp>\d{4}-\d\d-\d\d_\d{6})(?P<dirty>__POSSIBLY_DIRTY__)?\.(db|tar\.gz)$"
)


_HOLD_HINTS = ("kube", "etcd", "kubelet", "openshift", "static-pod", "pki", "ssl", "apiserver", "manifests",
               "hostname", "encryption", "backup", "snapshot")  # fmt: skip
_HOLD_SUFFIXES = (".yaml", ".yml", ".json", ".conf", ".pem", ".crt", ".key", ".pub", ".log", ".db", ".txt",
                  ".env", ".kubeconfig", ".tar", ".gz", ".tgz", ".xz", ".zip")  # fmt: skip


def worth_holding(path: str) -> bool:
    """Which members of a compressed tar are held in memory (a listing of the rest is kept)."""
    lowered = path.lower()
    if "/" not in path or any(hint in lowered for hint in _HOLD_HINTS):
        return True
    return lowered.endswith(_HOLD_SUFFIXES) and path.count("/") <= MAX_LOOSE_DEPTH


def backup_name(path: str) -> tuple[str | None, bool]:
    match = BACKUP_NAME.match(path.rpartition("/")[2])
    if match is None:
        return None, "__POSSIBLY_DIRTY__" in path
    return match["stamp"], match["dirty"] is not None


def stamp_utc(stamp: str | None) -> datetime | None:
    if stamp is None:
        return None
    try:
        return datetime.strptime(stamp, "%Y-%m-%d_%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


COMPRESSION_SUFFIX = re.compile(r"\.(gz|xz|bz2|zst)$")
