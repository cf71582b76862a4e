"""Chain values as the JSON objects of the execution-apis spec (what geth answers).

Quantities are "0x"-prefixed hex without leading zeros, data is lowercase hex with an
even number of digits, addresses are lowercase except where geth checksums them
(txpool_content keys).
"""

from __future__ import annotations

from typing import Any

from peerchain.core.blocks import Block, Header, Log, Receipt, TxLocation
from peerchain.core.crypto import checksum_address as checksum_address
from peerchain.core.transactions import Transaction
from peerchain.node.view import AccountProof, FeeHistory, SyncStatus

JsonObject = dict[str, Any]


def quantity(value: int) -> str:
    return hex(value)


def data(value: bytes) -> str:
    return "0x" + value.hex()


def optional_data(value: bytes | None) -> str | None:
    return None if value is None else data(value)


def format_header(header: Header) -> JsonObject:
    """Header fields of a block object (also the payload of newHeads notifications)."""
    obj: JsonObject = {
        "hash": data(header.hash),
        "parentHash": data(header.parent_hash),
        "sha3Uncles": data(header.uncles_hash),
        "miner": data(header.coinbase),
        "stateRoot": data(header.state_root),
        "transactionsRoot": data(header.transactions_root),
        "receiptsRoot": data(header.receipts_root),
        "logsBloom": data(header.logs_bloom),
        "difficulty": quantity(header.difficulty),
        "number": quantity(header.number),
        "gasLimit": quantity(header.gas_limit),
        "gasUsed": quantity(header.gas_used),
        "timestamp": quantity(header.timestamp),
        "extraData": data(header.extra_data),
        "mixHash": data(header.mix_hash),
        "nonce": data(header.nonce),
    }
    if header.base_fee_per_gas is not None:
        obj["baseFeePerGas"] = quantity(header.base_fee_per_gas)
    if header.withdrawals_root is not None:
        obj["withdrawalsRoot"] = data(header.withdrawals_root)
    if header.blob_gas_used is not None:
        obj["blobGasUsed"] = quantity(header.blob_gas_used)
    if header.excess_blob_gas is not None:
        obj["excessBlobGas"] = quantity(header.excess_blob_gas)
    if header.parent_beacon_block_root is not None:
        obj["parentBeaconBlockRoot"] = data(header.parent_beacon_block_root)
    if header.requests_hash is not None:
        obj["requestsHash"] = data(header.requests_hash)
    return obj


def format_block(block: Block, full_transactions: bool) -> JsonObject:
    """A block object; transactions as hashes or, if `full_transactions`, as objects."""
    obj = format_header(block.header)
    obj["size"] = quantity(block.size)
    obj["uncles"] = []
    if full_transactions:
        obj["transactions"] = [
            format_transaction(tx, TxLocation(block.hash, block.number, i), block.header)
            for i, tx in enumerate(block.transactions)
        ]
    else:
        obj["transactions"] = [data(tx.hash) for tx in block.transactions]
    if block.header.withdrawals_root is not None:
        obj["withdrawals"] = []
    return obj


