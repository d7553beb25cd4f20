"""kubeconfig files, resolved the way client-go resolves them, without ever holding a token.

The model follows what a component does with its ``--kubeconfig``: take ``current-context``, find
that context, then its cluster and user by name (client-go clientcmd; names are never assumed, so
``kubernetes-admin@kubernetes`` and ``default-admin`` work alike). Relative file references are
resolved against the kubeconfig's own directory, as clientcmd's ResolveLocalPaths does.

Each ``*-data`` field keeps its state: absent, blank (``""``), scrubbed by sos
(``***** SCRUBBED BASE64 PEM *****`` or ``*******``), present, or not valid base64. client-go uses
the data when it is non-empty and falls back to the file otherwise.
"""

from __future__ import annotations

import posixpath
from dataclasses import field
from typing import Any

from analyzer.decode.sos_yaml import load_yaml_mapping
from analyzer.gomodel.material import MaterialState, is_scrub_marker
from analyzer.gomodel.material import RedactedMaterial
from analyzer.gomodel.pem import decode_go_base64, inspect_material
from analyzer.errors import DecodeError
from analyzer.records import datarecord


@datarecord
class KubeconfigMaterial:
    """Where a kubeconfig takes a CA, client certificate or client key from.

    ``data_state`` is None when the ``*-data`` field is absent. ``data`` holds the decoded bytes
    when the state is PRESENT (it may be a private key, so it never shows in repr). ``path`` is the
    file reference resolved against the kubeconfig's directory; ``configured_path`` as written.
    """

    data_state: MaterialState | None = None
    data: bytes = field(default=b"", repr=False)
    path: str | None = None
    configured_path: str | None = None
    path_scrubbed: bool = False  # sos's openshift plugin blanks `client-key: <path>` too

    @property
    def uses_data(self) -> bool:
        """client-go's dataFromSliceOrFile: non-empty data wins over the file."""
        return self.data_state is not None and self.data_state is not MaterialState.EMPTY

    @property
    def is_set(self) -> bool:
        return self.uses_data or self.path is not None or self.path_scrubbed


@datarecord
class KubeconfigCluster:
    name: str
    server: str | None
    tls_server_name: str | None
    insecure_skip_tls_verify: bool
    certificate_authority: KubeconfigMaterial


@datarecord
class KubeconfigUser:
    name: str
    client_certificate: KubeconfigMaterial
    client_key: KubeconfigMaterial
    token_state: MaterialState | None  # None without a token field; the value is never kept
    token_file: str | None
    has_exec: bool
    has_auth_provider: bool
    has_basic_auth: bool

    @property
    def cert_and_key_in_one_file(self) -> bool:
        """True for kubelet.conf after TLS bootstrap: both point at kubelet-client-current.pem."""
        cert, key = self.client_certificate, self.client_key
        return not cert.uses_data and not key.uses_data and cert.path is not None and cert.path == key.path


@datarecord
class Kubeconfig:
    """The context a component would use, resolved. ``problems`` lists why a part is missing
    (an unknown context name, a duplicate entry) in one line each."""

    source_path: str | None
    current_context: str | None
    namespace: str | None
    cluster: KubeconfigCluster | None
    user: KubeconfigUser | None
    problems: tuple[str, ...] = ()


def load_kubeconfig(data: bytes, path: str | None = None) -> Kubeconfig:
    """Load a kubeconfig; ``path`` is where it lives, to resolve relative file references."""
    material = inspect_material(data)
    if material.state is MaterialState.ELIDED:
        raise RedactedMaterial("kubeconfig", material)
    if material.state is MaterialState.EMPTY:
        raise DecodeError("kubeconfig is empty")
    try:
        document = load_yaml_mapping(data, "kubeconfig")
    except DecodeError:
        # Scrubbed fields are fine (they become placeholders); a file sos replaced whole is not.
        if material.state is MaterialState.SCRUBBED:
            raise RedactedMaterial("kubeconfig", material) from None
        raise
    base_dir = posixpath.dirname(path) if path else None
    problems: list[str] = []

    current = _string(document.get("current-context"))
    if not current:
        problems.append("current-context is not set")
        return Kubeconfig(path, None, None, None, None, tuple(problems))
    context = _named(document, "contexts", "context", current, problems)
    if context is None:
        return Kubeconfig(path, current, None, None, None, tuple(problems))

    cluster_name, user_name = _string(context.get("cluster")), _string(context.get("user"))
    cluster_entry = _named(document, "clusters", "cluster", cluster_name, problems) if cluster_name else None
    user_entry = _named(document, "users", "user", user_name, problems) if user_name else None
    if not cluster_name:
        problems.append(f'context "{current}" names no cluster')
    if not user_name:
        problems.append(f'context "{current}" names no user')
    return Kubeconfig(
        source_path=path,
        current_context=current,
        namespace=_string(context.get("namespace")),
        cluster=_cluster(cluster_name, cluster_entry, base_dir) if cluster_name and cluster_entry is not None else None,
        user=_user(user_name, user_entry, base_dir) if user_name and user_entry is not None else None,
        problems=tuple(problems),
    )


