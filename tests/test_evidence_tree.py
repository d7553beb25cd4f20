"""analyzer.evidence.tree: one read-only tree over directories, tars and zips.

Every fixture is built in tmp_path during the run; every read happens under ``forbid_writes``,
which fails the test if anything is opened for writing anywhere or tmp_path changes.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import random
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analyzer.errors import (
    CorruptEvidence,
    EvidenceError,
    TruncatedEvidence,
    UnsupportedEvidence,
)
from analyzer.evidence.tree import directory
from analyzer.evidence.tree import (
    Container,
    EntryKind,
    EvidenceTree,
    Limits,
    open_member_tree,
    open_tree,
    sniff_container,
)
from tests.fixtures.archives import (
    CLIENT_PEM,
    CURRENT_PEM,
    FORMATS,
    KUBEADM_DIRS,
    KUBEADM_FILES,
    MTIME,
    STREAMED_FORMATS,
    Dir,
    File,
    HardLink,
    Special,
    Symlink,
    build,
    build_directory,
    build_tar,
    build_zip,
    forbid_writes,
    forge_zip_size,
    forge_zip_version,
    kubeadm_members,
    tar_bytes,
    zip_bytes,
)

STAMP = datetime.fromtimestamp(MTIME, UTC)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path, with the working directory moved to an empty folder inside it, so that a
    stray write to a relative path shows up in forbid_writes' listing."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return tmp_path


def assert_one_line(exc: EvidenceError, source: object) -> None:
    message = str(exc)
    assert message.startswith(str(source))
    assert "\n" not in message and "Traceback" not in message and "Errno" not in message


def files_of(tree: EvidenceTree) -> dict[str, int]:
    return {e.path: e.size for e in tree.iter_entries() if e.kind is EntryKind.FILE}


# --------------------------------------------------------------------------- the common tree


@pytest.mark.parametrize("link_style", ["absolute", "relative"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_kubeadm_tree_lists_stats_reads_and_resolves(
    sandbox: Path, fmt: str, link_style: str
) -> None:
    path = build(fmt, sandbox, kubeadm_members(link_style))
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert tree.format == fmt
        assert tree.source == str(path)
        assert tree.problems == () and not tree.partial
        kinds = {e.path: e.kind for e in tree.iter_entries()}
        assert kinds == {
            **dict.fromkeys(KUBEADM_DIRS, EntryKind.DIR),
            **dict.fromkeys(KUBEADM_FILES, EntryKind.FILE),
            CURRENT_PEM: EntryKind.SYMLINK,
        }
        assert [e.path for e in tree.iter_entries()] == sorted(kinds)
        for name, data in KUBEADM_FILES.items():
            entry = tree.stat(name)
            assert entry is not None and entry.size == len(data)
            assert entry.mode == 0o600 and entry.mtime_utc == STAMP
            assert tree.read_bytes(name) == data
        link = tree.stat(CURRENT_PEM)
        expected_target = (
            "/" + CLIENT_PEM if link_style == "absolute" else CLIENT_PEM.rpartition("/")[2]
        )
        assert link is not None and link.link_target == expected_target and link.size == 0
        # The absolute target names the evidence's own /var, which does not exist on this host.
        assert tree.resolve(CURRENT_PEM) == CLIENT_PEM
        assert tree.read_bytes(CURRENT_PEM) == KUBEADM_FILES[CLIENT_PEM]
        assert tree.read_bytes("/" + CURRENT_PEM, limit=11) == b"-----BEGIN "
        assert tree.stat("./etc//kubernetes/pki/ca.crt") == tree.stat("etc/kubernetes/pki/ca.crt")
        assert tree.stat("etc/kubernetes/nope") is None and tree.resolve("nope/x") is None
        assert tree.resolve("../etc/kubernetes/admin.conf") is None  # the caller's own climb
        assert tree.stat("").kind is EntryKind.DIR  # type: ignore[union-attr]  # the fixture tree holds this entry


@pytest.mark.parametrize("fmt", FORMATS)
def test_iter_entries_under_and_iter_dir(sandbox: Path, fmt: str) -> None:
    path = build(fmt, sandbox, kubeadm_members("relative"))
    with forbid_writes(sandbox), open_tree(path) as tree:
        under = [e.path for e in tree.iter_entries(under="/etc/kubernetes/")]
        assert under == [
            "etc/kubernetes/admin.conf",
            "etc/kubernetes/manifests",
            "etc/kubernetes/manifests/kube-apiserver.yaml",
            "etc/kubernetes/pki",
            "etc/kubernetes/pki/ca.crt",
        ]
        assert [e.path for e in tree.iter_dir("etc/kubernetes")] == [
            "etc/kubernetes/admin.conf",
            "etc/kubernetes/manifests",
            "etc/kubernetes/pki",
        ]
        assert [e.path for e in tree.iter_dir()] == ["etc", "var"]
        assert list(tree.iter_dir("etc/kubernetes/admin.conf")) == []
        assert list(tree.iter_dir("missing")) == []
        with pytest.raises(ValueError):
            list(tree.iter_entries(under="etc/.."))


@pytest.mark.parametrize("fmt", FORMATS)
def test_reading_a_missing_file_or_a_directory_is_a_one_line_error(sandbox: Path, fmt: str) -> None:
    path = build(fmt, sandbox, kubeadm_members("relative"))
    with forbid_writes(sandbox), open_tree(path) as tree:
        with pytest.raises(EvidenceError, match="no such file") as missing:
            tree.read_bytes("etc/kubernetes/pki/apiserver.key")
        assert_one_line(missing.value, path)
        assert "etc/kubernetes/pki/apiserver.key" in str(missing.value)
        with pytest.raises(EvidenceError, match="is a directory"):
            tree.read_bytes("etc/kubernetes")


LINKS = [
    Dir("etc"),
    Dir("etc/kubernetes"),
    Dir("etc/kubernetes/pki"),
    File("etc/kubernetes/pki/ca.crt", b"CA"),
    Symlink("etc/kubernetes/pki-link", "pki"),
    Symlink("current", "/etc/kubernetes/pki-link/ca.crt"),
    Symlink("up", "etc/kubernetes/pki/../../kubernetes/pki/ca.crt"),
    Dir("loop"),
    Symlink("loop/a", "b"),
    Symlink("loop/b", "a"),
    Symlink("dangling", "nowhere/at/all"),
    Symlink("through-file", "etc/kubernetes/pki/ca.crt/x"),
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_links_chain_through_directories_and_loops_are_cut(sandbox: Path, fmt: str) -> None:
    path = build(fmt, sandbox, LINKS)
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert tree.problems == ()
        assert tree.read_bytes("etc/kubernetes/pki-link/ca.crt") == b"CA"
        assert tree.read_bytes("current") == b"CA"
        assert tree.read_bytes("up") == b"CA"
        assert tree.resolve("current") == "etc/kubernetes/pki/ca.crt"
        # stat follows links in the parents only.
        assert tree.stat("etc/kubernetes/pki-link/ca.crt").path == "etc/kubernetes/pki/ca.crt"  # type: ignore[union-attr]  # the fixture tree holds this entry
        assert tree.stat("etc/kubernetes/pki-link").kind is EntryKind.SYMLINK  # type: ignore[union-attr]  # the fixture tree holds this entry
        assert [e.path for e in tree.iter_dir("etc/kubernetes/pki-link")] == [
            "etc/kubernetes/pki/ca.crt"
        ]
        assert tree.resolve("dangling") is None and tree.stat("dangling") is not None
        assert tree.resolve("through-file") is None
        with pytest.raises(CorruptEvidence, match="too many levels") as loop:
            tree.resolve("loop/a")
        assert_one_line(loop.value, path)
        with pytest.raises(CorruptEvidence):
            tree.read_bytes("loop/b")


def test_link_hop_limit_is_a_limit(sandbox: Path) -> None:
    chain = [
        File("f", b"end"),
        Symlink("l0", "f"),
        *(Symlink(f"l{i}", f"l{i - 1}") for i in range(1, 5)),
    ]
    path = build("tar", sandbox, chain)
    with forbid_writes(sandbox):
        with open_tree(path, limits=Limits(max_link_hops=5)) as tree:
            assert tree.read_bytes("l4") == b"end"
        with (
            open_tree(path, limits=Limits(max_link_hops=4)) as tree,
            pytest.raises(CorruptEvidence, match="too many levels"),
        ):
            tree.read_bytes("l4")


# --------------------------------------------------------------------------- tar details


def test_member_names_are_normalised_and_directories_implied(sandbox: Path) -> None:
    path = build_tar(
        sandbox / "dots.tar.gz", [Dir("./"), File("./etc/x", b"x"), File("a//b/./c", b"c")], "gz"
    )
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert [e.path for e in tree.iter_entries()] == ["a", "a/b", "a/b/c", "etc", "etc/x"]
        implied = tree.stat("a/b")
        assert implied is not None and implied.kind is EntryKind.DIR
        assert implied.mode is None and implied.mtime_utc is None
        assert tree.read_bytes("/etc/x") == tree.read_bytes("./etc/x") == b"x"
        assert [e.path for e in tree.iter_dir("a")] == ["a/b"]
        assert tree.problems == ()


def test_explicit_directory_after_its_children_keeps_its_own_metadata(sandbox: Path) -> None:
    path = build_tar(sandbox / "late.tar", [File("d/f", b"1"), Dir("d", 0o700)])
    with forbid_writes(sandbox), open_tree(path) as tree:
        entry = tree.stat("d")
        assert entry is not None and entry.mode == 0o700 and entry.mtime_utc == STAMP
        assert tree.problems == ()


@pytest.mark.parametrize("fmt", ["tar", "tar.gz"])
def test_hard_links_are_listed_as_their_target(sandbox: Path, fmt: str) -> None:
    members = [
        File("pki/ca.crt", b"CA-BYTES"),
        HardLink("pki/ca-copy.crt", "pki/ca.crt"),
        HardLink("pki/orphan.crt", "pki/missing.crt"),
    ]
    path = build(fmt, sandbox, members)
    with forbid_writes(sandbox), open_tree(path) as tree:
        copy = tree.stat("pki/ca-copy.crt")
        assert copy is not None and copy.kind is EntryKind.FILE and copy.size == 8
        assert tree.read_bytes("pki/ca-copy.crt") == b"CA-BYTES"
        assert tree.stat("pki/orphan.crt") is None
        assert [p.path for p in tree.problems] == ["pki/orphan.crt"]
        assert "hard link" in tree.problems[0].problem


def test_compressed_tar_holds_only_wanted_contents(sandbox: Path) -> None:
    members = [
        File("etc/kubernetes/admin.conf", b"kubeconfig"),
        File("var/log/journal/system.journal", b"J" * 100_000),
    ]
    path = build("tar.xz", sandbox, members)
    with forbid_writes(sandbox):
        tree = open_tree(path, want=lambda p: p.startswith("etc/"))
    assert files_of(tree) == {
        "etc/kubernetes/admin.conf": 10,
        "var/log/journal/system.journal": 100_000,
    }
    assert tree.read_bytes("etc/kubernetes/admin.conf") == b"kubeconfig"
    with pytest.raises(EvidenceError, match="not kept"):
        tree.read_bytes("var/log/journal/system.journal")
    assert tree.problems == () and not tree.partial


def test_detection_is_by_content_not_by_name(sandbox: Path) -> None:
    path = sandbox / "evidence.zip"
    path.write_bytes(tar_bytes([File("etc/x", b"x")], "gz"))
    with forbid_writes(sandbox):
        tree = open_tree(path)
    assert tree.format == "tar.gz" and tree.read_bytes("etc/x") == b"x"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (tar_bytes([File("a", b"a")]), Container.TAR),
        (tar_bytes([File("a", b"a")], "gz"), Container.GZIP),
        (tar_bytes([File("a", b"a")], "xz"), Container.XZ),
        (tar_bytes([File("a", b"a")], "bz2"), Container.BZIP2),
        (zip_bytes([File("a", b"a")]), Container.ZIP),
        (zip_bytes([]), Container.ZIP),
        (b"BZh is not enough", None),
        (b"", None),
    ],
    ids=["tar", "tar.gz", "tar.xz", "tar.bz2", "zip", "empty-zip", "bzip2-magic-alone", "empty"],  # gzip bytes carry a time
)
def test_sniff_container_leaves_the_position_alone(data: bytes, expected: Container | None) -> None:
    stream = io.BytesIO(b"xyz" + data)
    stream.seek(3)
    assert sniff_container(stream) is expected
    assert stream.tell() == 3


def test_empty_zip_is_an_empty_tree(sandbox: Path) -> None:
    path = build_zip(sandbox / "empty.zip", [])
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert list(tree.iter_entries()) == [] and tree.problems == ()


def test_zip_without_unix_times_has_no_guessed_mtime(sandbox: Path) -> None:
    path = sandbox / "dos.zip"
    path.write_bytes(zip_bytes([File("a", b"a")], unix_times=False))
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert tree.stat("a").mtime_utc is None  # type: ignore[union-attr]  # the fixture tree holds this entry


# --------------------------------------------------------------------------- hostile members


HOSTILE_TAR = [
    File("../evil", b"x"),
    File("/etc/passwd", b"root::0:0"),
    File("a/../../b", b"b"),
    File("ok/file", b"first"),
    File("ok/file", b"second"),
    Special("dev/tty0", "chr"),
    Special("run/fifo", "fifo"),
    Symlink("esc/rel", "../../../etc/shadow"),
    Symlink("esc/abs", "/../../etc/shadow"),
    Symlink("deep/up", ".."),
    Symlink("esc/sneaky", "../deep/up/../etc/shadow"),
    Symlink("etc-link", "/etc"),
    File("etc-link/passwd", b"written through a link"),
]


def assert_escapes(tree: EvidenceTree, link: str) -> None:
    with pytest.raises(CorruptEvidence, match="leads out of the evidence") as escape:
        tree.resolve(link)
    assert link in str(escape.value) or "deep/up" in str(escape.value)
    with pytest.raises(CorruptEvidence):
        tree.read_bytes(link)


def test_hostile_tar_members_are_reported_and_skipped(sandbox: Path) -> None:
    path = build_tar(sandbox / "hostile.tar.gz", HOSTILE_TAR, "gz")
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert {e.path for e in tree.iter_entries()} == {
            "ok", "ok/file", "esc", "esc/rel", "esc/abs", "esc/sneaky", "deep", "deep/up",
            "etc-link",
        }  # fmt: skip
        assert tree.read_bytes("ok/file") == b"first"
        problems = {p.path: p.problem for p in tree.problems}
        assert "absolute" in problems["/etc/passwd"]
        assert "'..'" in problems["../evil"] and "'..'" in problems["a/../../b"]
        assert "duplicate" in problems["ok/file"]
        assert "character device" in problems["dev/tty0"] and "fifo" in problems["run/fifo"]
        assert "parent etc-link is a symlink" in problems["etc-link/passwd"]
        assert (
            "leaves the evidence" in problems["esc/rel"]
            and "leaves the evidence" in problems["esc/abs"]
        )
        assert tree.stat("esc/rel").link_target == "../../../etc/shadow"  # type: ignore[union-attr]  # the fixture tree holds this entry
        for link in ("esc/rel", "esc/abs", "esc/sneaky"):  # the last escapes only via another link
            assert_escapes(tree, link)
        # An absolute link is the evidence's own /etc, which the archive does not hold.
        assert tree.resolve("etc-link") is None
        assert not tree.partial


def test_hostile_zip_members_are_reported_and_skipped(sandbox: Path) -> None:
    members = [
        File("../evil", b"x"),
        File("/etc/passwd", b"root"),
        File("ok/file", b"first"),
        File("ok/file", b"second"),
        Special("run/fifo", "fifo"),
        Symlink("esc/rel", "../../../etc/shadow"),
        Symlink("esc/abs", "/../../etc/shadow"),
    ]
    path = build_zip(sandbox / "hostile.zip", members)
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert {e.path for e in tree.iter_entries()} == {
            "ok",
            "ok/file",
            "esc",
            "esc/rel",
            "esc/abs",
        }
        assert tree.read_bytes("ok/file") == b"first"
        problems = {p.path: p.problem for p in tree.problems}
        assert set(problems) == {
            "../evil",
            "/etc/passwd",
            "ok/file",
            "run/fifo",
            "esc/rel",
            "esc/abs",
        }
        for link in ("esc/rel", "esc/abs"):
            assert_escapes(tree, link)


def test_directory_links_never_leave_the_evidence(sandbox: Path) -> None:
    secret = sandbox / "outside-secret"
    secret.write_bytes(b"host secret")
    members = [
        File("etc/kubernetes/admin.conf", b"conf"),
        Symlink("leak-relative", "../outside-secret"),
        Symlink("leak-absolute", str(secret)),  # the evidence's own /tmp/..., not this host's
        Symlink("leak-dotdot", "/../outside-secret"),
        Special("fifo", "fifo"),
    ]
    root = build_directory(sandbox / "evidence", members)
    with forbid_writes(sandbox), open_tree(root) as tree:
        assert {e.path for e in tree.iter_entries()} >= {
            "leak-relative",
            "leak-absolute",
            "leak-dotdot",
        }
        assert tree.stat("fifo") is None
        problems = {p.path: p.problem for p in tree.problems}
        assert set(problems) == {"leak-relative", "leak-dotdot", "fifo"}
        assert "leaves the evidence" in problems["leak-relative"]
        for link in ("leak-relative", "leak-dotdot"):
            assert_escapes(tree, link)
        assert tree.resolve("leak-absolute") is None
        with pytest.raises(EvidenceError, match="no such file"):
            tree.read_bytes("leak-absolute")


def test_problem_paths_are_one_printable_line(sandbox: Path) -> None:
    path = build_tar(sandbox / "escape.tar", [File("/x\n\x1b[31mred", b"")])
    with forbid_writes(sandbox), open_tree(path) as tree:
        (problem,) = tree.problems
        assert problem.path == "/x\\n\\x1b[31mred"


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize("fmt", FORMATS)
def test_member_over_the_size_limit_is_listed_not_read(sandbox: Path, fmt: str) -> None:
    path = build(fmt, sandbox, [File("big.log", b"B" * 200), File("small.crt", b"S" * 50)])
    with forbid_writes(sandbox), open_tree(path, limits=Limits(max_member_bytes=100)) as tree:
        assert files_of(tree) == {"big.log": 200, "small.crt": 50}
        assert [(p.path, "200 bytes" in p.problem) for p in tree.problems] == [("big.log", True)]
        assert not tree.partial
        assert tree.read_bytes("small.crt") == b"S" * 50
        with pytest.raises(EvidenceError, match="200 bytes"):
            tree.read_bytes("big.log")
        if fmt in STREAMED_FORMATS:  # nothing of it was held
            with pytest.raises(EvidenceError):
                tree.read_bytes("big.log", limit=10)
        else:  # read in place: a prefix is still within bounds
            assert tree.read_bytes("big.log", limit=10) == b"B" * 10


@pytest.mark.parametrize("fmt", FORMATS)
def test_member_count_limit_stops_and_marks_partial(sandbox: Path, fmt: str) -> None:
    path = build(fmt, sandbox, [File(f"f{i:02}", b"x") for i in range(20)])
    with forbid_writes(sandbox), open_tree(path, limits=Limits(max_members=5)) as tree:
        assert tree.partial
        assert len(list(tree.iter_entries())) == 5
        assert any("more than 5 members" in p.problem for p in tree.problems)


def test_total_held_bytes_limit(sandbox: Path) -> None:
    path = build("tar.gz", sandbox, [File(f"f{i}", bytes([65 + i]) * 100) for i in range(3)])
    with forbid_writes(sandbox), open_tree(path, limits=Limits(max_total_bytes=250)) as tree:
        assert tree.read_bytes("f0") == b"A" * 100 and tree.read_bytes("f1") == b"B" * 100
        with pytest.raises(EvidenceError, match="used up"):
            tree.read_bytes("f2")
        assert [p.path for p in tree.problems] == ["f2"] and not tree.partial


def test_stream_limit_stops_before_decompressing(sandbox: Path) -> None:
    path = build("tar.gz", sandbox, [File("small", b"s"), File("bomb", bytes(1_000_000))])
    with forbid_writes(sandbox), open_tree(path, limits=Limits(max_stream_bytes=100_000)) as tree:
        assert files_of(tree) == {"small": 1}
        assert tree.partial and tree.problems[-1].path == "bomb"


def test_oversized_pax_header_is_refused(sandbox: Path) -> None:
    raw = tar_bytes([File("a", b"a"), File("b" * 200 + "/long", b"b")])
    # tarfile wrote a pax header for the long name; claim it is 4 GiB (size field, octal).
    pax = raw.index(b"././@PaxHeader")
    size_field = pax + 124
    forged = raw[:size_field] + b"%011o\x00" % (4 << 30) + raw[size_field + 12 :]
    checksum = sum(forged[pax : pax + 148]) + 8 * 32 + sum(forged[pax + 156 : pax + 512])
    forged = forged[: pax + 148] + b"%06o\x00 " % checksum + forged[pax + 156 :]
    path = sandbox / "pax.tar.gz"
    path.write_bytes(gzip.compress(forged))
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert files_of(tree) == {"a": 1} and tree.partial
        assert "extended header declares" in tree.problems[-1].problem


def test_nesting_depth_is_bounded(sandbox: Path) -> None:
    innermost = tar_bytes([File("x", b"x")], "gz")
    inner = tar_bytes([File("innermost.tar.gz", innermost)])
    path = build_tar(sandbox / "outer.tar.gz", [File("inner.tar", inner)], "gz")
    with (
        forbid_writes(sandbox),
        open_tree(path, limits=Limits(max_nesting=1)) as outer,
        open_member_tree(outer, "inner.tar") as middle,
    ):
        assert middle.depth == 1
        with pytest.raises(UnsupportedEvidence, match="nested more than 1 deep"):
            open_member_tree(middle, "innermost.tar.gz")


# --------------------------------------------------------------------------- zip bombs


def test_zip_member_declaring_less_than_it_holds_is_corrupt(sandbox: Path) -> None:
    secret = b"PRIVATE KEY MATERIAL " * 5000  # ~100 kB, deflates to almost nothing
    data = forge_zip_size(zip_bytes([File("tls.key", secret), File("ok", b"fine")]), "tls.key", 10)
    path = sandbox / "bomb.zip"
    path.write_bytes(data)
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert files_of(tree) == {"tls.key": 10, "ok": 4}
        with pytest.raises(CorruptEvidence) as corrupt:
            tree.read_bytes("tls.key")
        assert_one_line(corrupt.value, path)
        assert b"PRIVATE" not in str(corrupt.value).encode()
        assert tree.read_bytes("ok") == b"fine"


def test_zip_member_declaring_more_than_it_holds_is_corrupt(sandbox: Path) -> None:
    data = forge_zip_size(zip_bytes([File("short", b"only this")]), "short", 5000)
    path = sandbox / "short.zip"
    path.write_bytes(data)
    with (
        forbid_writes(sandbox),
        open_tree(path) as tree,
        pytest.raises(CorruptEvidence, match="declares 5000"),
    ):
        tree.read_bytes("short")


def test_zip_needing_a_newer_version_to_extract_is_one_line_not_a_crash(sandbox: Path) -> None:
    # Python's zipfile raises NotImplementedError for the whole archive when one member needs a
    # version past 6.3; the tree says so and names the version.
    data = forge_zip_version(zip_bytes([File("a", b"a"), File("b", b"b")]), "b", 99)
    path = sandbox / "new.zip"
    path.write_bytes(data)
    with forbid_writes(sandbox), pytest.raises(UnsupportedEvidence, match=r"newer reader \(zip file version 9\.9\)") as exc:
        open_tree(path)
    assert_one_line(exc.value, path)


def test_zip_member_with_an_empty_name_is_skipped_not_a_crash(sandbox: Path) -> None:
    # Found by fuzz/target_archives.py: zipfile's ZipInfo.is_dir() raises IndexError on it.
    path = sandbox / "empty-name.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo(""), b"a")
        archive.writestr("b", b"b")
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert files_of(tree) == {"b": 1}
        assert any(p.problem == "member with an empty name; skipped" for p in tree.problems)


def test_zip_member_declaring_a_huge_size_is_never_decompressed(sandbox: Path) -> None:
    data = forge_zip_size(zip_bytes([File("huge", bytes(1000))]), "huge", 3 << 30)
    path = sandbox / "huge.zip"
    path.write_bytes(data)
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert files_of(tree) == {"huge": 3 << 30}
        assert tree.problems[0].path == "huge"
        with pytest.raises(EvidenceError, match="more than"):
            tree.read_bytes("huge")


# --------------------------------------------------------------------------- damaged inputs


def _random_members() -> list[File]:
    rng = random.Random(7)  # incompressible contents spread the members over the whole file
    return [File(f"etc/kubernetes/pki/f{i}.crt", rng.randbytes(40_000)) for i in range(6)]


def _check_damaged(path: Path, members: list[File]) -> EvidenceTree | None:
    """Open a damaged archive: a one-line EvidenceError, or a tree that is honest about it."""
    try:
        tree = open_tree(path)
    except EvidenceError as exc:
        assert_one_line(exc, path)
        return None
    expected = {m.name: m.data for m in members}
    listed = files_of(tree)
    if not tree.partial:
        assert listed == {name: len(data) for name, data in expected.items()}
    else:
        assert tree.problems and "offset" in tree.problems[-1].problem
        assert "\n" not in tree.problems[-1].problem
    for name in listed:
        try:
            assert tree.read_bytes(name) == expected[name]
        except EvidenceError as exc:
            assert tree.partial
            assert_one_line(exc, path)
    return tree


@pytest.mark.parametrize("fmt", ["tar", *STREAMED_FORMATS, "zip"])
def test_cut_archives_give_what_was_read_or_a_clean_error(sandbox: Path, fmt: str) -> None:
    members = _random_members()
    whole = build(fmt, sandbox, members).read_bytes()
    size = len(whole)
    cuts = sorted({1, 10, 100, 300, 512, size // 4, size // 2, 3 * size // 4, size - 100, size - 1})
    paths = []
    for cut in cuts:
        paths.append(sandbox / f"cut-{cut}.{fmt}")
        paths[-1].write_bytes(whole[:cut])
    with forbid_writes(sandbox):
        trees = [_check_damaged(path, members) for path in paths]
    if fmt != "zip":  # a zip keeps its directory at the end: any cut loses it, by design
        half = trees[cuts.index(size // 2)]
        assert half is not None and half.partial
        readable = [name for name in files_of(half) if name in {m.name for m in members[:2]}]
        assert readable and half.read_bytes(readable[0]) == members[0].data


def test_cut_tar_names_the_member_it_broke_in(sandbox: Path) -> None:
    members = _random_members()
    whole = tar_bytes(members)
    path = sandbox / "cut.tar"
    path.write_bytes(whole[: 512 + 20_000])  # inside the data of the first member
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert tree.partial
        assert tree.problems[-1].path == members[0].name
        assert "cut off inside this member" in tree.problems[-1].problem
        with pytest.raises(TruncatedEvidence):
            tree.read_bytes(members[0].name)


@pytest.mark.parametrize("compress", [False, True])
def test_tar_ending_between_members_without_end_marker_is_partial(
    sandbox: Path, compress: bool
) -> None:
    # tarfile takes a missing header for the end; here the tar (even inside an intact gzip
    # stream) stops at a block boundary after "a", so "b" is lost and that must be said.
    raw = tar_bytes([File("a", b"a" * 10), File("b", b"b" * 10)])[:1024]
    path = sandbox / "short.tar"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert files_of(tree) == {"a": 10} and tree.read_bytes("a") == b"a" * 10
        assert tree.partial
        assert "without its end-of-archive marker" in tree.problems[-1].problem
        assert "offset 1024" in tree.problems[-1].problem


def test_garbled_header_mid_archive_is_reported_not_taken_as_the_end(sandbox: Path) -> None:
    members = [File("a", b"a" * 10), File("b", b"b" * 10), File("c", b"c")]
    raw = bytearray(tar_bytes(members))
    second = raw.index(b"b\x00", 1024) // 512 * 512  # the header block of "b"
    raw[second + 148 : second + 156] = b"9999999\x00"  # a checksum that cannot match
    path = sandbox / "garbled.tar"
    path.write_bytes(bytes(raw))
    with forbid_writes(sandbox), open_tree(path) as tree:
        assert files_of(tree) == {"a": 10}
        assert tree.partial and "damaged header" in tree.problems[-1].problem


def test_random_bytes_are_unsupported(sandbox: Path) -> None:
    path = sandbox / "noise.tar.gz"
    path.write_bytes(b"\x13\x37" + random.Random(3).randbytes(4000))
    with (
        forbid_writes(sandbox),
        pytest.raises(UnsupportedEvidence, match="first bytes: 13 37") as exc,
    ):
        open_tree(path)
    assert_one_line(exc.value, path)


@pytest.mark.parametrize(
    ("content", "error", "phrase"),
    [
        (b"", UnsupportedEvidence, "empty file"),
        (b"\x28\xb5\x2f\xfd" + bytes(600), UnsupportedEvidence, "zstd"),
        (gzip.compress(b"just a log line\n" * 100), UnsupportedEvidence, "not a tar archive"),
        (b"\x1f\x8b\x08\x00" + bytes(6) + b"\xff" * 600, CorruptEvidence, "gzip data is damaged"),
        (gzip.compress(bytes(5000))[:20], TruncatedEvidence, "cut off"),
    ],
    ids=["empty", "zstd", "gzip-of-a-log", "damaged-gzip", "cut-gzip"],  # gzip bytes carry a time
)
def test_files_that_are_not_usable_archives(
    sandbox: Path, content: bytes, error: type[EvidenceError], phrase: str
) -> None:
    path = sandbox / "input"
    path.write_bytes(content)
    with forbid_writes(sandbox), pytest.raises(error, match=phrase) as exc:
        open_tree(path)
    assert_one_line(exc.value, path)


def test_missing_path(sandbox: Path) -> None:
    path = sandbox / "nowhere" / "y.tar.gz"
    with forbid_writes(sandbox), pytest.raises(EvidenceError) as exc:
        open_tree(path)
    assert str(exc.value) == f"{path}: no such file"


def test_fifo_input_is_refused_without_blocking(sandbox: Path) -> None:
    path = sandbox / "pipe"
    os.mkfifo(path)
    with forbid_writes(sandbox), pytest.raises(UnsupportedEvidence, match="fifo"):
        open_tree(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a directory whatever its mode")
def test_unreadable_directory_really(sandbox: Path) -> None:
    root = build_directory(sandbox / "evidence", [File("a", b"a"), Dir("locked")])
    (root / "locked").chmod(0)
    try:
        with forbid_writes(sandbox):
            tree = open_tree(root)
            assert tree.partial and tree.problems[0].path == "locked"
            root.chmod(0)
            with pytest.raises(EvidenceError) as exc:
                open_tree(root)
    finally:
        root.chmod(0o755)
        (root / "locked").chmod(0o755)
    assert str(exc.value) == f"{root}: cannot read: permission denied"


def _deny(real: object, denied: str) -> object:
    def guarded(path: object, *args: object, **kwargs: object) -> object:
        if os.fspath(path).endswith(denied):  # type: ignore[call-overload]  # the patched os functions take path-likes
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real(*(path, *args), **kwargs)  # type: ignore[operator]  # real is the os function it replaces

    return guarded


def test_permission_denied_is_a_one_line_error_or_a_partial_tree(sandbox: Path) -> None:
    # Runs as any user (root ignores modes): the OS refusal is simulated where the module asks.
    root = build_directory(
        sandbox / "evidence",
        [File("a.crt", b"a"), File("pki/secret.key", b"k"), Dir("locked"), File("locked/x", b"x")],
    )
    real_scandir, real_open = os.scandir, os.open
    with forbid_writes(sandbox), pytest.MonkeyPatch.context() as monkeypatch:
        # Undone before forbid_writes lists the sandbox with the real scandir.
        monkeypatch.setattr(directory.os, "scandir", _deny(real_scandir, "locked"))
        monkeypatch.setattr(directory.os, "open", _deny(real_open, "secret.key"))
        tree = open_tree(root)
        assert tree.partial
        assert [(p.path, "permission denied" in p.problem) for p in tree.problems] == [
            ("locked", True)
        ]
        assert tree.read_bytes("a.crt") == b"a"
        with pytest.raises(EvidenceError) as exc:
            tree.read_bytes("pki/secret.key")
        assert str(exc.value) == f"{root} (member pki/secret.key): cannot read: permission denied"
        monkeypatch.setattr(directory.os, "scandir", _deny(real_scandir, "evidence"))
        with pytest.raises(EvidenceError) as top:
            open_tree(root)
        assert str(top.value) == f"{root}: cannot read: permission denied"


def test_directory_file_replaced_by_a_link_is_not_followed(sandbox: Path) -> None:
    root = build_directory(sandbox / "evidence", [File("pki/ca.crt", b"CA")])
    (sandbox / "elsewhere").write_bytes(b"EL")
    with forbid_writes(sandbox):
        tree = open_tree(root)
    (root / "pki/ca.crt").unlink()
    os.symlink(sandbox / "elsewhere", root / "pki/ca.crt")  # after listing: a race with a mover
    with forbid_writes(sandbox), pytest.raises(EvidenceError, match="cannot read"):
        tree.read_bytes("pki/ca.crt")


def test_directory_file_that_changed_size_since_listing_is_not_trusted(sandbox: Path) -> None:
    root = build_directory(sandbox / "evidence", [File("pki/ca.crt", b"CA")])
    with forbid_writes(sandbox):
        tree = open_tree(root)
    (root / "pki/ca.crt").write_bytes(b"CA plus more")
    with (
        forbid_writes(sandbox),
        pytest.raises(CorruptEvidence, match="changed since it was listed"),
    ):
        tree.read_bytes("pki/ca.crt")


# --------------------------------------------------------------------------- nested archives


BACKUP = "static_kuberesources_2024-05-01_134501.tar.gz"
INNER_CERT = (
    "static-pod-resources/kube-apiserver-pod-7/secrets/localhost-recovery-serving-certkey/tls.crt"
)


@pytest.mark.parametrize("fmt", FORMATS)
def test_nested_backup_tarball_opens_from_any_parent(sandbox: Path, fmt: str) -> None:
    inner = tar_bytes([File(INNER_CERT, b"CERT")], "gz")
    members = [
        File("snapshot_2024-05-01_134501.db", b"\x00" * 64),
        File(BACKUP, inner),
        File("notes.txt", b"hi"),
    ]
    path = build(fmt, sandbox, members)
    with forbid_writes(sandbox), open_tree(path) as parent:
        with open_member_tree(parent, BACKUP) as nested:
            assert nested.source == f"{path}!{BACKUP}"
            assert nested.format == "tar.gz" and nested.depth == 1
            assert nested.read_bytes(INNER_CERT) == b"CERT"
        with pytest.raises(UnsupportedEvidence) as exc:
            open_member_tree(parent, "notes.txt")
        assert str(exc.value).startswith(f"{path}!notes.txt: ")
        with pytest.raises(EvidenceError, match="no such file"):
            open_member_tree(parent, "missing.tar.gz")


def test_a_streamed_zip_member_that_fails_its_crc_is_partial_not_a_crash(sandbox: Path) -> None:
    """Over the member limit a nested archive is streamed; zipfile checks the CRC only at its end."""
    inner = tar_bytes([File("a", random.Random(1).randbytes(20_000))], "gz")
    data = bytearray(zip_bytes([File(BACKUP, inner)]))
    data[len(inner) // 2 + 60] ^= 0xFF  # inside the member's data, past the local header
    path = sandbox / "backup.zip"
    path.write_bytes(bytes(data))
    with forbid_writes(sandbox), open_tree(path, limits=Limits(max_member_bytes=1000)) as parent:
        with open_member_tree(parent, BACKUP) as nested:
            assert nested.partial
            assert any("CRC" in problem.problem for problem in nested.problems)


def test_nested_plain_tar_reads_in_place(sandbox: Path) -> None:
    inner = tar_bytes([File("a/b", b"inner-b"), Symlink("a/c", "b")])
    path = build_tar(sandbox / "outer.tar", [File("x", b"x"), File("inner.tar", inner)])
    with forbid_writes(sandbox), open_tree(path) as outer:
        with open_member_tree(outer, "inner.tar") as nested:
            assert nested.format == "tar"
            assert nested.read_bytes("a/c") == b"inner-b"
        assert outer.read_bytes("x") == b"x"


def test_forbid_writes_catches_a_write(tmp_path: Path) -> None:
    # The guard every test above relies on must itself be able to fail: by the audit hook ...
    with (
        pytest.raises(AssertionError, match="wrote"),
        forbid_writes(tmp_path),
        open(os.devnull, "w"),
    ):
        pass
    # ... and by the listing, for a change the hook cannot see (another process).
    with pytest.raises(AssertionError, match="changed"), forbid_writes(tmp_path):
        subprocess.run(["touch", str(tmp_path / "new")], check=True)
