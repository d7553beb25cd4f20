"""Who a node is: its name, how that name was learnt, and the distribution its files show.

The wiring decides it (``wiring/nodes.py`` reads the kubelet's certificate, kubelet.conf, the etcd
manifest, the hostname); the evidence only offers the files. The record lives here, at the bottom,
because rooms below the wiring show it too: detection's notes on an input and ``ls`` name each node.
"""

from __future__ import annotations

from analyzer.model.vocabulary import Distribution
from analyzer.records import datarecord

# The name_source of a node named after its input, the evidence naming it nowhere.
UNNAMED = "the input's name (no node name found in the evidence)"


@datarecord
class NodeIdentity:
    name: str
    name_source: str  # where the name was read ("kubelet client certificate …", UNNAMED)
    distribution: Distribution

    @property
    def label(self) -> str:
        """How an input's notes name the node: ``node master-0 (kubeadm)``."""
        return f"node {self.name} ({self.distribution.value})"
