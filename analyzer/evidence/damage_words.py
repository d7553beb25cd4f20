"""The words for each kind of damage that more than one reader meets: one function per kind.

``DamageLog`` keeps an entry once by its page, bucket and words. The same damage is met by several
readers (the tree walk, a leaf read by id, the index pass, a lookup, a value read), and it counts
once only while they word it alike; a copy of the words that drifted would count it twice,
silently. So every reader words it here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analyzer.evidence.bbolt_format import MAX_DEPTH

if TYPE_CHECKING:  # mvcc pulls in protobuf, which the bbolt readers do not need
    from analyzer.evidence.mvcc import Revision

_LOOP = "the tree has a cycle or shared page"


def came_from(parent: int | None) -> str:
    """Where the walk came from, appended to what it met (nothing at a bucket's root)."""
    return f" (referenced from page {parent})" if parent is not None else ""


def reached_twice(parent: int | None) -> str:
    return f"page reached twice{came_from(parent)}; {_LOOP}"


def too_deep(parent: int | None) -> str:
    return f"tree deeper than {MAX_DEPTH} levels{came_from(parent)}; {_LOOP}"


def too_deep_in_lookup() -> str:
    return f"tree deeper than {MAX_DEPTH} levels during a lookup"


def not_a_tree_page(flags: int, parent: int | None) -> str:
    """A page the walk entered that is neither a branch nor a leaf."""
    return f"page flags {flags:#x} where a branch or leaf page was expected{came_from(parent)}"


def not_a_leaf(flags: int) -> str:
    """A page named as a leaf (by its branch, read by id) that is not one."""
    return f"page flags {flags:#x} do not make a leaf page"


def element_past_end(element: int, page_bytes: int | None = None) -> str:
    """A leaf element whose key or value runs past its page; a lookup, which stops there, gives no size."""
    size = f" ({page_bytes} bytes)" if page_bytes is not None else ""
    return f"element {element} points past the end of the page{size}"


def not_a_revision(key: bytes | memoryview) -> str:
    """A key of etcd's ``key`` bucket that is not a revision (main, '_', sub)."""
    return f"key {key.hex()} is not a revision"


def revision_missing(revision: Revision) -> str:
    """A revision that a lookup of etcd's ``key`` bucket does not find."""
    return f"revision {revision} is not in the key bucket"
