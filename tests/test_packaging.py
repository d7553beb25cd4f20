"""The distribution: what the wheel and sdist carry, and the installed console script run from
outside the source tree (the way `pip install .` and `pipx install .` users run it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]

# What kforensic reads at run time, as it lies in the wheel.
RUNTIME_FILES = (
    "analyzer/templates/report.html.j2",
    "analyzer/schemas/report.schema.json",
    "analyzer/demo/snapshot_2025-06-01_115500.db",
    "analyzer/demo/master-0-etc-kubernetes.tar.gz",
    "analyzer/demo/kube-apiserver.log",
)
DEMO_AT = "2025-06-01T12:00:00Z"


def test_every_package_of_analyzer_is_distributed() -> None:
    # The package list is explicit (a package-dir mapping cannot be found by `find`): a new folder
    # of analyzer/ that is not listed would be missing from every installation.
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "analyzer").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    missing = on_disk - set(SETUPTOOLS["packages"])
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml"


def test_mapped_folders_are_the_design_cards() -> None:
    assert SETUPTOOLS["package-dir"] == {"analyzer.templates": "reports/templates", "analyzer.schemas": "schemas"}
    for folder in SETUPTOOLS["package-dir"].values():
        # A module in a mapped folder would be installed inside analyzer/ (the old schemas/generate.py).
        assert not list((REPO / folder).glob("*.py")), f"{folder}/ must hold data only"


def test_license_is_an_spdx_expression_with_its_file() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert "Apache License" in (REPO / "LICENSE").read_text(encoding="utf-8")


def test_runtime_files_resolve_from_a_checkout() -> None:
    from analyzer.resources import resource

    assert resource("templates", "report.html.j2").is_file()
    assert json.loads(resource("schemas", "report.schema.json").read_text(encoding="utf-8"))["type"] == "object"


# -- the real thing: build, install, run from elsewhere ------------------------------------------


def _copy_source(target: Path) -> Path:
    """The checkout without what a build or a run leaves behind, so that nothing is written into it."""
    ignore = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "kforensic-demo", "out")
    return Path(shutil.copytree(REPO, target, ignore=ignore))


def _venv_with_our_dependencies(path: Path) -> Path:
    """A fresh virtual environment that reaches the running one's dependencies but not kforensic.

    Installing the dependencies from the index would make this test depend on the network; a .pth
    line only adds the directory to sys.path (the .pth files inside it, such as an editable install's
    finder, are not processed), so `analyzer` can only come from the wheel.
    """
    venv.create(path, with_pip=False, symlinks=True)
    python = path / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, check=True).stdout.strip()
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(purelib, "kforensic-test-deps.pth").write_text("\n".join(sorted(ours)) + "\n", encoding="utf-8")
    return python


def _clean_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME", "KFORENSIC_DEBUG")}
    env["NO_COLOR"] = "1"
    return env


def _installed(tmp_path: Path, *pip_args: str) -> tuple[Path, Path]:
    """(python, an empty working directory): kforensic pip-installed into a fresh environment."""
    python = _venv_with_our_dependencies(tmp_path / "venv")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", *pip_args],
                             capture_output=True, text=True, env=_clean_env())
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "case"
    elsewhere.mkdir()
    return python, elsewhere


def _build(source: Path, out: Path) -> tuple[Path, Path]:
    """(wheel, sdist) built the way `python -m build` does: the sdist first, the wheel from it."""
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        env=_clean_env(),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist


def _check_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"analyzer"}
    assert not [name for name in names if name.endswith(("generate.py", "generate_pb.py"))]
    for runtime in RUNTIME_FILES:
        assert runtime in names, runtime
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


def _check_sdist(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for kept in (
        "reports/templates/report.html.j2",
        "schemas/report.schema.json",
        "analyzer/demo/kube-apiserver.log",
        "LICENSE",
        "tools/generate_pb.py",
        "tests/conftest.py",
        "tests/fixtures/pki.py",
    ):
        assert kept in names, kept
    assert not [name for name in names if "__pycache__" in name]


@pytest.mark.slow
def test_built_wheel_installs_and_runs_demo_and_scan_from_elsewhere(tmp_path: Path) -> None:
    # One build for every assertion: under xdist a shared fixture would be built once per worker.
    pytest.importorskip("build", reason="the `build` package (test extra) builds the distribution")
    wheel, sdist = _build(_copy_source(tmp_path / "src"), tmp_path / "dist")
    _check_wheel(wheel)
    _check_sdist(sdist)

    python, elsewhere = _installed(tmp_path, "--no-index", str(wheel))

    def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*map(str, argv)], cwd=elsewhere, capture_output=True, text=True, env=_clean_env())

    where = run(python, "-c", "import analyzer; print(analyzer.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(tmp_path / "venv"), where.stdout + where.stderr
    kforensic = tmp_path / "venv" / "bin" / "kforensic"

    # The demo case has an error-level finding: exit 1, like `scan` on the same evidence.
    demo = run(kforensic, "demo", "--out", "demo-out")
    assert demo.returncode == 1, demo.stdout + demo.stderr
    assert "kube-apiserver" in demo.stdout
    for report in ("report.html", "report.json", "report.md"):
        assert (elsewhere / "demo-out" / report).stat().st_size > 0, report

    installed = Path(where.stdout.strip()).parent
    evidence = [installed / "demo" / name for name in ("snapshot_2025-06-01_115500.db", "master-0-etc-kubernetes.tar.gz", "kube-apiserver.log")]
    scan = run(kforensic, "scan", *evidence, "--at", DEMO_AT, "--html", "r.html", "--json", "r.json", "--markdown", "r.md")
    assert scan.returncode == 1, scan.stdout + scan.stderr
    assert "<html" in (elsewhere / "r.html").read_text(encoding="utf-8")
    assert (elsewhere / "r.md").read_text(encoding="utf-8").strip()
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((installed / "schemas" / "report.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads((elsewhere / "r.json").read_text(encoding="utf-8")), schema)
    # Nothing but the requested outputs was written where it ran.
    assert sorted(path.name for path in elsewhere.iterdir()) == ["demo-out", "r.html", "r.json", "r.md"]


@pytest.mark.slow
def test_editable_install_of_the_readme_runs_from_elsewhere(tmp_path: Path) -> None:
    # The README's `pip install -e .`: setuptools' editable finder maps analyzer.templates and
    # analyzer.schemas onto reports/templates and schemas in the checkout.
    source = _copy_source(tmp_path / "src")
    python, elsewhere = _installed(tmp_path, "--no-build-isolation", "-e", str(source))
    probe = subprocess.run(
        [python, "-c", "from analyzer.resources import resource; print(resource('templates', 'report.html.j2'))"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=_clean_env(),
    )
    assert Path(probe.stdout.strip()) == source / "reports" / "templates" / "report.html.j2", probe.stderr
    demo = subprocess.run([tmp_path / "venv" / "bin" / "kforensic", "demo", "--out", "out"], cwd=elsewhere, capture_output=True, text=True, env=_clean_env())
    assert demo.returncode == 1, demo.stdout + demo.stderr
    assert "<html" in (elsewhere / "out" / "report.html").read_text(encoding="utf-8")
