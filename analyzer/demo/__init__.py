"""The example case shipped with kforensic (built by tests/fixtures/demo_case.py from a real etcd)."""

from importlib.resources import files

DEMO_DIR = files(__name__)