def _named(document: dict[str, Any], list_key: str, item_key: str, name: str, problems: list[str]) -> dict[str, Any] | None:
    """The ``item_key`` mapping of the entry called ``name`` in ``document[list_key]``."""
    entries = document.get(list_key) or []
    if not isinstance(entries, list):
        raise DecodeError(f"kubeconfig {list_key} is not a list")
    matches = [e for e in entries if isinstance(e, dict) and _string(e.get("name")) == name]
    if not matches:
        problems.append(f'{item_key} "{name}" is not in {list_key}')
        return None
    if len(matches) > 1:
        # client-go's v1 conversion fails on a duplicate name, so the component cannot load the
        # file at all; the first entry is still shown.
        problems.append(
            f'{item_key} "{name}" appears {len(matches)} times in {list_key}; client-go refuses to load this kubeconfig'
        )
    body = matches[0].get(item_key) or {}
    if not isinstance(body, dict):
        raise DecodeError(f'kubeconfig {item_key} "{name}" is not a mapping')
    return body


def _cluster(name: str, body: dict[str, Any], base_dir: str | None) -> KubeconfigCluster:
    return KubeconfigCluster(
        name=name,
        server=_string(body.get("server")),
        tls_server_name=_string(body.get("tls-server-name")),
        insecure_skip_tls_verify=body.get("insecure-skip-tls-verify") is True,
        certificate_authority=_material(body, "certificate-authority", base_dir),
    )


def _user(name: str, body: dict[str, Any], base_dir: str | None) -> KubeconfigUser:
    token_file = _string(body.get("tokenFile"))
    return KubeconfigUser(
        name=name,
        client_certificate=_material(body, "client-certificate", base_dir),
        client_key=_material(body, "client-key", base_dir),
        token_state=_token_state(body) if "token" in body else None,
        token_file=_resolve(token_file, base_dir) if token_file and not is_scrub_marker(token_file) else None,
        has_exec=bool(body.get("exec")),
        has_auth_provider=bool(body.get("auth-provider")),
        has_basic_auth=bool(body.get("username") or body.get("password")),
    )


def _material(body: dict[str, Any], key: str, base_dir: str | None) -> KubeconfigMaterial:
    state, data = (None, b"") if f"{key}-data" not in body else _data_field(body[f"{key}-data"])
    configured = _string(body.get(key))
    if configured and is_scrub_marker(configured):
        return KubeconfigMaterial(state, data, None, None, path_scrubbed=True)
    return KubeconfigMaterial(state, data, _resolve(configured, base_dir) if configured else None, configured or None)


def _data_field(value: Any) -> tuple[MaterialState, bytes]:
    """The state of a ``*-data`` value; client-go decodes it with base64.StdEncoding, which skips
    CR and LF but nothing else."""
    if value is None or value == "":
        return MaterialState.EMPTY, b""
    if not isinstance(value, str):
        return MaterialState.MALFORMED, b""
    if is_scrub_marker(value):
        return MaterialState.SCRUBBED, b""
    decoded = decode_go_base64(value.encode())
    if decoded is None:
        return MaterialState.MALFORMED, b""
    return (MaterialState.PRESENT if decoded else MaterialState.EMPTY), decoded


def _token_state(body: dict[str, Any]) -> MaterialState:
    token = body.get("token")
    if token is None or token == "":
        return MaterialState.EMPTY
    if isinstance(token, str) and is_scrub_marker(token):
        return MaterialState.SCRUBBED
    return MaterialState.PRESENT


def _resolve(path: str, base_dir: str | None) -> str:
    """clientcmd ResolvePaths: a relative path is joined to (and cleaned with) the kubeconfig's
    directory; an absolute path is left as written."""
    if posixpath.isabs(path) or base_dir is None:
        return path
    return posixpath.normpath(posixpath.join(base_dir, path))


def _string(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
