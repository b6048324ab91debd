/**
 * What the operator should know about stamping, worded for the status page,
 * `/healthz`, metrics and logs: the anchoring engine's problems (out of
 * funds, no Bitcoin node, at the fee limit, an internal error) in the
 * calendar's terms, plus the calendar's own (a deep reorg withdrew proofs).
 * `red` ones fail /healthz.
 */
import {toDisplayHex} from "../../protocol/ots/bytes.ts";
import type {AnchorProblem} from "../anchor/client.ts";
import {describeError} from "../anchor/errors.ts";
import type {Logger} from "../logger.ts";
import type {Metrics} from "../metrics.ts";

/** Something the operator should know about; `red` ones fail /healthz. */
export type StamperProblem = {kind: "bitcoin-node" | "funds" | "wallet" | "fee-cap" | "deep-reorg" | "internal"; message: string; red: boolean};

/**
 * The `wallet` problem: `--bitcoin-wallet` names a Core wallet with private
 * keys, into which Core will not import our watch-only descriptor. The
 * remedy is a new watch-only wallet; a suggested name keeps the command
 * copyable (the existing wallet's name is taken).
 */
export function describeWalletProblem(wallet: string): string {
  const name = `${wallet}-watch`;
  return `Bitcoin Core wallet '${wallet}' has private keys enabled, so it cannot watch the stamping key; create a watch-only wallet with \`bitcoin-cli createwallet ${name} disable_private_keys=true blank=true\` and restart the node with --bitcoin-wallet ${name}; digests are still accepted`;
}

/** How the calendar words an engine problem. */
export function describeAnchorProblem(p: AnchorProblem): string {
  switch (p.kind) {
    case "bitcoin-node":
      return `Bitcoin node unavailable (${describeError(p.error)}); digests are still accepted and will be stamped when it is back`;
    case "internal":
      return `stamper error: ${describeError(p.error)}`;
    case "fee-cap":
      return `stamp ${toDisplayHex(p.txid)} waits at the fee limit (${p.feeRate.toFixed(2)} sat/vB, ${p.feeSats} sats); raise --max-feerate/--max-fee to speed it up`;
    case "funds":
      if (p.reason === "unconfirmed") return `waiting for ${p.unconfirmedSats} sats sent to ${p.address} to confirm before stamping`;
      if (p.reason === "insufficient") return `out of funds: ${p.error.message}; send bitcoin to ${p.address} to resume stamping`;
      return `out of funds: send bitcoin to ${p.address} to resume stamping; digests are still accepted`;
  }
}

/**
 * The current problems, one per kind; each change is logged and shown in
 * `calendar_stamper_problem{kind}`. A kind that concerns several things at
 * once (several stamps a deep reorg removed) is set with a message naming
 * all of them, so a later one never hides an earlier one.
 */
export class StamperProblems {
  private readonly logger: Logger;
  private readonly metrics: Metrics | null;
  private readonly byKind = new Map<StamperProblem["kind"], StamperProblem>();

  constructor(modules: {logger: Logger; metrics: Metrics | null}) {
    this.logger = modules.logger;
    this.metrics = modules.metrics;
  }

  set(kind: StamperProblem["kind"], message: string, red = false): void {
    const old = this.byKind.get(kind);
    if (old?.message === message) return;
    this.byKind.set(kind, {kind, message, red});
    if (red) this.logger.error(`stamper: ${message}`, {kind});
    else this.logger.warn(`stamper: ${message}`, {kind});
    this.metrics?.stamperProblem.set({kind}, 1);
  }

  clear(kind: StamperProblem["kind"]): void {
    if (!this.byKind.delete(kind)) return;
    this.logger.info("stamper: resolved", {kind});
    this.metrics?.stamperProblem.set({kind}, 0);
  }

  list(): StamperProblem[] {
    return [...this.byKind.values()];
  }

  /** Why the node is unhealthy (/healthz 503), or null. */
  health(): string | null {
    const red = this.list().filter((p) => p.red);
    return red.length === 0 ? null : red.map((p) => p.message).join("; ");
  }

  /** Problems that do not stop the calendar. */
  warnings(): string[] {
    return this.list().filter((p) => !p.red).map((p) => p.message);
  }
}
