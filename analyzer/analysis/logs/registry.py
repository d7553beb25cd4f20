"""Every log check, in one explicit list, and the function that runs them (``correlate_logs``).

This registry sits in ``analysis``, not beside the others in ``checks/registry.py``: a log line is
tied to what explains it through the certificate inventory (``analysis/inventory.py``, built from
the wiring after the checks' room), and imports only point down. Each check takes the same four
things and uses what it needs.
"""

from __future__ import annotations

from collections.abc import Callable

from analyzer.analysis.inventory import InventoryEntry
from analyzer.analysis.logs.served import served_differs
from analyzer.analysis.logs.startup import start_failures
from analyzer.analysis.logs.verification import etcd_client_errors, expiry_errors, unknown_authority_errors
from analyzer.checks.context import CheckContext
from analyzer.gomodel.klog import LogEvent
from analyzer.model.findings import Finding
from analyzer.wiring.model import Wiring

LogCheck = Callable[[list[LogEvent], Wiring, list[InventoryEntry], CheckContext], list[Finding]]


def check_start_failures(events: list[LogEvent], wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    return start_failures(events, wiring, ctx)


def check_etcd_client_errors(events: list[LogEvent], wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    return etcd_client_errors(events, wiring)


def check_served_certificates(events: list[LogEvent], wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    return served_differs(events, wiring)


def check_expiry_errors(events: list[LogEvent], wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    return expiry_errors(events, inventory)


def check_unknown_authority(events: list[LogEvent], wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    return unknown_authority_errors(events)


LOG_CHECKS: tuple[LogCheck, ...] = (
    check_start_failures,
    check_etcd_client_errors,
    check_served_certificates,
    check_expiry_errors,
    check_unknown_authority,
)


def correlate_logs(events: list[LogEvent], wiring: Wiring, inventory: list[InventoryEntry], ctx: CheckContext) -> list[Finding]:
    """Every log check's findings, in registry order; none without log lines."""
    if not events:
        return []
    return [found for check in LOG_CHECKS for found in check(events, wiring, inventory, ctx)]
