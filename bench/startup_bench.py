"""Wall time of the small case: `kforensic demo` and `kforensic scan` of the bundled demo evidence.

Issue 16's small-case target is `scan` of the bundled demo under 0.5 s wall. Each command runs as
a user runs it, in a fresh process (start-up, imports, the scan, the reports, the summary on a
pipe), alternating within each round; the script prints the load average (1 min) at the start of
every round, because on a shared machine the load decides the wall time, and the CPU seconds (user
+ system of the process, which neighbours barely inflate) beside it.

    python bench/startup_bench.py                          # this interpreter, `-m analyzer`
    python bench/startup_bench.py --runs 20
    python bench/startup_bench.py --kforensic /tmp/tv/bin/kforensic   # an installed console script
    python bench/startup_bench.py --importtime             # then where the imports go (one run)
    python bench/startup_bench.py --phases --runs 12       # then the CPU of each phase of the demo, in-process
    python bench/startup_bench.py --python /tmp/tv/bin/python \
        --before /tmp/main-checkout --before-python /work/venv/bin/python   # before and after, alternating

Byte-compiled modules are what an installation runs (pip compiles them at install time), so the
children run with bytecode writing on and ``PYTHONPYCACHEPREFIX`` pointing into a temporary
directory (nothing is written into the checkout or the environment), after one untimed warm-up
run of each command fills it. Nothing here is a test: no number is asserted.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "analyzer" / "demo"
DEMO_AT = "2025-06-01T12:00:00Z"


def commands(kforensic: list[str], out: Path, label: str = "") -> dict[str, list[str]]:
    evidence = [str(DEMO / "snapshot_2025-06-01_115500.db"), str(DEMO / "master-0-etc-kubernetes.tar.gz")]
    out = out / (label or "after")
    return {
        f"kforensic demo (scan + HTML, JSON, Markdown){label}": [*kforensic, "demo", "--out", str(out / "demo")],
        f"kforensic scan DEMO (summary only){label}": [*kforensic, "scan", *evidence, "--log", str(DEMO / "kube-apiserver.log"), "--at", DEMO_AT],
        f"kforensic scan DEMO --html --json --markdown{label}": [
            *kforensic, "scan", *evidence, "--log", str(DEMO / "kube-apiserver.log"), "--at", DEMO_AT,
            "--html", str(out / "r.html"), "--json", str(out / "r.json"), "--markdown", str(out / "r.md"),
        ],
    }


def run_once(argv: list[str], env: dict[str, str] | None) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds, peak RSS in KiB, exit code) of one run."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, process.returncode


def importtime(python: str, argv: list[str], env: dict[str, str], top: int) -> None:
    """Self time of the imports of one run, summed per top-level package (analyzer per sub-package)."""
    script = argv[1:] if argv[0] == python else argv  # `python -m analyzer …`, or a console script run by its python
    result = subprocess.run([python, "-X", "importtime", *script], env=env, capture_output=True, text=True, cwd=REPO)
    totals: collections.Counter[str] = collections.Counter()
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| *(\S+)", line)
        if match:
            parts = match[3].split(".")
            totals[".".join(parts[:2]) if parts[0] == "analyzer" else parts[0]] += int(match[1])
    print(f"\nimports of one run ({' '.join(argv[-4:])}): {sum(totals.values()) / 1000:.0f} ms of self time "
          "(-X importtime inflates it), per package:")
    for name, micros in totals.most_common(top):
        print(f"  {micros / 1000:7.1f} ms  {name}")


# One demo in one process, as `kforensic demo` runs it (analyzer/scan.py scan_demo) without typer's
# dispatch and the terminal summary, with the collector off for the imports as the launcher has it:
# CPU milliseconds (process_time, so preemption is not counted) of each phase, and within the
# imports the CPU that dataclasses spend on their bookkeeping and that `re` spends compiling
# patterns (wrapped for the imports only, so the wrappers' own cost is in those two numbers, not in
# the phases').
_PHASES = r"""
import gc, json, os, sys, time
gc.disable()  # as the launcher (analyzer/__main__.py) starts a run; setup() would freeze and enable
T = time.process_time
start = T()  # the interpreter and `site`, before this line
collector = {"ms": 0.0, "runs": 0}
def _collected(phase, info, _t=[0.0]):
    if phase == "start":
        _t[0] = T()
    else:
        collector["ms"] += (T() - _t[0]) * 1000
        collector["runs"] += 1
gc.callbacks.append(_collected)
import dataclasses, re
spent = {"dataclasses": 0.0, "re": 0.0}
def _timed(name, fn):
    def timed(*args, **kwargs):
        t = T()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += T() - t
    return timed
process_class, compile_ = dataclasses._process_class, re._compile
dataclasses._process_class, re._compile = _timed("dataclasses", process_class), _timed("re", compile_)
marks = [("interpreter start and site", 0.0, start)]
def mark(name):
    marks.append((name, marks[-1][2], T()))
