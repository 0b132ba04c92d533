/**
 * Matching allocation sites across two commits. A site's identity is (file, enclosing function, normalised
 * statement, occurrence index) — never its line number — so code inserted above a site, a reflowed statement or a
 * moved import leave it the same site, while a site whose statement changed is a different site (new on head,
 * removed from base).
 */
import type { ProbeSite } from './types.js';

/** A site on either side; at least one of the two is present. */
export interface SitePair {
  base?: ProbeSite;
  head?: ProbeSite;
}

const SEP = '\u0000';

// Concatenation, not [..].join(): this runs for every site of both reports, and an array per key doubled the cost.
function identity(s: ProbeSite): string {
  return s.file + SEP + s.function + SEP + s.stmt + SEP + s.ordinal;
}

function statementKey(s: ProbeSite): string {
  return s.file + SEP + s.function + SEP + s.stmt;
}

/**
 * Sums sites that share an identity. The probe emits each identity once; this only guards against a report that
 * repeats one, so that no bytes are silently dropped.
 */
function byIdentity(sites: readonly ProbeSite[]): Map<string, ProbeSite> {
  const out = new Map<string, ProbeSite>();
  for (const s of sites) {
    const k = identity(s);
    const prev = out.get(k);
    if (!prev) {
      out.set(k, s);
      continue;
    }
    out.set(k, {
      ...prev,
      peak: prev.peak + s.peak,
      retained: prev.retained + s.retained,
      count: prev.count + s.count,
      leak: prev.leak === null && s.leak === null ? null : (prev.leak ?? 0) + (s.leak ?? 0),
    });
  }
  return out;
}

/**
 * Pairs base and head sites.
 *
 * 1. Exact identity.
 * 2. Leftovers with the same file, function and statement but another occurrence index (an identical statement
 *    was added or removed beside them): paired in line order, so the shift of one ordinal does not turn every
 *    later twin into a new/removed pair.
 * 3. What is left is new (head only) or removed (base only).
 *
 * Runs in O(n log n) for n sites.
 */
export function matchSites(base: readonly ProbeSite[], head: readonly ProbeSite[]): SitePair[] {
  const baseMap = byIdentity(base);
  const headMap = byIdentity(head);
  const pairs: SitePair[] = [];
  const leftBase = new Map<string, ProbeSite[]>();
  const leftHead = new Map<string, ProbeSite[]>();

  for (const [k, h] of headMap) {
    const b = baseMap.get(k);
    if (b) {
      pairs.push({ base: b, head: h });
      baseMap.delete(k);
    } else {
      push(leftHead, statementKey(h), h);
    }
  }
  for (const b of baseMap.values()) push(leftBase, statementKey(b), b);

  for (const [k, heads] of leftHead) {
    const bases = leftBase.get(k) ?? [];
    heads.sort((x, y) => x.line - y.line);
    bases.sort((x, y) => x.line - y.line);
    const n = Math.min(heads.length, bases.length);
    for (let i = 0; i < n; i++) pairs.push({ base: bases[i], head: heads[i] });
    for (let i = n; i < heads.length; i++) pairs.push({ head: heads[i] });
    for (let i = n; i < bases.length; i++) pairs.push({ base: bases[i] });
    leftBase.delete(k);
  }
  for (const bases of leftBase.values()) for (const b of bases) pairs.push({ base: b });
  return pairs;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
