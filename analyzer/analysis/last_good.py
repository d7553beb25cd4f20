"""The last good material: the newest surviving revision of a secret whose certificate and key
form a pair the component would load.

"Would load" is Go's ``tls.X509KeyPair`` (gomodel.keypair), the same rule every pair check uses.
Among the revisions that load, one whose certificate is valid at the reference time wins; when
none is, the newest that loads is chosen and that is said. History older than the last
compaction is gone: when only broken revisions survive, that is said plainly, never guessed.

Values are held in memory only as long as the caller needs them; nothing here renders them.
"""

from __future__ import annotations

from dataclasses import field, replace
from datetime import datetime
from typing import Any

from analyzer.decode.objects import secret_data
from analyzer.decode.values import decode_value
from analyzer.errors import DecodeError, KforensicError, UsageError
from analyzer.gomodel.clientgo import common_name, key_pair, sha256_fingerprint
from analyzer.gomodel.keys import public_key_sha256
from analyzer.model.findings import Finding
from analyzer.records import datarecord
from analyzer.reftime import format_utc
from analyzer.wiring.model import Wiring
from analyzer.wiring.sources import EtcdObjects, last_writer

TARGET = "openshift-kube-apiserver"


@datarecord
class PairRevision:
    """One surviving revision of the secret, judged as a pair."""

    revision: int
    manager: str | None
    time_utc: datetime | None
    data: dict[str, bytes] = field(repr=False)  # every data key of the secret at this revision
    loads: bool = False
    error: str | None = None  # Go's error when it does not load
    cert_sha256: str | None = None
    public_key_sha256: str | None = None
    subject: str | None = None
    not_before_utc: datetime | None = None
    not_after_utc: datetime | None = None

    def valid_at(self, moment: datetime) -> bool:
        return self.loads and self.not_before_utc is not None and self.not_after_utc is not None and self.not_before_utc <= moment <= self.not_after_utc

    def describe(self) -> str:
        when = format_utc(self.time_utc) if self.time_utc else "an unknown time"
        return f"revision {self.revision}, written {when} by {self.manager or 'an unknown manager'}"


@datarecord
class LastGood:
    namespace: str
    name: str
    etcd_key: str
    cert_key: str
    key_key: str
    revisions: tuple[PairRevision, ...]  # oldest first
    chosen: PairRevision | None
    valid_at_reference: bool
    history_complete: bool
    compacted_at: int | None

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def current(self) -> PairRevision | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def restores_something(self) -> bool:
        """Whether the chosen revision is not what the secret holds now (it would change something)."""
        return self.chosen is not None and self.current is not None and self.chosen.data != self.current.data

    def compaction_sentence(self) -> str:
        if self.history_complete:
            return "every revision since the secret was created survives in this snapshot"
        if self.compacted_at:
            return f"no earlier revision survives compaction at revision {self.compacted_at}"
        return "older revisions of this secret are not in this snapshot"


def resolve_secret(objects: EtcdObjects, target: str) -> tuple[str, str]:
    """``namespace/name``, or a pair's label from the report (``user-serving-cert-000``, or the whole
    ``SNI pair 6 of 6, user-serving-cert-000``): the secret kube-apiserver's files are synced from."""
    text = target.strip().rsplit(", ", 1)[-1].strip()
    if "/" in text:
        namespace, name = text.split("/", 1)
        if objects.find("secrets", namespace, name) is None and not objects.index.history.get(objects.key_for("secrets", namespace, name).encode()):
            raise UsageError(f"{objects.source}: no secret {namespace}/{name} in this snapshot")
        return namespace, name
    if objects.find("secrets", TARGET, text) is not None:
        return TARGET, text
    matches = sorted({stored.ref for stored in objects.iter_objects("secrets") if stored.name == text})
    if len(matches) == 1:
        namespace, name = matches[0].split("/", 1)
        return namespace, name
    if not matches:
        raise UsageError(f"{objects.source}: no secret named {text!r} in this snapshot; give NAMESPACE/SECRET")
    raise UsageError(f"{objects.source}: several secrets are named {text!r} ({', '.join(matches)}); give NAMESPACE/SECRET")


def _pair_keys(data: dict[str, bytes]) -> tuple[str, str]:
    if "tls.crt" in data or "tls.key" in data:
        return "tls.crt", "tls.key"
    for name in sorted(data):
        if name.endswith(".crt") and name[:-4] + ".key" in data:
            return name, name[:-4] + ".key"
    return "tls.crt", "tls.key"


