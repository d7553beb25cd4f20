"""The command line's conventions, checked on the real program: help that reads well and fits 80
columns, one output-format option, shell completion, -q/-v, NO_COLOR, and exit codes."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from analyzer.cli import EXIT_CODES, Output, app

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "analyzer" / "demo"
DEMO_EVIDENCE = [str(DEMO / "snapshot_2025-06-01_115500.db"), str(DEMO / "master-0-etc-kubernetes.tar.gz"), str(DEMO / "kube-apiserver.log")]
DEMO_AT = "2025-06-01T12:00:00Z"
COMMANDS = ["info", "get", "decode", "ls", "scan", "certs", "demo", "recover"]
# An SGR sequence that sets a colour (30-37, 38;…, 40-47, 48;…, 90-97, 100-107); bold alone is not colour.
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|38|4[0-7]|48|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items() if key not in ("KFORENSIC_DEBUG", "NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [sys.executable, "-m", "analyzer", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd or REPO,
        env={**base, "PYTHONPATH": str(REPO), **(env or {})},
    )


def click_commands() -> dict[str, Any]:
    group = typer.main.get_command(app)
    return dict(group.commands)


# -- help -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_fits_80_columns_and_names_no_python_type(command):
    result = run(*([command] if command else []), "--help", env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, max(lines, key=len)
    # typer labels parameters with their Python types unless told otherwise.
    assert not re.search(r"<(bool|str|int|path|list\[\w+\]|int range)>", result.stdout), result.stdout
    assert "list[" not in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_shows_examples_whole_and_its_exit_codes(command):
    result = run(command, "--help", env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert "Examples:" in result.stdout and "Exit codes" in " ".join(result.stdout.split())
    epilog = click_commands()[command].epilog
    examples = [line for line in epilog.splitlines() if line.startswith("  ")]  # notes are not indented
    assert examples and examples[0].strip().startswith(("kforensic ", "etcdctl "))
    rendered = {line.strip() for line in result.stdout.splitlines()}
    for line in examples:
        # Printed as written, never re-wrapped: a long example continues on a line of its own.
        assert line.strip().replace("\\[", "[") in rendered, line
    continued = [line for line, after in zip(examples, examples[1:], strict=False) if after.startswith("      ")]
    assert all(line.endswith(" \\") for line in continued), continued


def test_root_help_documents_every_exit_code():
    result = run("--help", env={"COLUMNS": "200"})
    flat = " ".join(result.stdout.split())
    for code in ("0 a verdict was reached", "1 an error-level finding", "2 an input cannot be used", "3 a bug", "4 nothing error-level"):
        assert code in flat, code
    assert " ".join(EXIT_CODES.split()) in flat


# -- one output option; report files only by path ------------------------------------------------


def test_output_option_is_the_same_everywhere():
    for name, command in click_commands().items():
        if name == "recover":  # it writes files into --out; its stdout is a fixed set of instructions
            continue
        by_name = {param.name: param for param in command.params}
        assert "output" in by_name, name
        output = by_name["output"]
        assert sorted(output.opts) == ["--output", "-o"], name
        if hasattr(output, "type_descriptor"):  # typer 0.29
            assert output.type_descriptor.annotation is Output, name
        else:  # typer 0.28 (the pinned one): a click Choice of the enum's values
            assert [str(choice) for choice in output.type.choices] == [member.value for member in Output], name


def test_no_option_is_a_flag_in_one_command_and_takes_a_value_in_another():
    seen: dict[str, set[bool]] = {}
    for command in click_commands().values():
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    seen.setdefault(opt, set()).add(bool(getattr(param, "is_flag", False) or getattr(param, "count", False)))
    mixed = sorted(opt for opt, kinds in seen.items() if len(kinds) > 1)
    assert mixed == [], mixed
    assert seen["--json"] == {False} and seen["--html"] == {False} and seen["--markdown"] == {False}


def test_every_command_takes_quiet_and_verbose():
    for name, command in click_commands().items():
        opts = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert {"-q", "--quiet", "-v", "--verbose"} <= opts, name


def test_shell_completion_script_is_offered():
    result = run("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert result.returncode == 0, result.stderr
    assert "complete" in result.stdout and "_KFORENSIC_COMPLETE" in result.stdout.upper()


def test_completion_offers_the_commands_and_output_formats():
    def complete(words: str) -> list[str]:
        result = run(env={"_KFORENSIC_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))})
        return result.stdout.split()

    assert {"scan", "certs", "get", "demo"} <= set(complete("kforensic "))
    assert set(complete("kforensic scan x -o ")) >= {"table", "wide", "json", "yaml"}


# -- scan/demo on stdout, -q, -v, NO_COLOR --------------------------------------------------------


@pytest.fixture(scope="module")
def demo_outputs(tmp_path_factory):
    """The demo evidence scanned in each stdout mode (one run per mode)."""
    root = tmp_path_factory.mktemp("cli")
    runs = {}
    for mode, extra, env in [
        ("table", [], {}),
        ("json", ["-o", "json"], {}),
        ("yaml", ["-o", "yaml"], {}),
        ("verbose", ["-v"], {}),
        ("quiet", ["-q", "--json", str(root / "quiet.json")], {}),
        ("colour", [], {"FORCE_COLOR": "1", "COLUMNS": "200"}),
        ("no-colour", [], {"FORCE_COLOR": "1", "NO_COLOR": "1", "COLUMNS": "200"}),
    ]:
        runs[mode] = run("scan", *DEMO_EVIDENCE, "--at", DEMO_AT, *extra, env=env)
    runs["quiet-report"] = root / "quiet.json"
    return runs


def test_scan_prints_the_report_itself_with_o_json_or_yaml(demo_outputs):
    import yaml

    as_json = json.loads(demo_outputs["json"].stdout)
    as_yaml = yaml.safe_load(demo_outputs["yaml"].stdout)
    assert as_json == as_yaml
    assert as_json["verdict"]["headline"].startswith("kube-apiserver on master-0 cannot start")
    assert demo_outputs["json"].returncode == demo_outputs["yaml"].returncode == 1


def test_quiet_prints_nothing_but_writes_the_report(demo_outputs):
    quiet = demo_outputs["quiet"]
    assert quiet.returncode == 1 and quiet.stdout == "" and quiet.stderr == ""
    assert json.loads(demo_outputs["quiet-report"].read_text())["verdict"]["status"] == "broken"


def test_verbose_lists_every_finding(demo_outputs):
    report = json.loads(demo_outputs["json"].stdout)
    infos = [f["title"] for f in report["findings"] if f["severity"] == "info"]
    assert infos, "the demo case has info-level findings to show"
    assert not any(title in demo_outputs["table"].stdout for title in infos)
    assert all(title[:60] in " ".join(demo_outputs["verbose"].stdout.split()) for title in infos)


def test_no_color_turns_colour_off(demo_outputs):
    assert COLOUR.search(demo_outputs["colour"].stdout), "FORCE_COLOR should colour the verdict"
    assert not COLOUR.search(demo_outputs["no-colour"].stdout)
    assert "BROKEN" in demo_outputs["no-colour"].stdout


def test_demo_exits_like_scan_on_the_same_evidence(demo_outputs, tmp_path):
    demo = run("demo", "--out", str(tmp_path / "out"), "-o", "json", cwd=tmp_path)
    assert demo.returncode == demo_outputs["json"].returncode == 1
    # The same verdict and findings as scan's; only the paths differ (the demo names its inputs as a case would).
    scanned, shown = json.loads(demo_outputs["json"].stdout), json.loads(demo.stdout)
    assert scanned["verdict"] == shown["verdict"]
    assert [(f["id"], f["severity"], f["label"]) for f in scanned["findings"]] == [(f["id"], f["severity"], f["label"]) for f in shown["findings"]]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html", "report.json", "report.md"]


def test_wrong_output_format_for_decode_is_a_usage_error(tmp_path):
    value = tmp_path / "value.bin"
    value.write_bytes(b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}')
    assert run("decode", str(value), "-o", "yaml").returncode == 0
    refused = run("decode", str(value), "-o", "table")
    assert refused.returncode == 2 and "decode prints with -o json or -o yaml" in refused.stderr
    assert run("decode", str(value), "-o", "xml").returncode == 2  # click's usage error


def test_a_bug_is_exit_3_in_one_line_and_v_shows_the_traceback(tmp_path):
    # A snapshot path that makes the library raise something that is not a KforensicError.
    program = (
        "import sys; import analyzer.scan as s\n"
        "def boom(options): raise RuntimeError('boom')\n"
        "s.run_scan = boom\n"
        "from analyzer.cli import main\n"
        "sys.argv = ['kforensic', *sys.argv[1:]]\n"
        "main()\n"
    )
    base = {key: value for key, value in os.environ.items() if key != "KFORENSIC_DEBUG"}
    for extra, traceback in (([], False), (["-v"], True)):
        result = subprocess.run([sys.executable, "-c", program, "scan", DEMO_EVIDENCE[0], *extra], capture_output=True, text=True,
                                cwd=REPO, env={**base, "PYTHONPATH": str(REPO)}, timeout=120)
        assert result.returncode == 3, result.stderr
        assert ("Traceback" in result.stderr) is traceback
        assert result.stderr.strip().splitlines()[-1].startswith("kforensic: internal error (RuntimeError)")


# -- start-up: a run builds only the command it names --------------------------------------------


def test_a_run_that_names_a_command_builds_that_command_alone(monkeypatch):
    from analyzer.cli.app import application_for

    for command in COMMANDS:
        narrowed = typer.main.get_command(application_for([command, "x"]))
        assert list(narrowed.commands) == [command]
    assert application_for(["scan"]) is not app and len(app.registered_commands) == len(COMMANDS)  # the app itself is untouched
    for argv in ([], ["--help"], ["--version"], ["sacn"], ["-q", "scan"]):
        assert application_for(argv) is app, argv  # nothing or no command first: the whole application
    monkeypatch.setenv("_KFORENSIC_COMPLETE", "complete_bash")
    assert application_for(["scan"]) is app  # completion lists every command


# Without arguments demo runs and decode reads stdin; the others refuse, which is what is compared.
_ANSWERS = [(command, args) for command in COMMANDS for args in (["--help"], ["--no-such-option"], [])
            if args or command not in ("demo", "decode")]


@pytest.mark.parametrize(("command", "args"), _ANSWERS, ids=[f"{c}-{' '.join(a) or 'no-arguments'}" for c, a in _ANSWERS])
def test_the_command_alone_answers_as_the_whole_application_does(command, args):
    from typer.testing import CliRunner

    from analyzer.cli.app import application_for

    argv = [command, *args]
    whole = CliRunner().invoke(app, argv, prog_name="kforensic", env={"COLUMNS": "100", "TERMINAL_WIDTH": "100"})
    alone = CliRunner().invoke(application_for(argv), argv, prog_name="kforensic", env={"COLUMNS": "100", "TERMINAL_WIDTH": "100"})
    assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output)
    assert (whole.exit_code == 0) is (args == ["--help"]), whole.output  # not a run that did anything
    assert repr(alone.exception) == repr(whole.exception)  # scan with nothing to read: the same UsageError for main()


def test_a_misspelt_command_is_answered_from_the_whole_application():
    result = run("sacn", "x")
    assert result.returncode == 2 and "No such command" in result.stderr and "scan" in result.stderr, result.stderr


# -- start-up: the collector is off while the CLI imports ------------------------------------------

_GC_PROBE = """
import gc, sys
sys.argv = ["kforensic", *sys.argv[2:]]
if sys.argv[0] == "launcher":
    from analyzer.__main__ import main
