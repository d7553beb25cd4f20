"""etcd configured without a command line: an environment file (Kubespray) or a YAML config file (RKE2).

etcd reads every flag from the environment as ``ETCD_`` + the flag name upper-cased with dashes as
underscores, unless the flag is also given on the command line (etcd server/etcdmain/config.go
calls pkg/flags.SetFlagsFromEnv; SetPflagsFromEnv is etcdctl's). Not modelled: ``ETCD_CONFIG_FILE``
or ``--config-file`` given beside other settings, where etcd reads the file and ignores the rest. Kubespray runs etcd as a systemd service whose only configuration is
``EnvironmentFile=/etc/etcd.env`` (kubespray roles/etcd/templates/etcd-host.service.j2, etcd.env.j2).

``--config-file`` takes a YAML file whose keys are the flag names, except that TLS settings sit in
``client-transport-security`` and ``peer-transport-security`` (etcd server/embed/config.go,
``configYAML``/``securityConfig``); RKE2's etcd static pod passes only
``--config-file=/var/lib/rancher/rke2/server/db/etcd/config`` (k3s pkg/etcd ETCDConfig).
Both are turned into the ``Flags`` the wiring already reads for a static pod.
"""

from __future__ import annotations

import shlex
from collections.abc import Container, Iterable

import yaml

from analyzer.decode.flags import Flag, FlagOrigin, Flags
from analyzer.decode.sos_yaml import safe_load
from analyzer.errors import DecodeError

_ENV_PREFIX = "ETCD_"
# securityConfig keys under client-/peer-transport-security, and the flag each stands for.
_SECURITY = {"cert-file": "cert-file", "key-file": "key-file", "trusted-ca-file": "trusted-ca-file",
             "client-cert-auth": "client-cert-auth"}


def flags_from_env(data: bytes, origin: FlagOrigin = FlagOrigin.CONFIG) -> Flags:
    """Flags from a systemd EnvironmentFile of ``ETCD_*`` assignments (comments and blanks skipped)."""
    variables = []
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        try:
            # systemd unquotes "…" and '…' values the way a shell would for a single word.
            words = shlex.split(value)
        except ValueError:
            words = [value]
        variables.append((name.strip().removeprefix("export ").strip(), " ".join(words)))
    return flags_from_environment(variables, origin)


def flags_from_environment(variables: Iterable[tuple[str, str]], origin: FlagOrigin = FlagOrigin.CONFIG,
                           command_line: Container[str] = ()) -> Flags:
    """The flags ``ETCD_*`` variables stand for, in the order given: ``ETCD_FOO_BAR`` is ``--foo-bar``.
    Other variables (``ETCDCTL_*``, …) configure other programs and are left out, and so is a flag also
    given on ``command_line`` (its ``Flags``, or flag names): etcd takes a variable only for a flag the
    command line did not set (server/etcdmain/config.go parse, pkg/flags SetFlagsFromEnv)."""
    flags: list[Flag] = []
    for name, value in variables:
        if not name.startswith(_ENV_PREFIX):
            continue
        flag = name[len(_ENV_PREFIX):].lower().replace("_", "-")
        if flag not in command_line:
            flags.append(Flag(flag, value, origin, len(flags)))
    return Flags(tuple(flags))


def flags_from_config_file(data: bytes, source: str, origin: FlagOrigin = FlagOrigin.CONFIG) -> Flags:
    """Flags from etcd's ``--config-file`` YAML."""
    try:
        document = safe_load(data)
    except yaml.YAMLError as err:
        raise DecodeError(f"{source}: etcd config file is not YAML: {err.__class__.__name__}") from None
    if not isinstance(document, dict):
        raise DecodeError(f"{source}: etcd config file is not a YAML mapping")
    flags: list[Flag] = []
    for name, value in document.items():
        if name in ("client-transport-security", "peer-transport-security") and isinstance(value, dict):
            prefix = "peer-" if name.startswith("peer") else ""
            for key, flag in _SECURITY.items():
                if key in value and value[key] is not None:
                    flags.append(Flag(prefix + flag, _scalar(value[key]), origin, len(flags)))
        elif isinstance(value, (str, int, float, bool)):
            flags.append(Flag(str(name), _scalar(value), origin, len(flags)))
    return Flags(tuple(flags))


def _scalar(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