def _judge(revision: int, obj: dict[str, Any], cert_key: str, key_key: str) -> PairRevision:
    manager, time_utc = last_writer(obj)
    try:
        data = dict(secret_data(obj))
    except DecodeError as err:
        return PairRevision(revision, manager, time_utc if isinstance(time_utc, datetime) else None, {}, error=str(err))
    when = time_utc if isinstance(time_utc, datetime) else None
    cert, key = data.get(cert_key), data.get(key_key)
    if cert is None or key is None:
        missing = cert_key if cert is None else key_key
        return PairRevision(revision, manager, when, data, error=f"no {missing}")
    result = key_pair(cert, key)
    if not result.ok or result.leaf is None:
        return PairRevision(revision, manager, when, data, error=result.go_error or result.detail or "does not load")
    leaf = result.leaf
    return PairRevision(
        revision, manager, when, data, loads=True, cert_sha256=sha256_fingerprint(leaf),
        public_key_sha256=public_key_sha256(leaf.public_key()), subject=f"CN={common_name(leaf)}",
        not_before_utc=leaf.not_valid_before_utc, not_after_utc=leaf.not_valid_after_utc,
    )


def find_last_good(objects: EtcdObjects, namespace: str, name: str, reference_utc: datetime) -> LastGood:
    key = objects.key_for("secrets", namespace, name)
    packed = list(objects.index.history.get(key.encode()) or [])
    live = objects.index.live.get(key.encode())
    if not packed and live is not None:
        packed = [live]  # a namespace whose history is not indexed: only the live revision
    records = list(objects.snapshot.iter_read(sorted(set(packed))))
    decoded: list[tuple[int, dict[str, Any]]] = []
    first_create = None
    for record in records:
        if record.deleted:
            decoded = []  # a delete ends what came before: an earlier object is another secret
            first_create = None
            continue
        value = decode_value(record.value, etcd_key=record.key, mod_revision=record.mod_revision, encryption=objects.encryption)
        if value.object is None:
            if value.encrypted_without_key:
                raise UsageError(f"{objects.source}: {namespace}/{name} is encrypted at rest; give --encryption-config")
            continue
        first_create = first_create or record.create_revision
        decoded.append((record.mod_revision, value.object))
    if not decoded:
        raise UsageError(f"{objects.source}: no readable revision of secret {namespace}/{name}")
    cert_key, key_key = _pair_keys(dict(secret_data(decoded[-1][1])) if decoded else {})
    revisions = tuple(_judge(revision, obj, cert_key, key_key) for revision, obj in decoded)
    loading = [r for r in revisions if r.loads]
    valid = [r for r in loading if r.valid_at(reference_utc)]
    candidates = valid or loading
    chosen = candidates[-1] if candidates else None
    compaction = objects.snapshot.compaction.finished or 0
    complete = first_create is not None and first_create > compaction
    return LastGood(namespace, name, key, cert_key, key_key, revisions, chosen, bool(valid), complete, compaction or None)


def recover_hints(findings: list[Finding], wiring: Wiring, objects: EtcdObjects, at: datetime) -> tuple[list[Finding], dict[str, int]]:
    """A broken pair whose last working version survives in the snapshot: say so, and how to get it.

    Also returns the revision of each last working pair found ("namespace/secret" -> revision),
    which the report's history marks."""
    loads = wiring.loads_by_ref()
    found: dict[str, LastGood | None] = {}
    result = []
    for item in findings:
        load = loads.get(item.load) if item.load is not None else None
        if load is None or not load.object or not item.id.startswith("pair.") or not item.severity.failing:
            result.append(item)
            continue
        if load.object not in found:
            namespace, name = load.object.split("/", 1)
            try:
                found[load.object] = find_last_good(objects, namespace, name, at)
            except KforensicError:
                found[load.object] = None
        last = found[load.object]
        if last is None or last.chosen is None or not last.restores_something:
            result.append(item)
            continue
        step = (f"The last working pair is in the evidence ({last.ref} {last.chosen.describe()}); write it out with: "
                f"kforensic recover {objects.source} {last.ref} --out ./recovered-{last.name}")
        detail = f"{item.recovery_detail}; the last working pair survives in the snapshot at revision {last.chosen.revision}" if item.recovery_detail else None
        result.append(replace(item, remediation=(step, *item.remediation), recovery_detail=detail or item.recovery_detail))
    good = {ref: last.chosen.revision for ref, last in found.items() if last is not None and last.chosen is not None}
    return result, good
