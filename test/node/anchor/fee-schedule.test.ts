import {suite} from "uvu";
import * as assert from "uvu/assert";
import {defaultFeeScheduleOptions, feeForVsize, nextFeeRate, scheduledFeeRate} from "../../../node/anchor/fee-schedule.ts";
import type {FeeScheduleOptions} from "../../../node/anchor/fee-schedule.ts";

const opts: FeeScheduleOptions = {maxFeeRate: 100, maxFeeSats: 50_000n, deadlineBlocks: 12, incrementalRelayFeeRate: 1};

// ---

const scheduled = suite("node/anchor/fee-schedule scheduledFeeRate");

scheduled("should rise monotonically from the estimate to the maximum at the deadline :: schedule", () => {
  let prev = 0;
  for (let k = 0; k <= 20; k++) {
    const r = scheduledFeeRate(2, k, opts);
    assert.ok(r >= prev, `block ${k}: ${r} < ${prev}`);
    assert.ok(r <= opts.maxFeeRate, `block ${k}: ${r} over the cap`);
    prev = r;
  }
  assert.is(scheduledFeeRate(2, 0, opts), 2);
  assert.is(scheduledFeeRate(2, 12, opts), 100);
  assert.is(scheduledFeeRate(2, 11, opts) < 100, true);
  // Halfway in blocks is the geometric middle: sqrt(2 * 100).
  assert.ok(Math.abs(scheduledFeeRate(2, 6, opts) - Math.sqrt(200)) < 1e-9);
});

scheduled("should clamp an estimate above the maximum :: cap", () => {
  assert.is(scheduledFeeRate(500, 0, opts), 100);
  assert.is(scheduledFeeRate(500, 3, opts), 100);
});

scheduled.run();

// ---

const next = suite("node/anchor/fee-schedule nextFeeRate");

next("should satisfy Core's replacement rules on every bump :: BIP125 rules 3 and 4", () => {
  const vsize = 125;
  let previous: {feeRate: number; feeSats: bigint} | null = null;
  for (let k = 0; k < 12; k++) {
    const rate = nextFeeRate({startFeeRate: 1, blocksWaited: k, vsize, previous}, opts);
    assert.ok(rate !== null, `block ${k}`);
    const fee = feeForVsize(rate, vsize);
    if (previous !== null) {
      assert.ok(rate > previous.feeRate, `block ${k}: feerate must rise`);
      assert.ok(fee >= previous.feeSats + feeForVsize(opts.incrementalRelayFeeRate, vsize), `block ${k}: fee must rise by the incremental relay fee`);
    }
    previous = {feeRate: rate, feeSats: fee};
  }
});

next("should never exceed the feerate or absolute caps :: caps", () => {
  const capped = {...opts, maxFeeSats: 2_000n};
  const vsize = 125; // 2000/125 = 16 sat/vB absolute cap
  assert.is(nextFeeRate({startFeeRate: 50, blocksWaited: 0, vsize, previous: null}, capped), 16);
  assert.is(nextFeeRate({startFeeRate: 5, blocksWaited: 20, vsize, previous: {feeRate: 16, feeSats: 2000n}}, capped), null);
  const atMax = nextFeeRate({startFeeRate: 5, blocksWaited: 20, vsize, previous: {feeRate: 100, feeSats: 12_500n}}, opts);
  assert.is(atMax, null);
});

next("should keep defaults sensible :: defaults", () => {
  assert.ok(defaultFeeScheduleOptions.deadlineBlocks > 0);
  assert.ok(defaultFeeScheduleOptions.maxFeeRate > defaultFeeScheduleOptions.incrementalRelayFeeRate);
});

next.run();
