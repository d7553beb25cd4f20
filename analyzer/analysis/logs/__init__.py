"""What the logs say, tied to the pair or certificate that explains it.

A component that fails at start-up logs one error and exits (component-base ``cli.Run``:
``"command failed" err="…"``, or a bare ``Error: …`` before logging is set up). Most errors name
what failed: a dynamic pair or bundle by its ``<purpose>::<cert>::<key>`` name, a file by its
``open <path>`` error. One does not: kube-apiserver stops at the first SNI pair that fails with
``failed to load SNI cert and key: <err>``, no path. It logs every pair it loads (``Loaded a new
cert/key pair``, at -v=2, OpenShift's default), so the last pair loaded before the failure names
the failing one: the next in load order (layouts §3.1, §4). Verification errors (``x509:
certificate has expired or is not yet valid: current time … is after <notAfter>``) carry the exact
end of the certificate's validity, which finds the certificate among those in evidence."""


from __future__ import annotations

from analyzer.analysis.logs.registry import LOG_CHECKS, correlate_logs
from analyzer.analysis.logs.served import LoadedCert, LogLines, loaded_certificates
from analyzer.analysis.logs.startup import sni_after, start_error, wiring_gap

__all__ = ["LOG_CHECKS", "LoadedCert", "LogLines", "correlate_logs", "loaded_certificates", "sni_after", "start_error", "wiring_gap"]
