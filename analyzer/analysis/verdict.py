"""The verdict: per component, will it start and whom will it fail to reach; and one sentence.

Load order is the truth (architecture principle 1): the first load that stops a component is
why it does not start, and the first component in the control plane's own dependency order
(kube-apiserver, etcd, …) that does not start is the headline.
"""

from __future__ import annotations

from datetime import datetime

from analyzer.checks.history import describe_change
from analyzer.model.findings import ComponentVerdict, Finding, Severity, Verdict, component_rank
from analyzer.wiring.model import BundlePayload, Copy, KubeconfigPayload, Load, Wiring
from analyzer.reftime import format_utc


def _origin(load: Load | None) -> str:
    """Where the failing bytes came from and when they changed: the user's source, else the synced object."""
    if load is None:
        return ""
    for wanted in (Copy.USER_SOURCE, Copy.SYNCED_FROM, Copy.REVISIONED):
        for copy in load.copies:
            if copy.copy is not wanted:
                continue
            for material in (copy.key, copy.cert):
                sentence = describe_change(material) if material is not None else None
                if sentence:
                    prefix = "its source " if wanted is Copy.USER_SOURCE else "it is synced from "
                    return prefix + sentence
    parts = dict(load.materials())
    for material in (parts.get("key"), parts.get("certificate")):
        sentence = describe_change(material) if material is not None else None
        if sentence:
            return sentence
    return ""


def _pair_paths(finding: Finding, load: Load | None) -> str:
    if load is not None and isinstance(load.payload, BundlePayload):
        return f" (file {load.payload.path})"
    paths = [f"cert {finding.subject.cert}" if finding.subject.cert else "", f"key {finding.subject.key}" if finding.subject.key else ""]
    shown = ", ".join(p for p in paths if p)
    return f" ({shown})" if shown else ""


def headline_for(finding: Finding, wiring: Wiring) -> str:
    where = f" on {finding.subject.node}" if finding.subject.node else ""
    problem = finding.problem or finding.title
    go = f" — Go reports `{finding.go_error}`" if finding.go_error else ""
    load = wiring.loads_by_ref().get(finding.load) if finding.load is not None else None
    origin = _origin(load)
    origin = f"; {origin}" if origin else ""
    if finding.blocks_start:
        return f"{finding.component}{where} cannot start: {finding.label}{_pair_paths(finding, load)}: {problem}{go}{origin}"
    if finding.peer:
        return f"{finding.component}{where} starts but cannot talk to {finding.peer}: {finding.title}{go}{origin}"
    return f"{finding.component}{where}: {finding.title}{go}{origin}"


def build_verdict(wiring: Wiring, findings: list[Finding], reference_utc: datetime,
                  next_expiry: dict[str, object] | None) -> Verdict:
    components = []
    for component in sorted(wiring.components, key=lambda c: (component_rank(c.name), c.node or "", c.name)):
        mine = [f for f in findings if f.component == component.name and f.subject.node == component.node]
        blocking = min((f for f in mine if f.blocks_start), key=lambda f: f.order, default=None)
        unseen = {f.order for f in mine if f.id.startswith("evidence.")}
        # Unknown when a load that would stop it cannot be read, or when nothing it loads can be.
        undecided = any(l.fatal and l.order in unseen for l in component.loads) or (
            bool(component.loads) and all(l.order in unseen for l in component.loads))
        starts = False if blocking else (None if undecided else True)
        failing = [f for f in mine if f.severity.failing and not f.blocks_start]
        reach = tuple(sorted({f.peer for f in failing if f.peer}))
        # Kubeconfigs people use are not processes: they do not "start", their kubectl fails or works.
        person = all(isinstance(load.payload, KubeconfigPayload) for load in component.loads)
        starts_word = "in use" if person else "starts"
        # The table says what the findings say (checks/severity.py): an error-level finding never sits
        # beside "every connection checked is accepted".
        if blocking:
            summary = f"does not start: {blocking.label}: {blocking.problem or blocking.title}"
        elif starts is None:
            summary = "cannot tell whether it starts: some of what it loads is not in this evidence"
        elif reach:
            summary = f"{starts_word}, but cannot talk to {', '.join(reach)}"
        elif failing:
            summary = f"{starts_word}, but {failing[0].title}"
        else:
            summary = f"{starts_word} and every connection checked is accepted"
        components.append(ComponentVerdict(component.name, component.node, starts, blocking.id if blocking else None, reach, summary))

    counts = {severity.value: sum(1 for f in findings if f.severity is severity) for severity in Severity}
    blocked = sorted((f for f in findings if f.blocks_start), key=lambda f: (component_rank(f.component), f.subject.node or "", f.order))
    failing = [f for f in findings if f.severity.failing]
    expiry = ""
    if next_expiry:
        expiry = f" The next certificate to expire is {next_expiry['label']} on {next_expiry['not_after']}."
    lead = blocked[0] if blocked else failing[0] if failing else None
    if blocked:
        status, headline = "broken", headline_for(blocked[0], wiring)
    elif failing:
        status, headline = ("broken" if failing[0].severity is Severity.CRITICAL else "degraded"), headline_for(failing[0], wiring)
    elif not wiring.components:
        status = "unknown"
        headline = "No control-plane component could be wired from this evidence: " + ("; ".join(wiring.notes) or "nothing recognised") + "."
    elif undetermined := [c for c in components if c.starts is None]:
        # Nothing failing is not the same as nothing wrong: say what could not be judged.
        names = ", ".join(f"{c.component}{' on ' + c.node if c.node else ''}" for c in undetermined)
        status = "unknown" if len(undetermined) == len(components) else "at-risk"
        headline = (
            f"Nothing failing was found at {format_utc(reference_utc)}, but this evidence cannot show whether {names} "
            f"start{'s' if len(undetermined) == 1 else ''}: what they load is scrubbed, encrypted without a key, or not included."
            f"{expiry}"
        )
    elif counts["warning"]:
        status = "at-risk"
        headline = f"No component is blocked at {format_utc(reference_utc)}; {counts['warning']} warning(s) need attention.{expiry}"
    else:
        status = "healthy"
        headline = f"No certificate problem found at {format_utc(reference_utc)}: every pair checked loads, is valid and is trusted by its peers.{expiry}"
    return Verdict(status, headline, tuple(components), next_expiry, counts, lead)