import analyzer.cli
mark("import analyzer.cli (typer and the commands)")
import analyzer.scan
mark("import analyzer.scan (every room and its libraries)")
from analyzer.demo import REFERENCE_TIME, evidence_paths
from analyzer.reftime import parse_reference_time
from analyzer.report.json_report import render_json
from analyzer.report.markdown import render_markdown
mark("import the JSON and Markdown renderers")
dataclasses._process_class, re._compile = process_class, compile_
gc.freeze(); gc.enable()  # what analyzer.cli.shared.setup does once a command has imported what it needs
evidence = evidence_paths()
os.chdir(evidence[0].parent)
result = analyzer.scan.run_scan(analyzer.scan.ScanOptions([p.name for p in evidence], parse_reference_time(REFERENCE_TIME)))
mark("run_scan (with its own lazy imports)")
render_json(result); render_markdown(result)
mark("render_json + render_markdown")
from analyzer.report.html import render_html
mark("import jinja2 and the HTML renderer")
render_html(result)
mark("render_html")
out = {name: (end - begin) * 1000 for name, begin, end in marks}
out["  of the imports: dataclasses (since analyzer/records.py, its bookkeeping only)"] = spent["dataclasses"] * 1000
out["  of the imports: re compiling patterns"] = spent["re"] * 1000
out["  of the run: the cyclic collector (on from run_scan, as in a real run)"] = collector["ms"]
out["total CPU of the process"] = T() * 1000
print(json.dumps(out))
"""


def phases(python: str, env: dict[str, str], runs: int) -> None:
    """Minimum and median CPU milliseconds of each phase of the demo over `runs` fresh processes."""
    samples: dict[str, list[float]] = {}
    for _ in range(runs + 1):  # the first fills the bytecode cache
        result = subprocess.run([python, "-c", _PHASES], env=env, capture_output=True, text=True, cwd=REPO, check=True)
        for name, ms in json.loads(result.stdout.splitlines()[-1]).items():
            samples.setdefault(name, []).append(ms)
    print(f"\nCPU ms per phase of one demo in one process ({runs} runs; load {os.getloadavg()[0]:.1f} at the end):")
    print("| phase | min ms | median ms |\n|---|---:|---:|")
    for name, values in samples.items():
        print(f"| {name} | {min(values[1:]):.0f} | {statistics.median(values[1:]):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="rounds (each command once per round); the median is shown")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs `-m analyzer`")
    parser.add_argument("--kforensic", help="an installed console script to run instead of `PYTHON -m analyzer`")
    parser.add_argument("--importtime", action="store_true", help="also print where one demo run's imports go")
    parser.add_argument("--phases", action="store_true", help="also print the CPU of each phase of one demo, in-process (--runs runs)")
    parser.add_argument("--before", type=Path, help="another checkout (the code before a change) to run alternately with this one")
    parser.add_argument("--before-python", help="the interpreter for --before (default: --python)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kforensic-startup-") as scratch:
        out = Path(scratch)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "KFORENSIC_CACHE_DIR", "KFORENSIC_DEBUG")}
        env.update(PYTHONPYCACHEPREFIX=str(out / "pycache"), NO_COLOR="1")
        python = args.python
        if args.kforensic:
            kforensic = [args.kforensic]
            python = Path(args.kforensic).read_text(encoding="utf-8", errors="replace").splitlines()[0].removeprefix("#!").strip()
        else:
            kforensic = [args.python, "-m", "analyzer"]
            env["PYTHONPATH"] = str(REPO)
        todo = commands(kforensic, out)
        envs = dict.fromkeys(todo, env)
        if args.before:
            before = commands([args.before_python or args.python, "-m", "analyzer"], out, " (before)")
            todo.update(before)
            envs.update(dict.fromkeys(before, {**env, "PYTHONPATH": str(args.before.resolve())}))
        todo["python -c pass (the interpreter alone)"] = [python, "-c", "pass"]
        envs["python -c pass (the interpreter alone)"] = env
        for name, argv in todo.items():  # warm-up: fills the bytecode cache, pages the files in
            run_once(argv, envs[name])
        walls: dict[str, list[float]] = {name: [] for name in todo}
        cpus: dict[str, list[float]] = {name: [] for name in todo}
        rss: dict[str, int] = dict.fromkeys(todo, 0)
        codes: dict[str, set[int]] = {name: set() for name in todo}
        loads = []
        for _ in range(args.runs):
            loads.append(os.getloadavg()[0])
            for name, argv in todo.items():
                wall, cpu, peak, code = run_once(argv, envs[name])
                walls[name].append(wall)
                cpus[name].append(cpu)
                rss[name] = max(rss[name], peak)
                codes[name].add(code)

        print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; runs: {args.runs} (median shown)")
        print("load average (1 min) at the start of each round: " + ", ".join(f"{load:.1f}" for load in loads))
        print(f"command: {' '.join(kforensic)}" + (f"; before: {args.before_python or args.python} -m analyzer in {args.before}" if args.before else "") + "\n")
        print("| command | median wall s | min-max wall s | median CPU s | min CPU s | peak RSS MiB | exit |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for name in todo:
            w = walls[name]
            print(f"| {name} | {statistics.median(w):.3f} | {min(w):.3f}-{max(w):.3f} | {statistics.median(cpus[name]):.3f} | {min(cpus[name]):.3f} "
                  f"| {rss[name] / 1024:.0f} | {','.join(map(str, sorted(codes[name])))} |")
        if args.importtime:
            importtime(python, todo[next(iter(todo))], env, top=25)
        if args.phases:
            phases(python, env, args.runs)


if __name__ == "__main__":
    main()
