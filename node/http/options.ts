/** Options of the HTTP API (STYLE §11: next to the module, aggregated by node/options.ts). */
export type HttpOptions = {
  /** `host:port` to listen on (`[::1]:port` for IPv6); port 0 picks a free one. */
  listen: string;
  /**
   * The calendar's public URL, written into every Pending attestation and
   * never to be changed (old proofs point at it forever): a bare origin with
   * no path and no trailing slash (PROTOCOL-NOTES §2.4, §5).
   */
  url: string;
};

export const defaultHttpOptions: HttpOptions = {listen: "127.0.0.1:14788", url: ""};

/** Split `host:port`; null if malformed. */
export function parseListen(s: string): {host: string; port: number} | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(s);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return {host: (m[1] ?? m[2]) as string, port};
}
