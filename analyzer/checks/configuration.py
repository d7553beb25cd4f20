"""Configuration a component refuses before it loads any certificate: a flag value that does not
parse makes the process exit during flag parsing, which is before everything in its load order."""

from __future__ import annotations

from analyzer.checks import severity
from analyzer.checks.context import CheckContext
from analyzer.model.findings import Finding, LoadKey, Subject
from analyzer.wiring.model import Wiring
from analyzer.model.vocabulary import Role


def check_flags(wiring: Wiring, ctx: CheckContext) -> list[Finding]:
    found = []
    for component in wiring.components:
        for error in component.flag_errors:
            # Not a load: the command line, placed before every load (order 0).
            label = "command-line flags"
            found.append(Finding(
                "configuration.flag-invalid", severity.component_stops(), component.name, Role.FLAGS,
                f"{component.name} cannot start: a flag value does not parse",
                f"{component.label} is configured by {component.configured_by}; {error}. The process exits while it reads "
                "its flags, before it loads any certificate.",
                Subject(node=component.node), go_error=error, blocks_start=True, problem=error, label=label,
                load=LoadKey(component.name, component.node, 0, label),
                remediation=("Correct the flag value (for --tls-sni-cert-key: cert.crt,key.key[:name1,name2]); on OpenShift it is "
                             "built from servingInfo.namedCertificates and apiServerArguments in config.yaml",),
            ))
    return found
