/**
 * A stand-alone aggregator for the devnet (`otsfed devnet --aggregator`):
 * started in front of the given calendar URLs with the defaults an operator
 * gets (one upstream must accept, a 3 s deadline), listening on the
 * devnet's host. One function, so the devnet's few lines that use it stay
 * the same however the devnet later runs its parts.
 */
import {AggregatorNode} from "./aggregator-node.ts";
import {defaultAggregatorNodeOptions} from "./aggregator-options.ts";
import type {Clock} from "./clock.ts";
import type {Logger} from "./logger.ts";

/** A running devnet aggregator: the URL clients are given, and how to stop it. */
export type DevnetAggregator = {url: string; stop(): Promise<void>};

/** Start an aggregator on `host:port` (0: any free port) in front of `upstreams`. */
export async function startDevnetAggregator(upstreams: readonly string[], where: {host: string; port: number}, modules: {logger: Logger; clock: Clock}): Promise<DevnetAggregator> {
  const opts = defaultAggregatorNodeOptions();
  opts.upstream.upstreams = [...upstreams];
  opts.http.listen = `${where.host}:${where.port}`;
  const aggregator = await AggregatorNode.init(opts, modules);
  const {url} = await aggregator.start();
  return {url, stop: () => aggregator.stop()};
}
