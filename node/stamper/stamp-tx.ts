/**
 * Moved to `node/anchor/stamp-tx.ts` (the transaction builder is the
 * anchoring engine's). Re-exported here only because tests outside this
 * branch's files (`test/node/cli/verify-bitcoin.test.ts`,
 * `test/node/calendar/stamps.test.ts`) import it from this path; drop this
 * file once they import `node/anchor/stamp-tx.ts`.
 */
export {buildStampTransaction, P2WPKH_DUST_SATS, RBF_SEQUENCE} from "../anchor/stamp-tx.ts";
export type {StampInput, StampTransaction} from "../anchor/stamp-tx.ts";
