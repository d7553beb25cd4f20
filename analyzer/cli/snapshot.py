"""The commands that read one etcd store: info, get (a snapshot or a running etcd) and decode (one value)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from analyzer.cli.app import EXIT_INCOMPLETE, EXIT_OK, command, stderr, stdout
from analyzer.cli.options import EncryptionConfigOpt, OptionalSnapshotArg, Output, OutputOpt, QuietOpt, RevealOpt, SalvageOpt, VerboseOpt, etcd_source
from analyzer.cli.shared import decompress_progress, load_encryption, only, open_store, print_document, progress_bar, setup
from analyzer.errors import UsageError
from analyzer.report.console import Text

if TYPE_CHECKING:
    from analyzer.evidence.live import LiveTarget


@command(
    "kforensic info snapshot_2024-05-01_134501.db",
    "kforensic info backup.db -o json | jq .live_keys",
    "kforensic info damaged.db --salvage",
    exits="Exit codes: 0 the snapshot is intact; 2 it cannot be used; 3 a bug in kforensic; "
    "4 the SHA-256 trailer does not match or part of it could not be read (the output says partial).",
)
@etcd_source
def info(
    snapshot: OptionalSnapshotArg = None,
    output: OutputOpt = Output.TABLE,
    salvage: SalvageOpt = False,
    skip_hash_check: Annotated[
        bool,
        typer.Option(
            "--skip-hash-check",
            help="Do not verify the SHA-256 trailer (the slowest part on CPUs without SHA instructions); integrity shows 'unchecked'.",
        ),
    ] = False,
    etcd: LiveTarget | None = None,  # the --etcd option block (etcd_source)
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """What a snapshot holds and whether it is intact: revision, keys, size, integrity, members, damage."""
    from analyzer.evidence.snapshot_input import open_snapshot_input
    from analyzer.evidence.etcd import Integrity
    from analyzer.views.snapshot_summary import summarize_snapshot

    setup(quiet, verbose)
    if (etcd is None) == (snapshot is None):
        raise UsageError("give exactly one of SNAPSHOT or --etcd URL")
    if etcd is not None:
        from analyzer.views.live_summary import summarize_live
        from analyzer.report.terminal import live_summary_view
        from analyzer.scan import open_live_etcd

        with open_live_etcd(etcd) as live:
            live_summary = summarize_live(live)
        print_document(live_summary.to_json(), output) if output in (Output.JSON, Output.YAML) else stdout.print(live_summary_view(live_summary))
        raise typer.Exit(EXIT_INCOMPLETE if live_summary.partial else EXIT_OK)
    assert snapshot is not None
    with open_snapshot_input(snapshot, salvage=salvage, progress=decompress_progress()) as opened, progress_bar("reading revisions", opened.file_size) as progress:
        summary = summarize_snapshot(opened, progress, check_hash=not skip_hash_check)
    if output in (Output.JSON, Output.YAML):
        print_document(summary.to_json(), output)
    else:
        # Only here: the terminal views import the whole analysis model, a tenth of a second that a
        # JSON document does not need (bench/README.md).
        from analyzer.report.terminal import snapshot_summary_view

        stdout.print(snapshot_summary_view(summary))
    damaged = summary.damaged or summary.integrity.status is Integrity.MISMATCH
    raise typer.Exit(EXIT_INCOMPLETE if damaged else EXIT_OK)


@command(
    "kforensic get backup.db --prefix /kubernetes.io/secrets/openshift-config/",
    "kforensic get backup.db --prefix /registry/secrets/ --keys-only",
    "kforensic get backup.db /registry/secrets/kube-system/bootstrap-token-abc \\\n"
    "    --history -o yaml",
    "kforensic get backup.db --prefix /registry/secrets/ -o json \\\n    --encryption-config enc.yaml --revision 41870",
    "kforensic get backup.db /registry/configmaps/kube-system/kubeadm-config \\\n    --raw > value.bin",
    exits="Exit codes: 0 the keys were read; 2 the snapshot cannot be used, the KEY is not in it, or the "
    "revision is compacted or in the future; 3 a bug in kforensic; 4 the snapshot is damaged, so keys may be missing.",
)
@etcd_source
def get(
    snapshot: OptionalSnapshotArg = None,
    key: Annotated[str | None, typer.Argument(metavar="KEY", help="An exact etcd key, e.g. /registry/secrets/NS/NAME.")] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", "-p", metavar="PREFIX", help="Every key starting with this.")] = None,
    revision: Annotated[
        int | None, typer.Option("--revision", metavar="N", min=1, help="Read the keys as they stood at revision N (etcdctl get --rev).")
    ] = None,
    history: Annotated[bool, typer.Option("--history", help="Every surviving revision, deletes included.")] = False,
    keys_only: Annotated[bool, typer.Option("--keys-only", help="Print the keys alone, one per line (a list with -o json/yaml).")] = False,
    output: OutputOpt = Output.TABLE,
    raw: Annotated[bool, typer.Option("--raw", help="Write the stored value bytes of one KEY to stdout.")] = False,
    encryption_config: EncryptionConfigOpt = None,
    reveal_secrets: RevealOpt = False,
    salvage: SalvageOpt = False,
    etcd: LiveTarget | None = None,  # the --etcd option block (etcd_source)
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Keys of a snapshot with their revisions, version, size, value kind and decoded object.

    Secret values are redacted (size and SHA-256 prefix) unless --reveal-secrets is given;
    certificates (tls.crt, ca.crt, ca-bundle.crt, service-ca.crt) are public and shown.
    """
    from analyzer.report.terminal import key_table
    from analyzer.views.records import iter_key_records

    setup(quiet, verbose)
    if etcd is not None and snapshot is not None and key is None:
        key, snapshot = str(snapshot), None  # with --etcd the one positional argument is the KEY
    if (etcd is None) == (snapshot is None):
        raise UsageError("give exactly one of SNAPSHOT or --etcd URL")
    if (key is None) == (prefix is None):
        raise UsageError("give exactly one of KEY or --prefix")
    if raw and (key is None or history or keys_only):
        raise UsageError("--raw prints the value of exactly one KEY (without --history or --keys-only)")
    encryption = load_encryption(encryption_config)
    with open_store(snapshot, etcd, salvage) as opened, progress_bar("reading revisions", getattr(opened, "file_size", 0)) as progress:
        wanted = (key if key is not None else prefix or "").encode()
        records = list(
            iter_key_records(
                opened, wanted, exact=key is not None, history=history, decode=not raw and not keys_only, encryption=encryption, progress=progress, revision=revision
            )
        )
        if key is not None and not records:
            at = f" at revision {revision}" if revision is not None else ""
            raise UsageError(f"{snapshot}: key {key} is not in this snapshot{at}" + (" (it may be in the damaged part)" if opened.partial else ""))
        if raw:
            if not records:
                raise UsageError(f"{opened.source}: key {key} is not live at revision {opened.revision}")
            if "/secrets/" in wanted.decode("utf-8", "replace") and not reveal_secrets:
                raise UsageError("refusing to print a Secret's stored bytes; add --reveal-secrets if you mean it")
            sys.stdout.buffer.write(records[-1].value)
            return
        if keys_only:
            keys = list(dict.fromkeys(record.record.key_text for record in records))
            if output in (Output.JSON, Output.YAML):
                print_document(keys, output)
            else:
                sys.stdout.write("".join(k + "\n" for k in keys))
        elif output in (Output.JSON, Output.YAML):
            print_document([record.to_json(reveal_secrets=reveal_secrets) for record in records], output)
        else:
            stdout.print(key_table(records, history=history, wide=output is Output.WIDE, width=stdout.width))
        if not records:
            stderr.print(f"no keys under {prefix}")
        if opened.partial:
            stderr.print(Text(f"partial: {opened.source} is damaged; some keys may be missing (see kforensic info)", "red"))
            raise typer.Exit(EXIT_INCOMPLETE)


