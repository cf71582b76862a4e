"""The `peerchain_` methods of a network node (peers, validators per height, open
governance proposals, consensus state, commit certificates) and, when enabled,
`admin_peers` / `admin_banPeer`."""

from __future__ import annotations

from typing import Any

from peerchain.core.consensus.certificate import CommitCertificate, certificate_hash
from peerchain.core.governance import OpenProposal
from peerchain.node.view import EvidenceRecord, LocalFault, NetworkView, PeerInfo, SignedValue
from peerchain.rpc.dispatch import CallContext, Method, Params
from peerchain.rpc.encoding import parse_block_number, parse_data, parse_uint
from peerchain.rpc.errors import server_error
from peerchain.rpc.server import RpcServer, dispatcher_of
from peerchain.rpc.shapes import quantity


def _data(value: bytes) -> str:
    return "0x" + value.hex()


def peer_json(peer: PeerInfo) -> dict[str, Any]:
    return {
        "id": "0x" + peer.node_id,
        "address": peer.address,
        "direction": peer.direction,
        "score": peer.score,
        "height": None if peer.height is None else quantity(peer.height),
        "banned": peer.banned,
        "bannedUntil": peer.banned_until,
    }


def fault_json(fault: LocalFault) -> dict[str, Any]:
    """A local fault as `peerchain_consensusState` (and health checks) show it."""
    return {
        "cause": fault.cause,
        "detail": fault.detail,
        "path": fault.path,
        "action": fault.action,
        "message": fault.line(),
    }


def evidence_json(record: EvidenceRecord) -> dict[str, Any]:
    """One piece of evidence as `peerchain_evidence` shows it: both signed messages, enough
    for anyone with the validator set to check it."""
    proposal = record.step.name == "PROPOSAL"

    def message(signed: SignedValue) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "blockHash": None if signed.block_hash is None else _data(signed.block_hash),
            "signature": _data(signed.signature),
        }
        if proposal:
            shown["polRound"] = signed.pol_round
        return shown

    return {
        "id": _data(record.id),
        "type": "duplicateProposal" if proposal else "duplicateVote",
        "validator": _data(record.validator),
        "height": quantity(record.height),
        "round": quantity(record.round),
        "step": record.step.name.lower(),
        "first": message(record.first),
        "second": message(record.second),
        "detectedAt": quantity(record.detected_at),
    }


def certificate_json(certificate: CommitCertificate) -> dict[str, Any]:
    return {
        "height": quantity(certificate.height),
        "round": quantity(certificate.round),
        "blockHash": _data(certificate.block_hash),
        "hash": _data(certificate_hash(certificate)),
        "signatures": [
            {"validator": _data(validator), "signature": _data(signature)}
            for validator, signature in certificate.signatures
        ],
    }


def proposal_json(proposal: OpenProposal) -> dict[str, Any]:
    return {
        "address": _data(proposal.address),
        "power": quantity(proposal.power),
        "action": "remove" if proposal.power == 0 else "set power",
        "opened": quantity(proposal.opened),
        "expires": quantity(proposal.expires),
        "voters": [_data(v) for v in proposal.voters],
        "tally": quantity(proposal.tally),
        "total": quantity(proposal.total),
    }


def _number(p: Params) -> int | None:
    """The optional block number parameter; a tag means the latest."""
    value = p.optional(0, parse_block_number)
    return value if isinstance(value, int) else None


def network_methods(node: NetworkView) -> dict[str, Method]:
    def peers(p: Params, ctx: CallContext) -> list[dict[str, Any]]:
        return [peer_json(peer) for peer in node.peers()]

    async def validators(p: Params, ctx: CallContext) -> list[dict[str, Any]]:
        height = _number(p)
        found = await node.validator_powers(height)
        if not found:
            raise server_error(f"the validator set of height {height} is not known yet")
        return [{"address": _data(address), "power": quantity(power)} for address, power in found]

    async def proposals(p: Params, ctx: CallContext) -> list[dict[str, Any]]:
        return [proposal_json(proposal) for proposal in await node.open_proposals(_number(p))]

    def consensus_state(p: Params, ctx: CallContext) -> dict[str, Any]:
        state = node.consensus_state()
        return {
            "height": quantity(state.height),
            "round": quantity(state.round),
            "step": state.step,
            "lockedRound": state.locked_round,
            "validRound": state.valid_round,
            "proposer": _data(state.proposer),
            "halted": state.halted,
            "syncing": state.syncing,
            "fault": None if state.fault is None else fault_json(state.fault),
        }

    def evidence(p: Params, ctx: CallContext) -> list[dict[str, Any]]:
        return [evidence_json(record) for record in node.evidence()]

    def get_commit(p: Params, ctx: CallContext) -> dict[str, Any] | None:
        certificate = node.commit_certificate(p.required(0, parse_uint))
        return None if certificate is None else certificate_json(certificate)

    return {
        "peers": Method(peers),
        "validators": Method(validators, 1),
        "proposals": Method(proposals, 1),
        "consensusState": Method(consensus_state),
        "getCommit": Method(get_commit, 1),
        "evidence": Method(evidence),
    }


def admin_methods(node: NetworkView) -> dict[str, Method]:
    def peers(p: Params, ctx: CallContext) -> list[dict[str, Any]]:
        return [peer_json(peer) for peer in node.peers()]

    def ban_peer(p: Params, ctx: CallContext) -> bool:
        node_id = p.required(0, lambda v: parse_data(v, 32, "node id"))
        seconds = p.optional(1, parse_uint)
        node.ban_peer(node_id, None if seconds is None else float(seconds))
        return True

    return {"peers": Method(peers), "banPeer": Method(ban_peer, 2)}


def register_network_methods(server: RpcServer, node: NetworkView, *, admin: bool) -> None:
    """Add the `peerchain_` (and with `admin`, the `admin_`) methods to a running server."""
    dispatcher = dispatcher_of(server.app)
    dispatcher.register_namespace("peerchain", network_methods(node))
    if admin:
        dispatcher.register_namespace("admin", admin_methods(node))