def format_transaction(
    tx: Transaction, location: TxLocation | None, header: Header | None
) -> JsonObject:
    """A transaction object; `location` and `header` are None for a pending one."""
    obj: JsonObject = {
        "blockHash": None if location is None else data(location.block_hash),
        "blockNumber": None if location is None else quantity(location.block_number),
        "blockTimestamp": None if header is None else quantity(header.timestamp),
        "transactionIndex": None if location is None else quantity(location.index),
        "from": data(tx.sender),
        "hash": data(tx.hash),
        "type": quantity(tx.type),
        "nonce": quantity(tx.nonce),
        "to": optional_data(tx.to),
        "gas": quantity(tx.gas_limit),
        "value": quantity(tx.value),
        "input": data(tx.data),
        "r": quantity(tx.r),
        "s": quantity(tx.s),
    }
    base_fee = None if header is None else header.base_fee_per_gas
    if tx.type >= 2:
        obj["maxFeePerGas"] = quantity(tx.max_fee_per_gas)
        obj["maxPriorityFeePerGas"] = quantity(tx.max_priority_fee_per_gas)
        price = tx.max_fee_per_gas if base_fee is None else tx.effective_gas_price(base_fee)
        obj["gasPrice"] = quantity(price)
    else:
        obj["gasPrice"] = quantity(tx.gas_price)
    if tx.type >= 1:
        obj["accessList"] = [
            {"address": data(address), "storageKeys": [data(k.to_bytes(32, "big")) for k in keys]}
            for address, keys in tx.access_list
        ]
        obj["yParity"] = quantity(tx.v)
    if tx.type == 4:
        obj["authorizationList"] = [
            {
                "chainId": quantity(a.chain_id),
                "nonce": quantity(a.nonce),
                "address": data(a.address),
                "yParity": quantity(a.y_parity),
                "r": quantity(a.r),
                "s": quantity(a.s),
            }
            for a in tx.authorization_list
        ]
    if tx.chain_id is not None:
        obj["chainId"] = quantity(tx.chain_id)
    obj["v"] = quantity(tx.v)
    return obj


def format_log(log: Log, block_timestamp: int | None = None) -> JsonObject:
    obj: JsonObject = {
        "address": data(log.address),
        "topics": [data(t) for t in log.topics],
        "data": data(log.data),
        "blockNumber": quantity(log.block_number),
        "transactionHash": data(log.transaction_hash),
        "transactionIndex": quantity(log.transaction_index),
        "blockHash": data(log.block_hash),
        "logIndex": quantity(log.log_index),
        "removed": log.removed,
    }
    if block_timestamp is not None:
        obj["blockTimestamp"] = quantity(block_timestamp)
    return obj


def format_receipt(receipt: Receipt, block_timestamp: int | None = None) -> JsonObject:
    return {
        "type": quantity(receipt.type),
        "transactionHash": data(receipt.transaction_hash),
        "transactionIndex": quantity(receipt.transaction_index),
        "blockHash": data(receipt.block_hash),
        "blockNumber": quantity(receipt.block_number),
        "from": data(receipt.sender),
        "to": optional_data(receipt.to),
        "cumulativeGasUsed": quantity(receipt.cumulative_gas_used),
        "gasUsed": quantity(receipt.gas_used),
        "contractAddress": optional_data(receipt.contract_address),
        "logs": [format_log(log, block_timestamp) for log in receipt.logs],
        "logsBloom": data(receipt.logs_bloom),
        "status": quantity(receipt.status),
        "effectiveGasPrice": quantity(receipt.effective_gas_price),
    }


def format_proof(proof: AccountProof) -> JsonObject:
    return {
        "address": data(proof.address),
        "accountProof": [data(node) for node in proof.account_proof],
        "balance": quantity(proof.balance),
        "codeHash": data(proof.code_hash),
        "nonce": quantity(proof.nonce),
        "storageHash": data(proof.storage_hash),
        "storageProof": [
            {
                "key": data(p.key.to_bytes(32, "big")),
                "value": quantity(p.value),
                "proof": [data(node) for node in p.proof],
            }
            for p in proof.storage_proof
        ],
    }


def format_fee_history(history: FeeHistory) -> JsonObject:
    obj: JsonObject = {
        "oldestBlock": quantity(history.oldest_block),
        "baseFeePerGas": [quantity(f) for f in history.base_fee_per_gas],
        "gasUsedRatio": list(history.gas_used_ratio),
    }
    if history.reward is not None:
        obj["reward"] = [[quantity(r) for r in block] for block in history.reward]
    if history.base_fee_per_blob_gas:
        obj["baseFeePerBlobGas"] = [quantity(f) for f in history.base_fee_per_blob_gas]
        obj["blobGasUsedRatio"] = list(history.blob_gas_used_ratio)
    return obj


def format_syncing(status: SyncStatus | None) -> JsonObject | bool:
    if status is None:
        return False
    return {
        "startingBlock": quantity(status.starting_block),
        "currentBlock": quantity(status.current_block),
        "highestBlock": quantity(status.highest_block),
    }
