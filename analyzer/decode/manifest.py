"""Static pod manifests: the component's flags in order, its host mounts, and its revision.

kubeadm writes ``/etc/kubernetes/manifests/<component>.yaml`` with ``command: [kube-apiserver,
--flag=value, ...]``. OpenShift writes ``<component>-pod.yaml`` whose main container runs
``/bin/bash -ec`` with a script ending in ``exec watch-termination ... -- hyperkube kube-apiserver
--openshift-config=... --advertise-address=${HOST_IP}``; the flags are taken from that line with
``shlex``. Variables such as ``${HOST_IP}`` are kept as written; the main container's literal env
is kept beside them (``StaticPod.env``) for whoever needs what the shell would expand.

The flags themselves are read by ``decode.flags``. Flags form an ordered multimap because order matters: kube-apiserver loads ``--tls-sni-cert-key``
pairs in flag order and stops at the first that fails (component-base NamedCertKeyArray.Set
appends; a repeated scalar flag keeps its last value, as pflag does).
"""

from __future__ import annotations

import posixpath
import re
import shlex
from typing import Any

from analyzer.decode.sos_yaml import load_yaml_mapping
from analyzer.errors import DecodeError
from analyzer.decode.flags import FlagOrigin, Flags, parse_tokens
from analyzer.records import datarecord


KNOWN_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})


# --------------------------------------------------------------------------------------------
# Static pods
# --------------------------------------------------------------------------------------------


@datarecord
class HostPathVolume:
    name: str
    path: str
    type: str | None = None


@datarecord
class VolumeMount:
    name: str
    mount_path: str
    read_only: bool = False
    sub_path: str | None = None


@datarecord
class StaticPod:
    name: str | None
    namespace: str | None
    component: str  # the main container's name
    container_names: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    command: tuple[str, ...]
    args: tuple[str, ...]
    script: str | None  # the `sh -c` script, when the component is started from one
    flags: Flags
    volumes: tuple[HostPathVolume, ...]
    mounts: tuple[VolumeMount, ...]  # of the main container
    revision_label: str | None
    static_pod_version: str | None  # env STATIC_POD_VERSION of the main container
    image: str | None = None  # of the main container: "registry.k8s.io/kube-apiserver:v1.28.3"
    # The main container's env entries with a literal value (not valueFrom): what its ``sh -c`` script
    # expands ${NAME} with at start (OpenShift's etcd: --advertise-client-urls=https://${NODE_<node>_IP}:2379).
    env: tuple[tuple[str, str], ...] = ()

    @property
    def revision(self) -> int | None:
        """The static pod revision: the ``revision`` label, else STATIC_POD_VERSION, else the
        number in a ``…-pod-<REV>`` hostPath (OpenShift installer layout)."""
        for text in (self.revision_label, self.static_pod_version):
            if text and text.isdigit():
                return int(text)
        for volume in self.volumes:
            match = re.search(r"-pod-(\d+)$", volume.path.rstrip("/"))
            if match:
                return int(match.group(1))
        return None


def load_static_pod(data: bytes, component: str | None = None) -> StaticPod:
    """Load a static pod manifest and read its main container (``component`` names it when the
    pod's labels and container names do not make it plain)."""
    document = load_yaml_mapping(data, "static pod manifest")
    if document.get("kind") not in (None, "Pod"):
        raise DecodeError(f"static pod manifest is a {document.get('kind')}, not a Pod")
    metadata = _mapping(document.get("metadata"), "metadata")
    spec = _mapping(document.get("spec"), "spec")
    containers = [_mapping(c, "container") for c in _list(spec.get("containers"), "spec.containers")]
    labels = {str(k): str(v) for k, v in _mapping(metadata.get("labels"), "metadata.labels").items()}
    main = _main_container(containers, component, labels)
    name = str(main.get("name"))

    command = tuple(str(t) for t in _list(main.get("command"), "command"))
    args = tuple(str(t) for t in _list(main.get("args"), "args"))
    script, flags = _component_flags(command, args, name)
    return StaticPod(
        name=_optional_str(metadata.get("name")),
        namespace=_optional_str(metadata.get("namespace")),
        component=name,
        container_names=tuple(str(c.get("name")) for c in containers),
        labels=tuple(labels.items()),
        command=command,
        args=args,
        script=script,
        flags=flags,
        volumes=_host_path_volumes(spec),
        mounts=tuple(_mount(m) for m in _list(main.get("volumeMounts"), "volumeMounts")),
        revision_label=labels.get("revision"),
        static_pod_version=_env_value(main, "STATIC_POD_VERSION"),
        image=_optional_str(main.get("image")),
        env=tuple((str(entry["name"]), str(entry["value"])) for entry in _list(main.get("env"), "env")
                  if isinstance(entry, dict) and "name" in entry and isinstance(entry.get("value"), str | int | float)),
    )


def find_host_path(pod: StaticPod, in_pod_path: str) -> str | None:
    """The host path behind ``in_pod_path`` in the main container, through its hostPath mounts.

    The longest matching mount wins, as in the container's mount table. On OpenShift
    ``/etc/kubernetes/static-pod-certs/secrets/x/tls.crt`` becomes
    ``/etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/x/tls.crt``. None when no
    hostPath mount covers the path (it then lives in the image).
    """
    path = posixpath.normpath(in_pod_path)
    volumes = {v.name: v for v in pod.volumes}
    best: tuple[int, str] | None = None
    for mount in pod.mounts:
        volume = volumes.get(mount.name)
        if volume is None:
            continue
        mount_path = posixpath.normpath(mount.mount_path)
        if path == mount_path:
            rest = ""
        elif path.startswith(mount_path.rstrip("/") + "/"):
            rest = path[len(mount_path.rstrip("/")) + 1 :]
        else:
            continue
        source = posixpath.join(volume.path, mount.sub_path) if mount.sub_path else volume.path
        host = posixpath.join(source, rest) if rest else source
        if best is None or len(mount_path) > best[0]:
            best = (len(mount_path), posixpath.normpath(host))
    return best[1] if best else None


