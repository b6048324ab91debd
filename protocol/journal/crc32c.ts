/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
 * every journal record and header. Chosen over CRC-32 for its better
 * detection of burst errors on storage (it is what ext4, iSCSI and LevelDB
 * use). Pure table-driven code: protocol/ has no native helpers.
 */
const TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `data[start, end)` as an unsigned 32-bit number; crc32c("123456789") = 0xe3069283. */
export function crc32c(data: Uint8Array, start = 0, end = data.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = (TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
