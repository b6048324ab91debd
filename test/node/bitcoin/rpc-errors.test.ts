import {suite} from "uvu";
import * as assert from "uvu/assert";
import {BitcoinErrorCode, type BitcoinErrorCodeValue} from "../../../node/bitcoin/errors.ts";
import {bitcoinErrorFromRejectReason, bitcoinErrorFromRpc, rejectReasonToken} from "../../../node/bitcoin/rpc-errors.ts";

type Case = {rpcCode: number; message: string; code: BitcoinErrorCodeValue; reason?: string};

// Real bitcoind messages (v28/v29; v30 names in the last rows).
const RPC_CASES: Case[] = [
  {rpcCode: -28, message: "Loading block index…", code: BitcoinErrorCode.WARMING_UP},
  {rpcCode: -28, message: "Verifying blocks…", code: BitcoinErrorCode.WARMING_UP},
  {rpcCode: -8, message: "Block height out of range", code: BitcoinErrorCode.HEIGHT_OUT_OF_RANGE},
  {rpcCode: -8, message: "Invalid conf_target, must be between 1 and 1008", code: BitcoinErrorCode.RPC_ERROR},
  {rpcCode: -5, message: "Block not found", code: BitcoinErrorCode.NOT_FOUND},
  {rpcCode: -5, message: "Transaction not in mempool", code: BitcoinErrorCode.NOT_FOUND},
  {rpcCode: -5, message: "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.", code: BitcoinErrorCode.NOT_FOUND},
  {rpcCode: -5, message: "Invalid address", code: BitcoinErrorCode.RPC_ERROR},
  {rpcCode: -18, message: "Requested wallet does not exist or is not loaded", code: BitcoinErrorCode.WALLET_NOT_FOUND},
  {rpcCode: -35, message: 'Wallet "otsfed" is already loaded.', code: BitcoinErrorCode.WALLET_ERROR},
  {rpcCode: -19, message: "Wallet file not specified (must request wallet RPC through /wallet/<filename> uri-path).", code: BitcoinErrorCode.WALLET_ERROR},
  {rpcCode: -22, message: "TX decode failed. Make sure the tx has at least one input.", code: BitcoinErrorCode.TX_DECODE_FAILED},
  {rpcCode: -27, message: "Transaction outputs already in utxo set", code: BitcoinErrorCode.ALREADY_IN_CHAIN, reason: "txn-already-known"},
  {rpcCode: -27, message: "Transaction already in block chain", code: BitcoinErrorCode.ALREADY_IN_CHAIN, reason: "txn-already-known"},
  {rpcCode: -25, message: "bad-txns-inputs-missingorspent", code: BitcoinErrorCode.MISSING_INPUTS, reason: "bad-txns-inputs-missingorspent"},
  {rpcCode: -25, message: "Missing inputs", code: BitcoinErrorCode.MISSING_INPUTS, reason: "Missing inputs"},
  {rpcCode: -25, message: "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)", code: BitcoinErrorCode.MAX_FEE_EXCEEDED},
  {rpcCode: -26, message: "min relay fee not met, 100 < 141", code: BitcoinErrorCode.MIN_RELAY_FEE_NOT_MET, reason: "min relay fee not met"},
  {rpcCode: -26, message: "mempool min fee not met, 100 < 2000", code: BitcoinErrorCode.MIN_RELAY_FEE_NOT_MET, reason: "mempool min fee not met"},
  {
    rpcCode: -26,
    message: "insufficient fee, rejecting replacement 8f3c…, less fees than conflicting txs; 0.00000300 < 0.00000400",
    code: BitcoinErrorCode.INSUFFICIENT_FEE,
    reason: "insufficient fee",
  },
  {rpcCode: -26, message: "insufficient fee, rejecting replacement 8f3c…; new feerate 0.00001000 BTC/kvB <= old feerate 0.00001000 BTC/kvB", code: BitcoinErrorCode.INSUFFICIENT_FEE},
  {rpcCode: -26, message: "txn-mempool-conflict", code: BitcoinErrorCode.CONFLICT, reason: "txn-mempool-conflict"},
  {rpcCode: -26, message: "bad-txns-spends-conflicting-tx, 1a… spends conflicting transaction 2b…", code: BitcoinErrorCode.CONFLICT},
  {rpcCode: -26, message: "txn-already-in-mempool", code: BitcoinErrorCode.ALREADY_IN_MEMPOOL},
  {rpcCode: -26, message: "txn-same-nonwitness-data-in-mempool", code: BitcoinErrorCode.ALREADY_IN_MEMPOOL},
  {rpcCode: -26, message: "txn-already-known", code: BitcoinErrorCode.ALREADY_IN_CHAIN},
  {rpcCode: -26, message: "dust", code: BitcoinErrorCode.NON_STANDARD, reason: "dust"},
  {rpcCode: -26, message: "scriptpubkey", code: BitcoinErrorCode.NON_STANDARD, reason: "scriptpubkey"},
  {rpcCode: -26, message: "multi-op-return", code: BitcoinErrorCode.NON_STANDARD, reason: "multi-op-return"},
  {rpcCode: -26, message: "datacarrier", code: BitcoinErrorCode.NON_STANDARD, reason: "datacarrier"},
  {rpcCode: -26, message: "tx-size", code: BitcoinErrorCode.NON_STANDARD, reason: "tx-size"},
  {rpcCode: -26, message: "tx-size-small", code: BitcoinErrorCode.NON_STANDARD, reason: "tx-size-small"},
  {rpcCode: -26, message: "version", code: BitcoinErrorCode.NON_STANDARD, reason: "version"},
  {rpcCode: -26, message: "bad-txns-nonstandard-inputs", code: BitcoinErrorCode.NON_STANDARD},
  {
    rpcCode: -26,
    message: "mandatory-script-verify-flag-failed (Script evaluated without error but finished with a false/empty top stack element)",
    code: BitcoinErrorCode.SCRIPT_VERIFY_FAILED,
    reason: "mandatory-script-verify-flag-failed",
  },
  {rpcCode: -26, message: "non-mandatory-script-verify-flag (Non-canonical signature: S value is unnecessarily high)", code: BitcoinErrorCode.SCRIPT_VERIFY_FAILED},
  {rpcCode: -26, message: "mempool-script-verify-flag-failed (Invalid Schnorr signature)", code: BitcoinErrorCode.SCRIPT_VERIFY_FAILED},
  {rpcCode: -26, message: "non-final", code: BitcoinErrorCode.INVALID_TX},
  {rpcCode: -26, message: "bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth 5", code: BitcoinErrorCode.INVALID_TX},
  {rpcCode: -26, message: "bad-txns-in-belowout, value in (0.001) < value out (0.002)", code: BitcoinErrorCode.INVALID_TX},
  {rpcCode: -26, message: "too-long-mempool-chain, too many descendants", code: BitcoinErrorCode.NON_STANDARD},
  {rpcCode: -26, message: "something new", code: BitcoinErrorCode.TX_REJECTED, reason: "something new"},
  {rpcCode: -32601, message: "Method not found", code: BitcoinErrorCode.RPC_ERROR},
  {rpcCode: -1, message: "JSON value is not a string as expected", code: BitcoinErrorCode.RPC_ERROR},
];