else:
    from analyzer.cli import main
try:
    main()
except SystemExit:
    pass
print(gc.isenabled(), gc.get_freeze_count(), gc.get_stats()[0]["collections"])
"""


def test_the_launcher_imports_with_the_collector_off_and_works_with_it_on():
    def probe(entry: str) -> tuple[bool, int, int]:
        result = subprocess.run([sys.executable, "-c", _GC_PROBE.replace('sys.argv[0] == "launcher"', f"{entry == 'launcher'}"), entry,
                                 "scan", *DEMO_EVIDENCE[:2], "--at", DEMO_AT, "-q"],
                                capture_output=True, text=True, timeout=300, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        enabled, frozen, collections = result.stdout.split()
        return enabled == "True", int(frozen), int(collections)

    launched, plain = probe("launcher"), probe("plain")
    assert launched[0] and plain[0]  # on for the work either way
    assert launched[1] > 10_000 and plain[1] == 0  # what the imports made is frozen, only by the launcher
    assert launched[2] * 3 < plain[2]  # and the young generation was not collected over and over while importing


def _command_runs(tmp_path: Path) -> dict[str, list[str]]:
    """Each command with arguments that take it to its work, on the demo's evidence."""
    value = tmp_path / "value.bin"
    value.write_bytes(b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}')
    snapshot, tree, _log = DEMO_EVIDENCE
    return {
        "info": ["info", snapshot],
        "get": ["get", snapshot, "--prefix", "/kubernetes.io/configmaps/", "--keys-only"],
        "decode": ["decode", str(value), "-o", "json"],
        "ls": ["ls", snapshot],
        "scan": ["scan", snapshot, tree, "--at", DEMO_AT, "-q"],
        "certs": ["certs", snapshot, tree, "--at", DEMO_AT],
        "demo": ["demo", "--out", str(tmp_path / "demo"), "-q"],
        "recover": ["recover", snapshot, "openshift-kube-apiserver/user-serving-cert-000", "--out", str(tmp_path / "recovered")],
    }