@command(
    "etcdctl get /registry/secrets/ns/name --print-value-only \\\n"
    "    | kforensic decode - --etcd-key /registry/secrets/ns/name",
    "kforensic decode value.bin -o yaml --encryption-config encryption-config \\\n"
    "    --etcd-key /kubernetes.io/secrets/ns/name",
    exits="Exit codes: 0 decoded; 2 the value cannot be decoded or opened; 3 a bug in kforensic.",
)
def decode(
    value_file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="One raw etcd value, or the output of `etcdctl get` (with or without -w json); '-' reads stdin."),
    ] = Path("-"),
    output: OutputOpt = Output.JSON,
    etcd_key: Annotated[
        str | None,
        typer.Option("--etcd-key", metavar="KEY", help="The value's etcd key: AES-GCM authenticates it, and it picks the key's resource."),
    ] = None,
    encryption_config: EncryptionConfigOpt = None,
    reveal_secrets: RevealOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Decode etcd values (protobuf, JSON, CBOR, or encrypted at rest) into API objects.

    Reads a raw value (etcdctl's trailing newline is recognised), `etcdctl get` output (key and
    value lines), or `etcdctl get -w json` output, where every key-value pair is decoded. One value
    prints its object; several print a list of {key, object}.
    """
    from analyzer.decode.etcdctl import InputForm, decode_input_value, load_input_values
    from analyzer.decode.redaction import redact_object
    from analyzer.errors import DecodeError
    from analyzer.evidence.files import read_input_file

    setup(quiet, verbose)
    only(output, Output.JSON, Output.YAML, what="decode")
    if str(value_file) == "-" and sys.stdin.isatty():
        stderr.print("kforensic: waiting for an etcd value on stdin (end with Ctrl-D; or give a FILE)")
    try:
        form, items = load_input_values(read_input_file(value_file))
    except DecodeError as err:
        raise DecodeError(f"{value_file}: {err}") from None
    if etcd_key is not None and any(item.key not in (None, etcd_key.encode()) for item in items):
        raise UsageError(f"--etcd-key {etcd_key} differs from the key{'s' if len(items) > 1 else ''} in the {form.value}")
    encryption = load_encryption(encryption_config)
    documents: list[dict[str, object]] = []
    failed: list[str] = []
    for item in items:
        decoded = decode_input_value(item, etcd_key=(etcd_key or "").encode(), encryption=encryption)
        name = item.key.decode("utf-8", "backslashreplace") if item.key is not None else str(value_file)
        if decoded.object is None:
            failed.append(f"{name}: {decoded.error}")
        obj = None if decoded.object is None else decoded.object if reveal_secrets else redact_object(decoded.object)
        documents.append({"key": name, "object": obj} if decoded.object is not None else {"key": name, "decode_error": decoded.error})
    if form is InputForm.RAW or len(items) == 1:
        if failed:
            raise DecodeError(failed[0] if form is not InputForm.RAW else f"{value_file}: {documents[0]['decode_error']}")
        print_document(documents[0]["object"], output)
        return
    print_document(documents, output)
    if failed:
        raise DecodeError(f"{value_file}: {len(failed)} of {len(items)} values could not be decoded (first: {failed[0]})")
