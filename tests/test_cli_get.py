"""``kforensic get`` as an engineer runs it on a snapshot written through a real etcd: --revision,
--keys-only, keys never wrapped, a missing key, and which Secret values are shown."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.etcd_server import EtcdServer
from tests.fixtures.k8s_objects import configmap, secret
from tests.fixtures.pki import make_ca, make_leaf

REPO = Path(__file__).resolve().parents[1]
LONG_KEY = "/registry/configmaps/long/" + "a-very-long-config-map-name-" * 9  # 278 characters: wider than any terminal


@dataclass
class Story:
    path: Path
    compacted: int  # revisions below this are gone
    tls_key: str
    revisions: dict[str, int]  # event name -> revision
    cert_pem: bytes
    ca_pem: bytes
    key_pem: bytes


@pytest.fixture(scope="module")
def story(real_etcd, tmp_path_factory) -> Story:
    ca = make_ca("story-ca")
    leaf = make_leaf(ca, "story.example.test", dns=("story.example.test",), server=True)
    tls = "/registry/secrets/story/serving"
    revisions = {}
    with EtcdServer() as etcd:
        client = etcd.client()
        client.put("/registry/configmaps/story/scratch", configmap("story", "scratch", {"v": "1"}))
        revisions["scratch-2"] = client.put("/registry/configmaps/story/scratch", configmap("story", "scratch", {"v": "2"})).header.revision
        client.compact(revisions["scratch-2"], physical=True)
        revisions["cm-v1"] = client.put("/registry/configmaps/story/settings", configmap("story", "settings", {"mode": "first"})).header.revision
        revisions["tls"] = client.put(tls, secret("story", "serving", {"tls.crt": leaf.cert_pem, "tls.key": leaf.key_pem, "ca.crt": ca.cert_pem},
                                                  type_="kubernetes.io/tls")).header.revision
        revisions["gone-put"] = client.put("/registry/configmaps/story/gone", configmap("story", "gone", {"x": "y"})).header.revision
        client.delete("/registry/configmaps/story/gone")
        revisions["gone-delete"] = etcd.revision()
        revisions["cm-v2"] = client.put("/registry/configmaps/story/settings", configmap("story", "settings", {"mode": "second"})).header.revision
        revisions["long"] = client.put(LONG_KEY, configmap("long", "x", {})).header.revision
        path = etcd.snapshot(tmp_path_factory.mktemp("get") / "snapshot.db")
    return Story(path, revisions["scratch-2"], tls, revisions, leaf.cert_pem, ca.cert_pem, leaf.key_pem)


def get(story: Story, *args: str, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "KFORENSIC_DEBUG"}
    if columns:
        env["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "analyzer", "get", str(story.path), *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env={**env, "PYTHONPATH": str(REPO)})


def data_of(result: subprocess.CompletedProcess[str]) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [record["object"]["data"] for record in json.loads(result.stdout)]


def test_revision_reads_the_keys_as_they_stood(story):
    settings = "/registry/configmaps/story/settings"
    assert data_of(get(story, settings, "-o", "json")) == [{"mode": "second"}]
    assert data_of(get(story, settings, "-o", "json", "--revision", str(story.revisions["cm-v1"]))) == [{"mode": "first"}]
    assert data_of(get(story, settings, "-o", "json", "--revision", str(story.revisions["cm-v2"] - 1))) == [{"mode": "first"}]
    # A key deleted later is live at the revisions between its put and its delete, and only there.
    gone = "/registry/configmaps/story/gone"
    assert data_of(get(story, gone, "-o", "json", "--revision", str(story.revisions["gone-put"]))) == [{"x": "y"}]
    after = get(story, gone, "--revision", str(story.revisions["gone-delete"]))
    assert after.returncode == 2 and f"key {gone} is not in this snapshot at revision" in after.stderr
    # A prefix at a revision: what `etcdctl get --prefix --rev` would list.
    listed = get(story, "--prefix", "/registry/configmaps/story/", "--keys-only", "--revision", str(story.revisions["gone-put"]))
    assert listed.stdout.split() == ["/registry/configmaps/story/gone", "/registry/configmaps/story/scratch", "/registry/configmaps/story/settings"]


def test_revision_history_stops_at_the_revision(story):
    settings = "/registry/configmaps/story/settings"
    full = json.loads(get(story, settings, "--history", "-o", "json").stdout)
    cut = json.loads(get(story, settings, "--history", "-o", "json", "--revision", str(story.revisions["cm-v1"])).stdout)
    assert [int(r["revision"].split("_")[0]) for r in full] == [story.revisions["cm-v1"], story.revisions["cm-v2"]]
    assert [int(r["revision"].split("_")[0]) for r in cut] == [story.revisions["cm-v1"]]


@pytest.mark.parametrize("which", ["compacted", "future"])
def test_a_revision_the_snapshot_cannot_show_is_exit_2(story, which):
    revision = story.compacted - 1 if which == "compacted" else story.revisions["long"] + 5
    result = get(story, "--prefix", "/registry/", "--revision", str(revision))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert str(story.path) in lines[0]
    assert ("has been compacted" if which == "compacted" else "is newer than the snapshot") in lines[0]
    assert result.stdout == ""


def test_keys_only(story):
    plain = get(story, "--prefix", "/registry/", "--keys-only")
    assert plain.returncode == 0
    keys = plain.stdout.splitlines()
    assert keys == sorted(keys) and LONG_KEY in keys and story.tls_key in keys
    assert "/registry/configmaps/story/gone" not in keys
    assert json.loads(get(story, "--prefix", "/registry/", "--keys-only", "-o", "json").stdout) == keys


@pytest.mark.parametrize("columns", [80, 400])
def test_keys_are_never_wrapped(story, columns):
    # Piped output is 200 columns wide whatever COLUMNS says; the long key does not fit either way.
    result = get(story, "--prefix", "/registry/configmaps/", columns=columns)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert LONG_KEY in [line.strip() for line in lines], result.stdout
    assert all(key in [line.strip() for line in lines] for key in ("/registry/configmaps/story/settings", "/registry/configmaps/story/scratch"))


def test_keys_fit_in_a_table_when_they_can(story):
    result = get(story, "--prefix", "/registry/configmaps/story/")
    header = result.stdout.splitlines()[0]
    assert "KEY" in header and "MOD" in header
    assert any(line.startswith(" /registry/configmaps/story/settings ") for line in result.stdout.splitlines())


def test_a_missing_key_is_exit_2_with_one_line(story):
    result = get(story, "/registry/secrets/story/nope")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == f"kforensic: {story.path}: key /registry/secrets/story/nope is not in this snapshot"
    empty = get(story, "--prefix", "/registry/nothing/")
    assert empty.returncode == 0 and "no keys under /registry/nothing/" in empty.stderr


def test_certificates_are_shown_and_the_key_is_redacted(story):
    result = get(story, story.tls_key, "-o", "json")
    [data] = data_of(result)
    assert base64.b64decode(data["tls.crt"]) == story.cert_pem
    assert base64.b64decode(data["ca.crt"]) == story.ca_pem
    assert data["tls.key"].startswith("<redacted: ")
    key_lines = [line for line in story.key_pem.decode().splitlines() if not line.startswith("-----")]
    assert not any(line in result.stdout for line in key_lines)
    revealed = get(story, story.tls_key, "-o", "json", "--reveal-secrets")
    assert base64.b64decode(data_of(revealed)[0]["tls.key"]) == story.key_pem


def test_a_key_under_a_certificate_name_stays_redacted():
    from analyzer.decode.redaction import is_public_certificates, redact_object

    ca = make_ca("mixed-ca")
    leaf = make_leaf(ca, "mixed")
    as_data = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    obj = {"kind": "Secret", "data": {"tls.crt": as_data(leaf.cert_pem + leaf.key_pem), "ca.crt": as_data(ca.cert_pem),
                                      "ca-bundle.crt": as_data(b"not a certificate"), "token": as_data(ca.cert_pem)}}
    redacted = redact_object(obj)["data"]
    assert redacted["ca.crt"] == obj["data"]["ca.crt"]
    assert redacted["tls.crt"].startswith("<redacted: ")  # a key pasted after the certificate
    assert redacted["ca-bundle.crt"].startswith("<redacted: ")  # not a certificate at all
    assert redacted["token"].startswith("<redacted: ")  # only certificate names are shown
    assert is_public_certificates(ca.cert_pem + b"\n# a comment\n" + leaf.cert_pem)
    assert not is_public_certificates(ca.cert_pem + base64.b64encode(b"\x00" * 40) + b"\nPRIVATE KEY")
