"""What ``kforensic info --etcd`` says about a running etcd: who answered, at which revision, what it holds."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from analyzer.evidence.damage_log import Damage
from analyzer.evidence.etcd import Compaction, Member
from analyzer.records import datarecord
from analyzer.views.snapshot_summary import count_resources

if TYPE_CHECKING:  # the etcd it reads was opened by the caller; importing grpc is evidence.live's business
    from analyzer.evidence.live import LiveEtcd


@datarecord
class LiveSummary:
    endpoint: str
    cluster_id: str
    member_id: str
    server_version: str | None
    revision: int  # the revision read
    current_revision: int  # the store's revision when kforensic connected
    compaction: Compaction
    live_keys: int
    db_size: int | None
    members: list[Member]
    resources: dict[str, int]
    refused: list[str]
    damage: list[Damage]

    @property
    def partial(self) -> bool:
        return bool(self.damage)

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.endpoint,
            "live": True,
            "cluster_id": self.cluster_id,
            "member_id": self.member_id,
            "server_version": self.server_version,
            "revision": self.revision,
            "current_revision": self.current_revision,
            "compaction": {"finished_revision": self.compaction.finished},
            "live_keys": self.live_keys,
            "db_size": self.db_size,
            "members": [
                {"id": m.id, "name": m.name, "peer_urls": list(m.peer_urls), "client_urls": list(m.client_urls)} for m in self.members
            ],
            "resources": self.resources,
            "endpoints_not_read": self.refused,
            "partial": self.partial,
            "damage": [{"problem": d.problem} for d in self.damage],
        }


def summarize_live(live: LiveEtcd) -> LiveSummary:
    """One keys-only pass over every key at the pinned revision, page by page: counts per resource."""
    resources: Counter[str] = count_resources(live.iter_keys())
    return LiveSummary(
        endpoint=live.endpoint.url, cluster_id=live.cluster_id, member_id=live.member_id, server_version=live.server_version,
        revision=live.revision, current_revision=live.current_revision, compaction=live.compaction,
        live_keys=sum(resources.values()), db_size=live.db_size, members=live.members(), resources=dict(resources),
        refused=list(live.refused), damage=list(live.damage),
    )
