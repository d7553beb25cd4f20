"""Every log check, in one explicit list, and the function that runs them (``correlate_logs``).

This registry sits in ``analysis``, not beside the others in ``checks/registry.py``: a log line is
tied to what explains it through the certificate inventory (``analysis/inventory.py``, built from
the wiring after the checks' room), and imports only point down. Each check takes the same four
things (the log lines, read once; the wiring; the inventory; the context) and uses what it needs.
"""

from __future__ import annotations

from collections.abc import Callable

from analyzer.analysis.inventory import InventoryEntry
from analyzer.analysis.logs.served import LogLines, loaded_certificates, served_differs
from analyzer.analysis.logs.startup import start_failures
from analyzer.analysis.logs.verification import etcd_client_errors, expiry_errors, unknown_authority_errors
from analyzer.checks.context import CheckContext
from analyzer.gomodel.klog import LogEvent
from analyzer.model.findings import Finding
from analyzer.wiring.model import Wiring

LogCheck = Callable[[LogLines, Wiring, list[InventoryEntry], CheckContext], list[Finding]]

LOG_CHECKS: tuple[LogCheck, ...] = (
    start_failures,
    etcd_client_errors,
    served_differs,
    expiry_errors,
    unknown_authority_errors,
)


def correlate_logs(events: list[LogEvent], wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    """Every log check's findings, in registry order; none without log lines."""
    if not events:
        return []
    logs = LogLines(events, loaded_certificates(events))
    return [found for check in LOG_CHECKS for found in check(logs, wiring, inventory, ctx)]
