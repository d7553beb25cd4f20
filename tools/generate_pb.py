"""Regenerate the Python protobuf modules in analyzer/pb from the .proto files in schemas/.

A developer's tool, kept out of schemas/ because that folder is installed as package data
(analyzer/schemas in the wheel) and every ``*.py`` in a package folder would be installed with it.

Run ``python tools/generate_pb.py`` after editing a schema and commit the result;
tests/test_schemas.py fails while the committed modules are stale. The output depends only on the
schemas and the protoc bundled with grpcio-tools (pinned in pyproject.toml), so it is reproducible.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCHEMA_DIR = REPO / "schemas"
PACKAGE_DIR = REPO / "analyzer" / "pb"

# protoc writes `import k8s_meta_v1_pb2 as ...`, which only resolves when the output directory is on
# sys.path; inside a package the sibling module has to be imported relatively.
_SIBLING_IMPORT = re.compile(r"^import (\w+_pb2) as (\w+)$", re.MULTILINE)


def generate(out_dir: Path) -> list[Path]:
    """Compile every schema into ``out_dir`` and return the written modules, sorted by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    protos = sorted(path.name for path in SCHEMA_DIR.glob("*.proto"))
    # `python -m grpc_tools.protoc` adds the bundled google/protobuf/*.proto to the include path.
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{SCHEMA_DIR}", f"--python_out={out_dir}", *protos],
        cwd=SCHEMA_DIR,
        check=True,
    )
    modules = [out_dir / (Path(proto).stem + "_pb2.py") for proto in protos]
    for module in modules:
        text = module.read_text(encoding="utf-8")
        module.write_text(_SIBLING_IMPORT.sub(r"from . import \1 as \2", text), encoding="utf-8")
    return modules


if __name__ == "__main__":
    for written in generate(PACKAGE_DIR):
        print(written.relative_to(REPO))