const fromRpc = suite("node/bitcoin/rpc-errors bitcoinErrorFromRpc");

for (const c of RPC_CASES) {
  fromRpc(`should map ${c.rpcCode} to ${c.code} :: ${c.message.slice(0, 50)}`, () => {
    const e = bitcoinErrorFromRpc(c.rpcCode, c.message);
    assert.is(e.code, c.code);
    assert.is(e.type.rpcCode, c.rpcCode);
    assert.is(e.message, c.message);
    assert.is(e.name, "BitcoinError");
    if (c.reason !== undefined) assert.is(e.type.reason, c.reason);
  });
}

fromRpc.run();

// ---

const fromReason = suite("node/bitcoin/rpc-errors bitcoinErrorFromRejectReason");

const REASONS: Array<[string, BitcoinErrorCodeValue]> = [
  ["missing-inputs", BitcoinErrorCode.MISSING_INPUTS],
  ["insufficient fee", BitcoinErrorCode.INSUFFICIENT_FEE],
  ["min relay fee not met", BitcoinErrorCode.MIN_RELAY_FEE_NOT_MET],
  ["txn-mempool-conflict", BitcoinErrorCode.CONFLICT],
  ["txn-already-in-mempool", BitcoinErrorCode.ALREADY_IN_MEMPOOL],
  ["txn-already-known", BitcoinErrorCode.ALREADY_IN_CHAIN],
  ["dust", BitcoinErrorCode.NON_STANDARD],
  ["max-fee-exceeded", BitcoinErrorCode.MAX_FEE_EXCEEDED],
  ["mandatory-script-verify-flag-failed", BitcoinErrorCode.SCRIPT_VERIFY_FAILED],
  ["replacement-adds-unconfirmed", BitcoinErrorCode.TX_REJECTED],
];

for (const [reason, code] of REASONS) {
  fromReason(`should map testmempoolaccept reason to ${code} :: ${reason}`, () => {
    const e = bitcoinErrorFromRejectReason(reason, `${reason}, details`);
    assert.is(e.code, code);
    assert.is(e.type.reason, reason);
    assert.is(e.type.rpcCode, null);
    assert.is(e.message, `${reason}, details`);
  });
}

fromReason.run();

// ---

const token = suite("node/bitcoin/rpc-errors rejectReasonToken");

token("should cut the details off Core's messages :: comma and parenthesis forms", () => {
  assert.is(rejectReasonToken("min relay fee not met, 1 < 2"), "min relay fee not met");
  assert.is(rejectReasonToken("mandatory-script-verify-flag-failed (x, y)"), "mandatory-script-verify-flag-failed");
  assert.is(rejectReasonToken("dust"), "dust");
});

token.run();