def _main_container(containers: list[dict[str, Any]], component: str | None, labels: dict[str, str]) -> dict[str, Any]:
    by_name = {str(c.get("name")): c for c in containers}
    if component is not None:
        if component not in by_name:
            raise DecodeError(f'static pod has no container "{component}" (containers: {", ".join(by_name)})')
        return by_name[component]
    # kubeadm labels its static pods `component: <name>`.
    if labels.get("component") in by_name:
        return by_name[labels["component"]]
    for known in KNOWN_COMPONENTS:
        if known in by_name:
            return by_name[known]
    if len(containers) == 1:
        return containers[0]
    raise DecodeError(f"cannot tell the main container among {', '.join(by_name)}; name the component")


def _component_flags(command: tuple[str, ...], args: tuple[str, ...], component: str) -> tuple[str | None, Flags]:
    tokens = [(t, FlagOrigin.COMMAND, i) for i, t in enumerate(command)]
    tokens += [(t, FlagOrigin.ARGS, i) for i, t in enumerate(args)]
    if not tokens:
        return None, Flags()
    script = _shell_script(tokens)
    if script is not None:
        return script, _script_flags(script, component)
    for i, (token, _, _) in enumerate(tokens):
        if _is_component_token(token, component):
            return None, parse_tokens(tokens[i + 1 :])
    # No binary named after the component: with a command its first word is the binary, with only
    # args the image entrypoint is.
    return None, parse_tokens(tokens[1:] if command else tokens)


def _shell_script(tokens: list[tuple[str, FlagOrigin, int]]) -> str | None:
    """The script of ``sh -c SCRIPT`` / ``/bin/bash -ec SCRIPT`` (possibly behind a wrapper such
    as ``timeout 100``): the shell must be a word of ``command`` that no option precedes."""
    for i, (token, origin, _) in enumerate(tokens):
        if origin is not FlagOrigin.COMMAND or token.startswith("-"):
            return None
        if posixpath.basename(token) in _SHELLS:
            j = i + 1
            while j < len(tokens) - 1:
                option = tokens[j][0]
                if not option.startswith(("-", "+")) or option.startswith("--"):
                    break
                if "c" in option[1:]:
                    return tokens[j + 1][0]
                # -o/+o take the next word (OpenShift starts kube-controller-manager with -euxo pipefail -c).
                j += 2 if option.endswith("o") else 1
            return None
    return None


def _script_flags(script: str, component: str) -> Flags:
    """Flags of the script line that starts the component, preferring an ``exec`` line."""
    joined = re.sub(r"\\\r?\n", "", script)  # a backslash-newline joins lines, as in sh
    chosen: list[str] | None = None
    for line in joined.splitlines():
        tokens = _shell_words(line)
        index = next((i for i, t in enumerate(tokens) if _is_component_token(t, component)), None)
        if index is None:
            continue
        if tokens[0] == "exec":
            chosen = tokens[index + 1 :]
            break
        if chosen is None:
            chosen = tokens[index + 1 :]
    if chosen is None:
        return Flags()
    return parse_tokens([(t, FlagOrigin.SCRIPT, i) for i, t in enumerate(chosen)])


def _shell_words(line: str) -> list[str]:
    if line.lstrip().startswith("#"):
        return []
    try:
        words = shlex.split(line, posix=True)
    except ValueError:  # an unterminated quote: the line is part of a larger construct
        return []
    for i, word in enumerate(words):
        if word.startswith("#"):
            return words[:i]
    return words


def _is_component_token(token: str, component: str) -> bool:
    return not token.startswith("-") and "=" not in token and posixpath.basename(token) == component


def _host_path_volumes(spec: dict[str, Any]) -> tuple[HostPathVolume, ...]:
    volumes = []
    for entry in _list(spec.get("volumes"), "spec.volumes"):
        entry = _mapping(entry, "volume")
        host_path = entry.get("hostPath")
        if isinstance(host_path, dict) and host_path.get("path"):
            volume_type = _optional_str(host_path.get("type"))
            volumes.append(HostPathVolume(str(entry.get("name")), str(host_path["path"]), volume_type))
    return tuple(volumes)


def _mount(entry: Any) -> VolumeMount:
    entry = _mapping(entry, "volumeMount")
    return VolumeMount(
        name=str(entry.get("name")),
        mount_path=str(entry.get("mountPath")),
        read_only=entry.get("readOnly") is True,
        sub_path=_optional_str(entry.get("subPath")) or None,
    )


def _env_value(container: dict[str, Any], name: str) -> str | None:
    for entry in _list(container.get("env"), "env"):
        if isinstance(entry, dict) and entry.get("name") == name and "value" in entry:
            return _optional_str(entry.get("value"))
    return None


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DecodeError(f"static pod manifest: {what} is not a mapping")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError(f"static pod manifest: {what} is not a list")
    return value


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)
