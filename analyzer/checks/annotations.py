"""Do OpenShift's rotation annotations on a secret agree with the certificate in it?

library-go's certrotation decides whether to re-issue a signer or a target pair from the secret's
``auth.openshift.io/certificate-not-before`` / ``-not-after`` annotations, never from the
certificate: ``getValidityFromAnnotations`` feeds ``needNewSigningCertKeyPair`` (signer.go) and
``needNewTargetCertKeyPairForTime`` (target.go), which rotate when the annotation is missing or
malformed, when now is after the annotated not-after ("already expired"), or past 80 % of the
annotated validity; in refresh-only-when-expired mode (the cert-regeneration controller) only the
first two. A secret whose annotation claims a later end than its certificate's is therefore left
alone while the certificate runs out (openshift/library-go pkg/operator/certrotation, read at
93ac9206).
"""

from __future__ import annotations

from datetime import datetime

from analyzer.checks.context import CheckContext, finding
from analyzer.gomodel.clientgo import bundle, common_name, sha256_fingerprint
from analyzer.model.findings import Finding, Severity
from analyzer.records import datarecord
from analyzer.reftime import find_iso_time, format_utc
from analyzer.wiring.model import Load, Material, State

NOT_BEFORE = "auth.openshift.io/certificate-not-before"
NOT_AFTER = "auth.openshift.io/certificate-not-after"


ISSUER = "auth.openshift.io/certificate-issuer"
HOSTNAMES = "auth.openshift.io/certificate-hostnames"
# openshift/api annotations/annotations.go: OpenShiftComponent (the Jira component that owns the
# object) and OpenShiftDescription; library-go's certrotation writes both on the secrets and config
# maps it manages (pkg/operator/certrotation: AdditionalAnnotations.EnsureTLSMetadataUpdate), and
# oc adm inspect keeps every annotation when it elides a secret's values (inspect/secret.go).
OWNING_COMPONENT = "openshift.io/owning-component"
DESCRIPTION = "openshift.io/description"


def ownership(material: Material | None) -> str | None:
    """What the object's annotations say about the certificate and who owns it, in one sentence;
    None when it carries none of them. The words are the operator's, quoted, not checked."""
    if material is None or not material.annotations:
        return None
    annotations = dict(material.annotations)
    parts = []
    if annotations.get(OWNING_COMPONENT):
        parts.append(f"owned by {annotations[OWNING_COMPONENT]!r} ({OWNING_COMPONENT})")
    if annotations.get(DESCRIPTION):
        parts.append(f"described as {annotations[DESCRIPTION]!r}")
    if annotations.get(ISSUER):
        parts.append(f"issued by {annotations[ISSUER]!r} ({ISSUER})")
    if annotations.get(NOT_AFTER):
        parts.append(f"annotated valid until {annotations[NOT_AFTER]}")
    if annotations.get(HOSTNAMES):
        parts.append(f"for {annotations[HOSTNAMES]}")
    if not parts:
        return None
    where = material.location.object or "its object"
    return f"{where}'s annotations: " + ", ".join(parts) + "."


@datarecord
class RotationAnnotations:
    """What the operator reads: the annotated validity, or why it would re-issue at once."""

    not_before_utc: datetime | None
    not_after_utc: datetime | None
    problem: str | None  # "missing notAfter", "bad expiry: ..." as getValidityFromAnnotations says it


def _parse(text: str) -> datetime | None:
    # Go's time.Parse(time.RFC3339, ...): an offset is required; fromisoformat is looser, so insist on one.
    moment = find_iso_time(text)
    return moment if moment is not None and moment.tzinfo is not None else None


def rotation_annotations(material: Material) -> RotationAnnotations | None:
    """The rotation annotations of the secret a material was read from; None when it carries neither."""
    annotations = dict(material.annotations)
    if NOT_AFTER not in annotations and NOT_BEFORE not in annotations:
        return None
    after_text, before_text = annotations.get(NOT_AFTER, ""), annotations.get(NOT_BEFORE, "")
    if not after_text:
        return RotationAnnotations(None, None, "missing notAfter")
    not_after = _parse(after_text)
    if not_after is None:
        return RotationAnnotations(None, None, f"bad expiry: {after_text!r}")
    if not before_text:
        return RotationAnnotations(None, not_after, "missing notBefore")
    not_before = _parse(before_text)
    if not_before is None:
        return RotationAnnotations(None, not_after, f"bad expiry: {before_text!r}")
    return RotationAnnotations(not_before, not_after, None)


def _annotated_materials(load: Load) -> list[Material]:
    """The etcd copies of a load's certificate (the operator's secret and its synced or revisioned copies)."""
    found: dict[str, Material] = {}
    for material in (load.certificate, *(copy.cert for copy in load.copies)):
        if material is None or material.state is not State.PRESENT or not material.annotations:
            continue
        found.setdefault(material.location.object or material.location.describe(), material)
    return list(found.values())


def check_rotation_annotations(load: Load, ctx: CheckContext) -> list[Finding]:
    found = []
    for material in _annotated_materials(load):
        annotated = rotation_annotations(material)
        certificates, _error = bundle(material.data)
        if annotated is None or annotated.problem is not None or not certificates:
            continue  # a missing or malformed annotation makes the operator re-issue: nothing will be missed
        leaf = certificates[0]
        actual_after, actual_before = leaf.not_valid_after_utc, leaf.not_valid_before_utc
        claimed_after = annotated.not_after_utc
        assert claimed_after is not None and annotated.not_before_utc is not None
        if int(claimed_after.timestamp()) == int(actual_after.timestamp()) and int(annotated.not_before_utc.timestamp()) == int(actual_before.timestamp()):
            continue
        secret = material.location.object
        late = claimed_after > actual_after
        if late:
            expired = ctx.reference_utc > actual_after
            consequence = (
                f"The operator believes it is valid until {format_utc(claimed_after)} and will not rotate it before then; "
                f"the certificate {'expired' if expired else 'expires'} at {format_utc(actual_after)}"
                + (", and stays expired until the annotated time passes or the secret is re-issued." if expired else
                   " and will be served expired until the annotated time passes.")
            )
        else:
            consequence = ("The annotations end earlier than the certificate: the operator rotates it early, which is harmless.")
        found.append(finding(
            load, "annotations.drift", Severity.WARNING if late else Severity.INFO,
            f"{load.label}: {secret}'s rotation annotations disagree with its certificate",
            f"{secret} is annotated {NOT_BEFORE}={format_utc(annotated.not_before_utc)}, {NOT_AFTER}={format_utc(claimed_after)}, "
            f"but its certificate (CN={common_name(leaf)}) is valid {format_utc(actual_before)} to {format_utc(actual_after)}. "
            "library-go's certrotation decides from the annotations, not the certificate. " + consequence,
            material=material, fingerprint=sha256_fingerprint(leaf),
            evidence=(f"{material.location.describe()}",),
            remediation=(_reissue(secret),) if late else (),
        ))
    return found


def _reissue(secret: str | None) -> str:
    namespace, name = secret.split("/", 1) if secret and "/" in secret else ("<namespace>", "<name>")
    return (f"Have the operator re-issue it: oc -n {namespace} delete secret {name} (certrotation creates a missing "
            "secret at once), or set the annotations to the certificate's real dates")
