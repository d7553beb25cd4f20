"""Run fuzz targets for a while and say how it went; exit 1 when any target crashed.

    python fuzz/run.py                       # every target, 60 s each (what CI runs)
    python fuzz/run.py --seconds 600 snapshot values
    python fuzz/run.py --runs 1000000 logs   # a campaign: stop after a number of executions

Seeds are generated from the fixtures on first use (fuzz/make_corpus.py) into fuzz/corpus/, new
inputs libFuzzer finds go to fuzz/work/<target>/, crashes to fuzz/crashes/ (all three ignored by
git). A crash is replayed with ``python fuzz/target_<name>.py fuzz/crashes/<file>``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = {  # name: largest input worth mutating, in bytes
    "snapshot": 8192,
    "values": 4096,
    "certificates": 4096,
    "configs": 4096,
    "logs": 4096,
    "archives": 16384,
}


@dataclass
class Outcome:
    target: str
    executions: int
    seconds: float
    coverage: str
    crashed: bool
    returncode: int

    @property
    def rate(self) -> float:
        return self.executions / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        state = f"CRASH (exit {self.returncode})" if self.crashed else "ok"
        return (f"{self.target:<13} {self.executions:>10,} execs {self.rate:>9,.0f}/s {self.seconds:>8.0f} s"
                f"  {self.coverage:<22} {state}")


def run_target(target: str, *, seconds: int | None, runs: int | None, timeout: int, log: Path) -> Outcome:
    seeds, work, crashes = HERE / "corpus" / target, HERE / "work" / target, HERE / "crashes"
    work.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(HERE / f"target_{target}.py"), str(work), str(seeds),
               f"-max_len={TARGETS[target]}", f"-timeout={timeout}", "-rss_limit_mb=2048",
               f"-artifact_prefix={crashes}/{target}-", "-print_final_stats=1"]
    if seconds is not None:
        command.append(f"-max_total_time={seconds}")
    if runs is not None:
        command.append(f"-runs={runs}")
    started = time.monotonic()
    with open(log, "w") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    elapsed = time.monotonic() - started
    text = log.read_text(errors="replace")
    executions = re.findall(r"stat::number_of_executed_units:\s+(\d+)", text)
    reported = re.findall(r"cov: (\d+) ft: (\d+)", text)
    coverage = f"cov {reported[-1][0]} ft {reported[-1][1]}" if reported else "cov ?"
    crashed = result.returncode != 0 or "==ERROR" in text or "Uncaught Python exception" in text
    return Outcome(target, int(executions[-1]) if executions else 0, elapsed, coverage, crashed, result.returncode)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--seconds", type=int, default=None, help="stop each target after this long (default 60)")
    parser.add_argument("--runs", type=int, default=None, help="stop each target after this many executions")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take before it counts as a hang")
    args = parser.parse_args()
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    seconds = args.seconds if args.seconds is not None or args.runs is not None else 60
    if not (HERE / "corpus").is_dir():
        subprocess.run([sys.executable, str(HERE / "make_corpus.py"), str(HERE / "corpus")], check=True)
    outcomes = []
    for target in args.targets or list(TARGETS):
        log = HERE / "work" / f"{target}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        outcome = run_target(target, seconds=seconds, runs=args.runs, timeout=args.timeout, log=log)
        print(outcome.line(), flush=True)
        if outcome.crashed:
            print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
        outcomes.append(outcome)
    return 1 if any(o.crashed for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
