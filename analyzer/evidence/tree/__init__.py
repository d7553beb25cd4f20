"""One read-only virtual tree over a directory or an archive (the package: one module per reader).

Whatever the customer sent — a copied ``/etc/kubernetes``, a tarball of it, a sosreport, the
output of OpenShift's ``cluster-backup.sh`` — becomes an ``EvidenceTree``: a listing of entries
(file, directory, symbolic link) under POSIX paths relative to the evidence root, plus bounded,
read-only access to file contents. Everything downstream reads that one kind of tree (the idea of
dissect.target's tar loader and virtual filesystem).

Rules every tree keeps:

* **Nothing is extracted and nothing is written.** Directories are walked with ``os.scandir``
  without following links; files are opened read-only beneath the root, one component at a time,
  refusing symlinks. Uncompressed tar and zip are read in place; compressed tars are read in one
  streaming pass and the contents that fit the limits are held in memory.
* **Links stay inside the evidence.** A link target is interpreted inside the tree: an absolute
  target such as ``/var/lib/kubelet/pki/kubelet-client-2024-05-01-10-00-00.pem`` is relative to the
  *evidence's* root, never the analysing machine's. A link that climbs above the root is listed
  (it is evidence too) and reported, but never followed.
* **Hostile members are reported, not obeyed.** Absolute names, ``..`` components, devices and
  fifos, members under a non-directory, and duplicate names are skipped and named in
  ``problems``; a damaged archive yields the members read before the damage with ``partial=True``.
* **Everything is bounded** by ``Limits``: bytes per member and in total held, members per tree,
  link hops, uncompressed bytes streamed, and archive nesting depth.

``partial`` means "the listing may be incomplete, so a missing file proves nothing": the archive
was cut off or damaged part-way, a subdirectory could not be listed, or the member limit was hit.
A member that is merely too big, filtered out by ``want``, or hostile is still reported in
``problems`` but does not make the tree partial, because the listing itself is complete.

Errors: a path that cannot be opened raises ``EvidenceError``; a file that is no supported kind
raises ``UnsupportedEvidence`` describing its first bytes; an archive damaged before its first
member raises ``CorruptEvidence``/``TruncatedEvidence``. Reading a member that cannot be read
raises one of these naming the member, never an ``OSError`` or a library exception.

Modules: ``entries`` (entries, limits, shared helpers), ``index`` (collecting entries while reading), ``walk`` (the one path walk, also used for host paths by ``evidence.node``),
``base`` (``EvidenceTree``: listing, the one path walker, bounded reads), ``directory``, ``tar``,
``compressed`` (gzip/xz/bzip2/zstd streams and the one-pass compressed tar), ``zip``, ``damage``
(what the libraries raise on bad input) and ``opening`` (recognise by content and open). Magic
bytes live in ``analyzer.evidence.sniff``.
"""

from analyzer.evidence.sniff import COMPRESSED, SNIFF_BYTES, Container, sniff_container
from analyzer.evidence.tree.base import EvidenceTree
from analyzer.evidence.tree.compressed import StreamedTarTree, open_decompressed, peek_decompressed
from analyzer.evidence.tree.damage import DECOMPRESSION_DAMAGE
from analyzer.evidence.tree.directory import DirectoryTree
from analyzer.evidence.tree.entries import DEFAULT_LIMITS, Entry, EntryKind, Limits, Spill, TreeProblem, WantFilter, path_parts
from analyzer.evidence.tree.opening import open_member_tree, open_tree
from analyzer.evidence.tree.tar import TarTree
from analyzer.evidence.tree.zip import ZipTree

__all__ = [
    "COMPRESSED",
    "DECOMPRESSION_DAMAGE",
    "DEFAULT_LIMITS",
    "SNIFF_BYTES",
    "Container",
    "DirectoryTree",
    "Entry",
    "EntryKind",
    "EvidenceTree",
    "Limits",
    "Spill",
    "StreamedTarTree",
    "TarTree",
    "TreeProblem",
    "WantFilter",
    "ZipTree",
    "open_decompressed",
    "open_member_tree",
    "open_tree",
    "path_parts",
    "peek_decompressed",
    "sniff_container",
]
