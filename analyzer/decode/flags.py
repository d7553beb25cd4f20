"""Command-line flags as pflag reads them: an ordered multimap, plus ``--tls-sni-cert-key`` values.

Order matters: kube-apiserver loads ``--tls-sni-cert-key`` pairs in flag order and stops at the
first that fails (component-base NamedCertKeyArray.Set appends; a repeated scalar flag keeps its
last value, as pflag does).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import Enum

from analyzer.gomodel.fmt import go_quote
from analyzer.errors import DecodeError
from analyzer.records import datarecord


# Flags written bare that must not swallow the next token in the `--flag value` form. Manifests
# use `--flag=value` almost always, so a short list of common booleans is enough.
_BOOLEAN_FLAGS = frozenset(
    {
        "allow-privileged",
        "anonymous-auth",
        "client-cert-auth",
        "enable-aggregator-routing",
        "enable-bootstrap-token-auth",
        "enable-garbage-collector",
        "experimental-initial-corrupt-check",
        "insecure-skip-tls-verify",
        "leader-elect",
        "logtostderr",
        "peer-client-cert-auth",
        "permit-address-sharing",
        "permit-port-sharing",
        "profiling",
        "use-service-account-credentials",
    }
)


class FlagOrigin(Enum):
    COMMAND = "command"
    ARGS = "args"
    SCRIPT = "script"  # a line of a `sh -c` script
    CONFIG = "openshift-config"  # produced by ConfigToFlags from KubeAPIServerConfig


@datarecord
class Flag:
    name: str  # without dashes: "tls-sni-cert-key"
    value: str | None  # None for a bare "--flag"
    origin: FlagOrigin
    position: int  # index of the token within its origin


@datarecord
class Flags:
    """An ordered multimap of flags, plus the positional arguments between them."""

    items: tuple[Flag, ...] = ()
    positionals: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Flag]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, name: object) -> bool:
        return any(flag.name == name for flag in self.items)

    def values(self, name: str) -> tuple[str, ...]:
        """Every value given to ``name``, in order (bare occurrences are left out)."""
        return tuple(f.value for f in self.items if f.name == name and f.value is not None)

    def find(self, name: str) -> str | None:
        """The value the component ends up with for a scalar flag: the last one given."""
        values = self.values(name)
        return values[-1] if values else None

    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.name for f in self.items))


def parse_flags(argv: Sequence[str], origin: FlagOrigin = FlagOrigin.ARGS) -> Flags:
    """Split ``argv`` into flags and positionals the way pflag reads a command line."""
    return parse_tokens([(token, origin, i) for i, token in enumerate(argv)])


def parse_tokens(tokens: list[tuple[str, FlagOrigin, int]]) -> Flags:
    flags: list[Flag] = []
    positionals: list[str] = []
    i = 0
    while i < len(tokens):
        token, origin, position = tokens[i]
        i += 1
        if token == "--":
            positionals.extend(t for t, _, _ in tokens[i:])
            break
        if not token.startswith("-") or token == "-":
            positionals.append(token)
            continue
        body = token[2:] if token.startswith("--") else token[1:]
        name, equals, value = body.partition("=")
        if equals:
            flags.append(Flag(name, value, origin, position))
        elif name not in _BOOLEAN_FLAGS and i < len(tokens) and not tokens[i][0].startswith("-"):
            flags.append(Flag(name, tokens[i][0], origin, position))
            i += 1
        else:
            flags.append(Flag(name, None, origin, position))
    return Flags(tuple(flags), tuple(positionals))


# --------------------------------------------------------------------------------------------
# --tls-sni-cert-key
# --------------------------------------------------------------------------------------------


@datarecord
class NamedCertKey:
    cert_file: str
    key_file: str
    names: tuple[str, ...] = ()
    index: int = 0  # position among the --tls-sni-cert-key flags: kube-apiserver's load order


def parse_named_cert_key(value: str, index: int = 0) -> NamedCertKey:
    """component-base cli/flag NamedCertKey.Set: ``cert,key`` or ``cert,key:name1,name2``."""
    keycert, colon, names = value.partition(":")
    parsed_names: tuple[str, ...] = ()
    if colon:
        names = names.strip()
        if not names:
            raise DecodeError("empty names list is not allowed")
        parsed_names = tuple(name.strip() for name in names.split(","))
    parts = keycert.strip().split(",")
    if len(parts) != 2:
        raise DecodeError("expected comma separated certificate and key file paths")
    return NamedCertKey(parts[0].strip(), parts[1].strip(), parsed_names, index)


def sni_cert_keys(flags: Flags) -> tuple[list[NamedCertKey], str | None]:
    """The SNI pairs in the order kube-apiserver loads them, and pflag's error for the first value
    NamedCertKey.Set refuses (None when all parse). pflag stops there and the process exits."""
    pairs: list[NamedCertKey] = []
    for index, value in enumerate(flags.values("tls-sni-cert-key")):
        try:
            pairs.append(parse_named_cert_key(value, index))
        except DecodeError as err:  # pflag: invalid argument %q for %q flag: %v
            return pairs, f'invalid argument {go_quote(value)} for "--tls-sni-cert-key" flag: {err}'
    return pairs, None
