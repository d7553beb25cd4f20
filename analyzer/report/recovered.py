"""``kforensic recover``: the one output that holds secret material, written only where the user
said, and the words around it (which never hold it).

Files are created with mode 0600 and ``O_EXCL``: nothing existing is overwritten, and every target
is checked before the first byte is written, so a refusal leaves no half-set behind.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from analyzer.analysis.last_good import LastGood
from analyzer.errors import UsageError
from analyzer.model.vocabulary import Distribution
from analyzer.records import datarecord
from analyzer.reftime import format_utc

_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")  # what the API server allows as a Secret data key
RESOURCES = "/etc/kubernetes/static-pod-resources"
# Where each OpenShift operand namespace's secrets land on a master (the installer's copies).
_CERT_DIRS = {
    "openshift-kube-apiserver": "kube-apiserver-certs",
    "openshift-kube-controller-manager": "kube-controller-manager-certs",
    "openshift-kube-scheduler": "kube-scheduler-certs",
    "openshift-etcd": "etcd-certs",
}
_REVISIONED = re.compile(r"^(?P<base>.+)-(?P<revision>[1-9]\d*)$")
# The secrets the installers copy per revision into <operand>-pod-N/secrets/ (layouts §2); any other
# name ending in digits (user-serving-cert-000) is not a revision.
REVISIONED_SECRETS = frozenset({"etcd-client", "localhost-recovery-serving-certkey", "localhost-recovery-client-token",
                                "webhook-authenticator", "encryption-config", "service-account-private-key", "serving-cert"})
_POD_OF = {"openshift-kube-apiserver": "kube-apiserver", "openshift-kube-controller-manager": "kube-controller-manager",
           "openshift-kube-scheduler": "kube-scheduler", "openshift-etcd": "etcd"}


@datarecord
class Placement:
    """Where the recovered files go on a master, and who copies the secret there."""

    directory: str | None  # on every master; None when the secret is not copied to files
    secret: str  # namespace/name to fix once the API answers
    source: str | None = None  # the user's secret the operator copies into ``secret``


def write_recovered(last_good: LastGood, out: Path) -> list[Path]:
    """The chosen revision's data keys as 0600 files in ``out``; refuses to overwrite anything."""
    chosen = last_good.chosen
    if chosen is None:
        raise UsageError(f"{last_good.ref}: no surviving revision holds a working pair; nothing written")
    bad = [name for name in chosen.data if not _DATA_KEY.match(name)]
    if bad:
        raise UsageError(f"{last_good.ref}: data key {bad[0]!r} is not a plain file name; nothing written")
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"{out}: cannot create the output directory: {err.strerror or err}") from None
    targets = [out / name for name in sorted(chosen.data)]
    existing = [str(path) for path in targets if os.path.lexists(path)]
    if existing:
        raise UsageError(f"{existing[0]}: exists; refusing to overwrite it (nothing written)")
    written = []
    for path in targets:
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            raise UsageError(f"{path}: exists; refusing to overwrite it") from None
        except OSError as err:
            raise UsageError(f"{path}: cannot write: {err.strerror or err}") from None
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(chosen.data[path.name])
        os.chmod(path, 0o600)  # the umask cannot widen it, but a pre-set ACL default could: say it once more
        written.append(path)
    return written


def placement(last_good: LastGood, distribution: Distribution, users: dict[str, str]) -> Placement:
    """``users``: user-serving-cert-NNN → the openshift-config secret it is copied from."""
    namespace, name = last_good.namespace, last_good.name
    if distribution != Distribution.OPENSHIFT:
        return Placement(None, last_good.ref)
    if namespace == "openshift-config":
        copies = sorted(target for target, source in users.items() if source == last_good.ref)
        if copies:
            return Placement(f"{RESOURCES}/kube-apiserver-certs/secrets/{copies[0]}", f"openshift-kube-apiserver/{copies[0]}", last_good.ref)
        return Placement(None, last_good.ref)
    certs = _CERT_DIRS.get(namespace)
    if certs is None:
        return Placement(None, last_good.ref)
    revisioned = _REVISIONED.match(name)
    if revisioned and namespace in _POD_OF and revisioned["base"] in REVISIONED_SECRETS:
        directory = f"{RESOURCES}/{_POD_OF[namespace]}-pod-{revisioned['revision']}/secrets/{revisioned['base']}"
        # A revisioned copy is written from the unrevisioned secret: that is the one to fix.
        return Placement(directory, f"{namespace}/{revisioned['base']}", users.get(name))
    else:
        directory = f"{RESOURCES}/{certs}/secrets/{name}"
    return Placement(directory, last_good.ref, users.get(name))


