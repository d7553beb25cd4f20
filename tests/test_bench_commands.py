"""The benchmark's command lines still run: bench/snapshot_bench.py is run by hand on a 1.7 GiB file,
so a renamed option (`info --json` became `-o json`) would otherwise only show at the next benchmark."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_SNAPSHOT = REPO / "analyzer" / "demo" / "snapshot_2025-06-01_115500.db"


def _bench():
    spec = importlib.util.spec_from_file_location("snapshot_bench", REPO / "bench" / "snapshot_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_timed_command_runs_on_a_small_snapshot(real_etcd, tmp_path):  # real_etcd: etcdutl comes with it
    bench = _bench()
    etcdutl = str(bench.etcd_bin_dir() / "etcdutl")
    commands = bench.Commands(sys.executable, etcdutl, DEMO_SNAPSHOT, tmp_path)
    for name, args in commands.items():
        # scan exits by its verdict (a snapshot alone: 4, cannot tell); everything else exits 0.
        done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode in ((0, 1, 4) if name == "kforensic scan" else (0,)), f"{name}: {done.stderr[-1000:]}"
    info = json.loads(subprocess.run(commands.info(DEMO_SNAPSHOT), cwd=REPO, capture_output=True, text=True, check=True).stdout)
    status = json.loads(subprocess.run(commands["etcdutl snapshot status"], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    # What the benchmark asserts before it prints a table.
    assert (info["revision"], info["total_keys"], info["size"]) == (status["revision"], status["totalKey"], status["totalSize"])
    assert json.loads((tmp_path / f"{DEMO_SNAPSHOT.stem}.json").read_text())["verdict"]
    assert bench._live_counts(sys.executable, DEMO_SNAPSHOT)[0] == info["live_keys"]

