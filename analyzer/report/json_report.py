"""The JSON report: the contract for automation, and what every other format renders from.

It follows ``schemas/report.schema.json``. Identical inputs and reference time give byte-identical
output: every list is sorted, nothing depends on the clock or the machine.
"""

from __future__ import annotations

import json
from typing import Any

from analyzer.model.findings import Finding, Severity, component_rank
from analyzer.analysis.result import ScanResult
from analyzer.wiring.model import KubeconfigPayload, Load, Material, PairPayload, Peer, Wiring, load_files
from analyzer.reftime import format_utc

SCHEMA = "kforensic-report/1"


def load_status(load: Load, findings: list[Finding]) -> str:
    """One word for the load-order table: what the findings say about this load."""
    mine = [f for f in findings if f.load == load.ref]
    if any(f.blocks_start for f in mine):
        return "fails"
    if any(f.severity.failing for f in mine):
        return "refused"
    if any(f.id.startswith("evidence.") for f in mine):
        return "unverifiable"
    if any(f.severity is Severity.WARNING for f in mine):
        return "warning"
    return "ok"


def _material(what: str, material: Material | None) -> dict[str, Any] | None:
    if material is None:
        return None
    return {"what": what, "state": material.state.value, "size": material.size, "location": material.location.describe(),
            "detail": material.detail}


def _configured(load: Load) -> dict[str, Any]:
    """The load's paths and names under the contract's keys: "cert", "key" and "ca" hold what each shape is configured
    with, "names" a pair's SNI or allowed names or the client certificate file a kubeconfig names."""
    files = load_files(load)
    server: str | None = None
    names: tuple[str, ...] = ()
    expected: tuple[str, ...] = ()
    match load.payload:
        case PairPayload() as pair:
            names, expected = pair.sni_names + pair.allowed_names, pair.expected_names
        case KubeconfigPayload() as kubeconfig:
            server, names = kubeconfig.server, (kubeconfig.cert_file,) if kubeconfig.cert_file else ()
    return {"cert": files.cert, "key": files.key, "ca": files.ca, "server": server, "names": list(names), "expected_names": list(expected)}


_PART = {"CA bundle": "ca"}  # the contract's word for it


def _peer(peer: Peer) -> dict[str, Any]:
    """Who verifies the load and with what; every further verifier of the same connection (each etcd
    member kube-apiserver dials) is listed too, only when there is one, so a single peer reads as before."""
    shown: dict[str, Any] = {"name": peer.name, "trusts_with": peer.ca_ref}
    if peer.also:
        shown["also_trusts_with"] = [ref for _material, ref in peer.also]
    return shown


def _load(load: Load, findings: list[Finding]) -> dict[str, Any]:
    parts = [_material(_PART.get(what, what), material) for what, material in load.materials()]
    return {
        "order": load.order,
        "role": load.role,
        "label": load.label,
        "loader": load.loader.value,
        "fatal": load.fatal,
        "flag": load.flag,
        **_configured(load),
        "object": load.object,
        "source_object": load.source_object,
        "peer": _peer(load.peer) if load.peer else None,
        "status": load_status(load, findings),
        "materials": [p for p in parts if p is not None],
    }


def history(wiring: Wiring) -> list[dict[str, Any]]:
    """Every surviving revision of every etcd data key that feeds a load: when, by whom, how big."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for load in wiring.iter_loads():
        for material in load.history_materials():
            if not material.history:
                continue
            location = material.location
            for change in material.history:
                key = (location.object, location.data_key, change.revision)
                rows[key] = {
                    "object": location.object,
                    "data_key": location.data_key,
                    "revision": change.revision,
                    "event": change.event,
                    "time": format_utc(change.time_utc) if change.time_utc else None,
                    "manager": change.manager,
                    "size": change.value_size,
                    "sha256_prefix": change.value_sha256[:16] if change.value_sha256 else None,
                    "history_complete": material.history_complete,
                }
    return [rows[key] for key in sorted(rows, key=lambda k: (k[0] or "", k[1] or "", k[2]))]


def build_report(result: ScanResult) -> dict[str, Any]:
    wiring = result.wiring
    return {
        "schema": SCHEMA,
        "tool": {"name": "kforensic", "version": result.tool_version},
        "reference_time": format_utc(result.reference_utc),
        "warn_days": result.warn_days,
        "distribution": wiring.distribution,
        "partial": result.partial,
        "inputs": [record.to_json() for record in result.inputs],
        "encryption_configs": sorted(result.encryption_sources),
        "verdict": {**result.verdict.to_json(), **(result.deadlines.to_json(result.reference_utc) if result.deadlines else {"safe_shutdown": None, "next_outage": None})},
        "findings": [f.to_json() for f in result.findings],
        "components": [
            {
                "component": c.name,
                "node": c.node,
                "configured_by": c.configured_by,
                "notes": list(c.notes),
                "loads": [_load(load, result.findings) for load in sorted(c.loads, key=lambda l: l.order)],
            }
            for c in sorted(wiring.components, key=lambda c: (c.node or "", component_rank(c.name), c.name))
        ],
        "certificates": [entry.to_json() for entry in result.inventory],
        "history": history(wiring),
        "notes": sorted(wiring.notes),
    }


def render_json(result: ScanResult) -> str:
    return json.dumps(build_report(result), indent=2, ensure_ascii=False) + "\n"
