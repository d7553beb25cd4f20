from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from analyzer.pb import etcd_mvcc_pb2, k8s_runtime_pb2, kms_v2_pb2

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIR = REPO / "analyzer" / "pb"


def load_generator():
    # tools/generate_pb.py is a developer script, not part of an importable package.
    spec = importlib.util.spec_from_file_location("generate_pb", REPO / "tools" / "generate_pb.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_modules_match_the_schemas(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (test extra) is needed to run protoc")
    generated = {path.name: path.read_text(encoding="utf-8") for path in load_generator().generate(tmp_path)}
    committed = {path.name: path.read_text(encoding="utf-8") for path in PACKAGE_DIR.glob("*_pb2.py")}
    assert sorted(committed) == sorted(generated), "run `python tools/generate_pb.py`: module set differs"
    stale = [name for name in generated if committed[name] != generated[name]]
    assert not stale, f"run `python tools/generate_pb.py`: {stale} are stale"


def test_gencode_version_is_the_declared_protobuf_floor() -> None:
    # The generated header refuses runtimes older than the protoc that wrote it; pyproject's floor
    # has to say the same, or installs that satisfy it fail at import.
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (floor,) = [dep.split(">=")[1] for dep in project["dependencies"] if dep.startswith("protobuf>=")]
    for module in PACKAGE_DIR.glob("*_pb2.py"):
        text = module.read_text(encoding="utf-8")
        assert re.search(rf"^# Protobuf Python Version: {re.escape(floor)}$", text, re.MULTILINE), module.name
        assert "ValidateProtobufRuntimeVersion(" in text, module.name


def test_modules_load_next_to_the_etcd3_client() -> None:
    # etcd3 registers kv.proto / mvccpb.KeyValue in the default descriptor pool; a clash would only
    # show in a process that imports both, so import both, each order, in fresh interpreters.
    pytest.importorskip("etcd3", reason="the etcd3 client is not installed")
    ours, theirs = "import analyzer.pb.etcd_mvcc_pb2", "import etcd3.etcdrpc.kv_pb2"
    for program in (f"{ours}; {theirs}", f"{theirs}; {ours}"):
        result = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_runtime_typemeta_numbers_apiversion_first() -> None:
    type_meta = k8s_runtime_pb2.TypeMeta.FromString(b"\x0a\x02v1\x12\x06Secret")
    assert (type_meta.apiVersion, type_meta.kind) == ("v1", "Secret")


def test_mvcc_key_value_field_numbers() -> None:
    # A put of /registry/x at revision 5 (created at 3, second version, lease 0x1f): 1 key,
    # 2 create_revision, 3 mod_revision, 4 version, 5 value, 6 lease.
    encoded = b"\x0a\x0b/registry/x\x10\x03\x18\x05\x20\x02\x2a\x03k8s\x30\x1f"
    kv = etcd_mvcc_pb2.KeyValue.FromString(encoded)
    assert (kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.value, kv.lease) == (
        b"/registry/x",
        3,
        5,
        2,
        b"k8s",
        31,
    )


def test_kms_v2_encrypted_object_field_numbers() -> None:
    encoded = (
        b"\x0a\x03ct!"  # 1 encryptedData
        + b"\x12\x05key-1"  # 2 keyID
        + b"\x1a\x04wrap"  # 3 encryptedDEKSource
        + b"\x22\x0a\x0a\x01k\x12\x05value"  # 4 annotations {"k": b"value"}
        + b"\x28\x01"  # 5 encryptedDEKSourceType
    )
    obj = kms_v2_pb2.EncryptedObject.FromString(encoded)
    assert (obj.encryptedData, obj.keyID, obj.encryptedDEKSource, dict(obj.annotations)) == (
        b"ct!",
        "key-1",
        b"wrap",
        {"k": b"value"},
    )
    assert obj.encryptedDEKSourceType == kms_v2_pb2.HKDF_SHA256_XNONCE_AES_GCM_SEED
