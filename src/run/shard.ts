/**
 * `--shard i/n` (1-based, like vitest and GitLab's CI_NODE_INDEX): this machine runs the hosts whose
 * shard is i, so n CI jobs can share one rollout. A host's shard is sha1(host name) mod n: it depends
 * on nothing but the name and n, so adding or removing other hosts never moves a host to another
 * shard, and the n shards partition the selection exactly (each host in one). The split is even
 * only on average; a small fleet can have uneven shards (an exact split would move hosts whenever
 * the fleet changes). Batches, --max-fail and --fail-fast then apply within the shard.
 */
import { createHash } from "node:crypto";

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

export function parseShard(spec: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(spec.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index < 1 || index > count) {
    throw new Error(`--shard ${spec}: expected i/n with 1 ≤ i ≤ n, e.g. 1/4`);
  }
  return { index, count };
}

/** The 1-based shard a host belongs to among `count`. */
export function shardOf(name: string, count: number): number {
  const digest = createHash("sha1").update(name, "utf8").digest();
  // 48 bits: exact in a double, and the modulo bias is negligible for any real n.
  return (digest.readUIntBE(0, 6) % count) + 1;
}

export function inShard(name: string, shard: Shard | undefined): boolean {
  return !shard || shardOf(name, shard.count) === shard.index;
}
