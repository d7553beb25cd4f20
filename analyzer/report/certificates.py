"""``kforensic certs``: every certificate of the inventory, the way ``kubeadm certs
check-expiration`` lists a node's, evaluated at the reference time and sorted by expiry.

The rows are built from the inventory (one entry per fingerprint, with every place it was found and
every load that uses it): leaf pairs, CAs and trust bundles, kubelet client and serving
certificates, kubeconfig-embedded ones and their copies in etcd. Public material only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from analyzer.analysis.inventory import InventoryEntry
from analyzer.gomodel.clientgo import common_name
from analyzer.records import datarecord
from analyzer.reftime import format_utc
from analyzer.report.console import Table, Text

# Go would refuse these at the reference time (crypto/x509: "certificate has expired or is not yet valid").
REFUSED_STATES = frozenset({"expired", "not-yet-valid"})
_STATUS_STYLE = {"valid": "green", "expiring": "yellow", "expired": "bold red", "not-yet-valid": "bold red"}
_TABLE_LIST = 1  # places and loads shown per row in the table; -o wide shows them all


@datarecord
class CertificateRow:
    name: str
    where: tuple[str, ...]
    subject: str
    issuer: str
    not_before_utc: datetime
    not_after_utc: datetime
    residual: timedelta  # not_after - reference time; negative once expired
    status: str  # valid | expiring | expired | not-yet-valid
    loaded_by: tuple[str, ...]
    is_ca: bool
    fingerprint: str

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "where": list(self.where),
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": format_utc(self.not_before_utc),
            "not_after": format_utc(self.not_after_utc),
            "residual_seconds": int(self.residual.total_seconds()),
            "residual": residual_text(self.residual),
            "status": self.status,
            "loaded_by": list(self.loaded_by),
            "is_ca": self.is_ca,
            "fingerprint_sha256": self.fingerprint,
        }


def short_duration(delta: timedelta) -> str:
    """Kubernetes' ShortHumanDuration (k8s.io/apimachinery/pkg/util/duration/duration.go), which
    kubeadm prints as RESIDUAL TIME: seconds, minutes, hours, days, then years."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    if seconds < 86400 * 365:
        return f"{seconds // 86400}d"
    return f"{seconds // (86400 * 365)}y"


def residual_text(residual: timedelta) -> str:
    # kubeadm prints "<invalid>" for an expired certificate; how long ago is more use in a case.
    return short_duration(residual) if residual >= timedelta(0) else f"expired {short_duration(-residual)} ago"


def certificate_rows(inventory: Sequence[InventoryEntry], reference_utc: datetime) -> list[CertificateRow]:
    rows = []
    for entry in inventory:
        cert = entry.certificate
        described = entry.to_json()
        rows.append(
            CertificateRow(
                name=common_name(cert) or cert.subject.rfc4514_string() or entry.fingerprint[:16],
                where=tuple(sorted(entry.locations)),
                subject=cert.subject.rfc4514_string(),
                issuer=cert.issuer.rfc4514_string(),
                not_before_utc=cert.not_valid_before_utc,
                not_after_utc=cert.not_valid_after_utc,
                residual=cert.not_valid_after_utc - reference_utc,
                status=entry.state,
                loaded_by=tuple(sorted(entry.used_by)),
                is_ca=bool(described["is_ca"]),
                fingerprint=entry.fingerprint,
            )
        )
    return sorted(rows, key=lambda r: (r.not_after_utc, r.name, r.fingerprint))


def certificates_json(rows: Sequence[CertificateRow], reference_utc: datetime) -> dict[str, object]:
    return {"reference_time": format_utc(reference_utc), "certificates": [row.to_json() for row in rows]}


def _listed(items: Sequence[str], shown: int | None) -> str:
    if shown is None or len(items) <= shown:
        return "\n".join(items)
    return "\n".join([*items[:shown], f"(+{len(items) - shown} more)"])


def certificates_table(rows: Sequence[CertificateRow], *, wide: bool = False) -> Table:
    """The table: the certificate by its subject (the name is its CN), issuer, validity, residual
    time, status, the first place it lies and the first load that uses it; ``wide`` lists every
    place and load, and adds the CA flag and the fingerprint."""
    table = Table()
    columns = ["CERTIFICATE", "ISSUER", "NOT BEFORE", "NOT AFTER", "RESIDUAL", "STATUS", "WHERE", "LOADED BY"]
    if wide:
        columns += ["CA", "SHA-256"]
    for column in columns:
        table.add_column(column, no_wrap=column in ("NOT BEFORE", "NOT AFTER", "RESIDUAL", "STATUS"))
    shown = None if wide else _TABLE_LIST
    for row in rows:
        cells: list[str | Text] = [
            row.subject or row.name,
            row.issuer,
            format_utc(row.not_before_utc),
            format_utc(row.not_after_utc),
            residual_text(row.residual),
            Text(row.status, style=_STATUS_STYLE.get(row.status, "")),
            _listed(row.where, shown),
            _listed(row.loaded_by, shown) or "(no load wired)",
        ]
        if wide:
            cells += ["yes" if row.is_ca else "no", row.fingerprint]
        table.add_row(*cells)
    return table