def test_every_command_turns_the_collector_back_on_through_setup(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import analyzer.cli.shared as shared

    runs = _command_runs(tmp_path)
    assert sorted(runs) == sorted(COMMANDS)
    frozen = gc.get_freeze_count()
    shared.setup(False, 0)  # the collector is on (this is not the launcher): nothing is frozen
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    real_setup, seen = shared.setup, []

    def watched(quiet: bool, verbose: int) -> None:
        seen.append(gc.isenabled())  # still off here: the command has imported, and not yet begun
        real_setup(quiet, verbose)

    for command, argv in runs.items():
        seen.clear()
        monkeypatch.setattr(f"analyzer.cli.{'snapshot' if command in ('info', 'get', 'decode') else 'case'}.setup", watched)
        gc.disable()
        try:
            result = CliRunner().invoke(app, argv, prog_name="kforensic")
            assert gc.isenabled(), (command, result.output)  # on again for the work, through setup()
            assert seen == [False], command
            assert result.exit_code in (0, 1), (command, result.output, result.exception)  # the work was done
        finally:
            gc.enable()
            gc.unfreeze()  # this test's process goes on: let its objects be collected again


# -- start-up: what a scan of files does not import (bench/startup_bench.py measures the time) -----

_PROBE = """
import sys
sys.argv = ["kforensic", *sys.argv[1:]]
from analyzer.cli import main
try:
    main()
except SystemExit:
    pass
print(" ".join(sorted(name for name in ("grpc", "etcd3", "ssl", "asyncio", "multiprocessing", "pydantic", "jinja2", "numpy", "rich") if name in sys.modules)))
"""


@pytest.mark.parametrize(("args", "allowed"), [
    (["scan", *DEMO_EVIDENCE[:2], "--log", DEMO_EVIDENCE[2], "--at", DEMO_AT], set()),  # no HTML asked for: no jinja2 either
    (["demo", "--out", "{tmp}"], {"jinja2"}),
], ids=["scan", "demo"])
def test_a_scan_of_files_imports_no_grpc_and_no_pydantic(args, allowed, tmp_path):
    # grpc and etcd3 (with asyncio and ssl) are for --etcd alone; typer 0.29 would import pydantic to
    # coerce options, hence the pin below 0.29 in pyproject.toml; numpy is for snapshots of 64 MiB and
    # more (etcd_index.COLUMNS_FROM), not the demo's; rich draws typer's --help and the progress of
    # long passes, not the summary (analyzer/report/console.py: 30-40 ms a run).
    argv = [arg.replace("{tmp}", str(tmp_path / "demo")) for arg in args]
    result = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, timeout=300, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    imported = set(result.stdout.splitlines()[-1].split())  # the summary, then the probe's line
    if tuple(int(part) for part in typer.__version__.split(".")[:2]) >= (0, 29):
        imported.discard("pydantic")  # an environment newer than the pin (typer 0.29 imports it; nothing of ours does)
    assert imported == allowed, result.stderr[-2000:]
