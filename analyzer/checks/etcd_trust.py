"""The CA etcd no longer trusts: etcd's client CA bundle lost the CA that issued kube-apiserver's
etcd client pair.

kube-apiserver's ``--etcd-cafile`` holds the etcd CA the cluster was set up with, and its client
pair was issued by it. When etcd's ``--trusted-ca-file`` no longer holds that CA (a CA rotation that
replaced the bundle instead of adding the new CA to it), etcd refuses the pair with the TLS alert
"bad certificate" and kube-apiserver never reaches its storage. The trust check says the pair is
not trusted; this check names the CA that was dropped and what etcd trusts instead, which is what
the remediation needs: put the old CA back beside the new one (Tectonic's rotation guide copies
``ca_bundle.pem``, the old and the new CA, to each etcd node's ``/etc/ssl/etcd/ca.crt`` before the
client pair is rotated), or re-issue the pair from the new CA.
"""

from __future__ import annotations

from cryptography import x509

from analyzer.checks import severity
from analyzer.checks.context import CheckContext, finding, presented_chain
from analyzer.gomodel.clientgo import bundle, common_name, sha256_fingerprint
from analyzer.gomodel.verify import verifies
from analyzer.model.findings import Finding
from analyzer.reftime import format_utc
from analyzer.wiring.etcd_members import etcd_members_for
from analyzer.wiring.model import BundlePayload, PairPayload, State, Wiring
from analyzer.model.vocabulary import Component as ComponentName
from analyzer.model.vocabulary import Role


def _ca(found: BundlePayload | None) -> tuple[x509.Certificate, ...]:
    if found is None or found.ca.state is not State.PRESENT:
        return ()
    return bundle(found.ca.data)[0]


def _describe(ca: x509.Certificate) -> str:
    return f"CN={common_name(ca)} (SHA-256 {sha256_fingerprint(ca)[:16]}…, valid from {format_utc(ca.not_valid_before_utc)})"


def check_etcd_dropped_ca(wiring: Wiring, ctx: CheckContext) -> list[Finding]:
    found: list[Finding] = []
    for apiserver in (c for c in wiring.components if c.name == ComponentName.KUBE_APISERVER):
        client = apiserver.find_load(Role.ETCD_CLIENT)
        chain = presented_chain(client) if client is not None else ()
        believed_bundle = apiserver.find_bundle(Role.ETCD_CA)
        believed = _ca(believed_bundle)
        if client is None or not chain or not believed or believed_bundle is None:
            continue
        client_path = client.payload.cert_path if isinstance(client.payload, PairPayload) else None
        # The CA kube-apiserver holds for etcd that issued its client pair: what etcd was set up to trust.
        issuer = next((ca for ca in believed if verifies(chain, (ca,))[0]), None)
        if issuer is None:
            continue
        # The etcd members it talks to, the same as its peers are linked with (wiring/etcd_members.py):
        # each one that dropped the CA refuses the pair; one finding names them all (one cause).
        dropped, accepting = [], []
        for etcd in etcd_members_for(wiring, apiserver):
            trusted_bundle = etcd.find_bundle(Role.ETCD_TRUSTED_CA)
            trusted = _ca(trusted_bundle)
            if not trusted or trusted_bundle is None:
                continue  # nothing readable to judge by: the trust check and the presence checks say so
            if any(ca == issuer for ca in trusted) or verifies(chain, trusted)[0]:
                accepting.append(etcd)
                continue
            dropped.append((etcd, trusted_bundle, trusted))
        if not dropped:
            continue
        own = [what for what, role in (("serving", Role.ETCD_SERVER), ("peer", Role.ETCD_PEER))
               if any((load := etcd.find_load(role)) is not None and (own_chain := presented_chain(load)) and verifies(own_chain, (issuer,))[0]
                      for etcd, _, _ in dropped)]
        also = (f" etcd's own {' and '.join(own)} pair{'s were' if len(own) > 1 else ' was'} issued by that CA too: the bundle was "
                "replaced before the pairs were rotated." if own else "")
        wheres = [f"{bundle_.path} on {etcd.node}" if etcd.node else bundle_.path for etcd, bundle_, _ in dropped]
        instead = [", ".join(_describe(ca) for ca in trusted) for _, _, trusted in dropped]
        if len(dropped) == 1:
            holds = f"etcd's --trusted-ca-file ({wheres[0]}) no longer holds it, only {instead[0]}"
        else:
            holds = "etcd's --trusted-ca-file no longer holds it: " + "; ".join(
                f"{where} holds only {cas}" for where, cas in zip(wheres, instead, strict=True))
        members = ", ".join(f"etcd on {etcd.node or 'its node'}" for etcd, _, _ in dropped)
        if accepting:
            # etcd's client uses only the members whose handshake succeeds (see checks/trust.py): rule 2, not rule 1.
            through = ", ".join(f"etcd on {etcd.node or 'its node'}" for etcd in accepting)
            consequence = f"Every connection to {members} fails; kube-apiserver keeps its storage through {through} while up."
            level = severity.connection_fails()
        else:
            consequence = "kube-apiserver cannot reach its storage."
            level = severity.failure(client)
        found.append(finding(
            client, "etcd.ca-no-longer-trusted", level,
            f"{client.label}: {members} no longer trust{'s' if len(dropped) == 1 else ''} the CA that issued it",
            f"kube-apiserver's --etcd-cafile ({believed_bundle.path}) holds {_describe(issuer)}, "
            f"the CA that issued its etcd client pair ({client_path}); {holds}. "
            f"etcd refuses the pair (TLS alert \"bad certificate\"). {consequence}{also}",
            material=dropped[0][1].ca, peer=members if accepting else "etcd",
            go_error="x509: certificate signed by unknown authority",
            remediation=(f"Put {common_name(issuer)} (the CA kube-apiserver's --etcd-cafile holds) back into {' and '.join(wheres)} beside "
                         "the new CA, on every etcd member, and restart etcd; then re-issue kube-apiserver's etcd client pair (and etcd's "
                         "serving and peer pairs) from the new CA, and drop the old CA last",),
        ))
    return found
