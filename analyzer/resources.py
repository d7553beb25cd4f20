"""Files kforensic reads at run time that live outside ``analyzer/`` in a source checkout.

The repository keeps the HTML templates in ``reports/templates/`` and the schemas in ``schemas/``
(the design card's layout); the wheel maps those folders into the package as ``analyzer/templates``
and ``analyzer/schemas`` (``[tool.setuptools.package-dir]`` in pyproject.toml), so an installation
holds one import package. An editable install resolves the mapped names through setuptools' finder;
a checkout run with ``PYTHONPATH`` has neither, and finds the folders beside the package.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

# Mapped package -> its folder in a source checkout, relative to the repository root.
_CHECKOUT_FOLDERS = {"templates": ("reports", "templates"), "schemas": ("schemas",)}


def resource(folder: str, name: str) -> Traversable:
    """The file ``name`` of ``analyzer.<folder>`` (``templates`` or ``schemas``)."""
    try:
        return files(f"analyzer.{folder}").joinpath(name)
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent.joinpath(*_CHECKOUT_FOLDERS[folder], name)


def read_resource(folder: str, name: str) -> str:
    return resource(folder, name).read_text(encoding="utf-8")
