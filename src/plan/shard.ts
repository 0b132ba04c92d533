/**
 * Sharding: `shard: i/n` runs the i-th of n disjoint slices of the scenarios. A scenario's slice is the FNV-1a
 * hash of its name modulo n, so it depends on nothing but the name and n: adding or removing a scenario never
 * moves another one to a different shard (a cache or a flaky-test history per shard stays meaningful).
 */

/** One slice: 1-based `index` of `count`. */
export interface ShardSpec {
  index: number;
  count: number;
}

/** Most shards accepted; a matrix of more jobs than this is almost certainly a typo. */
export const MAX_SHARDS = 256;

/** A shard that cannot be used; the message shows the accepted form. */
export class ShardError extends Error {
  override readonly name = 'ShardError';
}

/** Parses `i/n` (1 ≤ i ≤ n ≤ 256), e.g. `2/4`. */
export function parseShard(input: string): ShardSpec {
  const m = /^\s*(\d{1,4})\s*\/\s*(\d{1,4})\s*$/.exec(input);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || count > MAX_SHARDS || index < 1 || index > count) {
    throw new ShardError(
      `${JSON.stringify(input.slice(0, 60))} is not a shard: write i/n with 1 ≤ i ≤ n ≤ ${MAX_SHARDS}, e.g. "2/4"`,
    );
  }
  return { index, count };
}

/** 32-bit FNV-1a of the UTF-8 bytes of `text`. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The 1-based shard a scenario name belongs to among `count`. */
export function shardOf(name: string, count: number): number {
  return (fnv1a(name) % count) + 1;
}

/** The items of `shard`, with their positions in the full list (kept so partial reports can be merged in order). */
export function selectShard<T extends { name: string }>(
  items: readonly T[],
  shard: ShardSpec,
): { item: T; position: number }[] {
  return items
    .map((item, position) => ({ item, position }))
    .filter(({ item }) => shardOf(item.name, shard.count) === shard.index);
}
