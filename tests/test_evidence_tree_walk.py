"""analyzer.evidence.tree.walk: the one path walk, over a tree's paths and over host paths."""

from __future__ import annotations

from analyzer.evidence.tree.entries import Entry, EntryKind
from analyzer.evidence.tree.walk import Stop, walk_path


def _entries(**links: str) -> dict[str, Entry]:
    found = {path: Entry(path, EntryKind.DIR, 0, None, None, None) for path in ("etc", "etc/kubernetes", "var")}
    found["etc/kubernetes/ca.crt"] = Entry("etc/kubernetes/ca.crt", EntryKind.FILE, 10, None, None, None)
    for path, target in links.items():
        path = path.replace("__", "/")
        found[path] = Entry(path, EntryKind.SYMLINK, 0, target, None, None)
    return found


def _walk(entries: dict[str, Entry], path: str, **kw: object) -> tuple[str, Stop | None]:
    walked = walk_path(path, entries.get, follow_last=bool(kw.get("follow_last", True)), max_hops=4, rooted=bool(kw.get("rooted", False)))
    return "/".join(walked.parts), walked.stop


def test_links_are_followed_from_where_they_lead() -> None:
    entries = _entries(var__pki="../etc/kubernetes", var__abs="/etc/kubernetes/ca.crt")
    assert _walk(entries, "var/pki/ca.crt") == ("etc/kubernetes/ca.crt", None)
    assert _walk(entries, "var/abs") == ("etc/kubernetes/ca.crt", None)
    assert _walk(entries, "var/abs", follow_last=False) == ("var/abs", None)


def test_every_way_a_walk_stops() -> None:
    entries = _entries(var__a="b", var__b="a", var__empty="")
    assert _walk(entries, "var/a")[1] is Stop.LOOP
    assert _walk(entries, "var/empty")[1] is Stop.EMPTY_LINK
    assert _walk(entries, "etc/missing")[1] is Stop.NOTHING
    assert _walk(entries, "etc/kubernetes/ca.crt/x")[1] is Stop.NOT_A_DIRECTORY
    assert _walk(entries, "../etc")[1] is Stop.ABOVE_ROOT


def test_host_paths_clamp_at_the_root_and_may_be_implied() -> None:
    rooted = {"/" + path: entry for path, entry in _entries().items()}
    walked = walk_path("/../etc/kubernetes/ca.crt", rooted.get, follow_last=True, max_hops=4, rooted=True)
    assert walked.parts == ("etc", "kubernetes", "ca.crt") and walked.stop is None
    implied = walk_path("/var/lib/kubelet", rooted.get, follow_last=True, max_hops=4, rooted=True,
                        implied=lambda path: path in ("/var/lib", "/var/lib/kubelet"))
    assert implied.parts == ("var", "lib", "kubelet") and implied.stop is None
    missing = walk_path("/var/lib", rooted.get, follow_last=True, max_hops=4, rooted=True)
    assert missing.stop is Stop.NOTHING and missing.at == "/var/lib"