def put_in_place(last_good: LastGood, out: Path, where: Placement) -> list[str]:
    """The commands that put the files back, in the order that works while the control plane is down."""
    chosen = last_good.chosen
    assert chosen is not None
    files = " ".join(str(out / name) for name in sorted(chosen.data))
    steps = []
    if where.directory:
        pod = _POD_OF.get(where.secret.split("/", 1)[0], "kube-apiserver")
        steps += [
            f"On every master: cp -a {where.directory} /root/{Path(where.directory).name}.before-recover",
            f"On every master: install -m 600 -o root -g root {files} {where.directory}/",
            (f"Restart the static pod so it reads them: mv /etc/kubernetes/manifests/{pod}-pod.yaml /root/ && sleep 20 && "
             f"mv /root/{pod}-pod.yaml /etc/kubernetes/manifests/"),
        ]
    namespace, name = where.secret.split("/", 1)
    tool = "oc" if where.directory or where.source else "kubectl"
    cert, key = out / last_good.cert_key, out / last_good.key_key
    if where.source:
        source_ns, source_name = where.source.split("/", 1)
        steps.append(f"Once the API answers, fix the source the operator copies from, or it copies the broken pair back: "
                     f"{tool} -n {source_ns} create secret tls {source_name} --cert={cert} --key={key} --dry-run=client -o yaml | {tool} replace -f -")
    else:
        steps.append(f"Once the API answers, put it back in etcd so no sync undoes it: {tool} -n {namespace} create secret tls {name} "
                     f"--cert={cert} --key={key} --dry-run=client -o yaml | {tool} replace -f -")
    if where.directory and tool == "oc":
        steps.append("Roll out a revision so every master gets it: oc patch kubeapiserver cluster --type=merge -p "
                     "'{\"spec\":{\"forceRedeploymentReason\":\"kforensic-recover\"}}'")
    return steps


def recovery_lines(last_good: LastGood, distribution: Distribution, users: dict[str, str], out: Path, written: list[Path],
                   reference_utc: datetime) -> list[str]:
    """What the command prints: provenance, fingerprints and dates, never the material."""
    chosen = last_good.chosen
    assert chosen is not None
    steps = put_in_place(last_good, out.resolve(), placement(last_good, distribution, users))
    reference = format_utc(reference_utc)
    lines = [f"secret {last_good.ref} ({last_good.etcd_key})"]
    if chosen is last_good.current and not last_good.restores_something:
        lines.append("the current revision already holds a working pair: these files equal what the secret holds now")
    lines.append(f"recovered {chosen.describe()}")
    if last_good.valid_at_reference:
        lines.append(f"the pair loads and its certificate is valid at {reference}")
    else:
        assert chosen.not_after_utc is not None and chosen.not_before_utc is not None
        lines.append(f"no surviving revision is valid at {reference}: this is the newest that loads; its certificate is valid "
                     f"{format_utc(chosen.not_before_utc)} to {format_utc(chosen.not_after_utc)}")
    lines.append(f"certificate {chosen.subject}, valid {format_utc(chosen.not_before_utc) if chosen.not_before_utc else '?'} to "
                 f"{format_utc(chosen.not_after_utc) if chosen.not_after_utc else '?'}")
    lines.append(f"certificate SHA-256 {chosen.cert_sha256}")
    lines.append(f"public key SHA-256 {chosen.public_key_sha256} (the same for the certificate and the key)")
    broken = [r for r in last_good.revisions if r.revision > chosen.revision]
    for revision in broken:
        lines.append(f"later {revision.describe()}: " + ("loads" if revision.loads else f"does not load ({revision.error})"))
    lines.append(last_good.compaction_sentence())
    lines.append("wrote (mode 0600): " + ", ".join(str(path) for path in written))
    lines.append("to put them in place:")
    lines += [f"  {index}. {step}" for index, step in enumerate(steps, start=1)]
    return lines


def no_working_pair_lines(last_good: LastGood) -> list[str]:
    lines = [f"secret {last_good.ref}: no surviving revision holds a pair that loads"]
    for revision in last_good.revisions:
        lines.append(f"{revision.describe()}: does not load ({revision.error})")
    lines.append(last_good.compaction_sentence())
    return lines
