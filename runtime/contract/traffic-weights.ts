/**
 * Traffic-weight arithmetic shared by every provider: weights are whole percentages that always
 * total exactly 100. One rule decides where the rounding remainder goes (largest remainder, ties
 * to the earlier version, i.e. towards the stable one), so the supervisor, the Kubernetes provider
 * and the gateway's file never disagree by a percent.
 */

/** Version → whole percentage; the keys keep the order the versions were started in. */
export type Weights = Record<string, number>;

/**
 * Whole numbers proportional to `weights` that add up to `total` exactly (Hamilton's largest
 * remainder method). Each version first gets the floor of its exact share; the points still
 * missing go one each to the largest fractional parts, earlier versions first on a tie. Returns
 * `{}` when nothing has a positive weight (the caller decides who gets everything then).
 */
export function apportion(weights: Weights, total = 100): Weights {
  const entries = Object.entries(weights).map(([v, w]) => [v, Number.isFinite(w) && w > 0 ? w : 0] as const);
  const sum = entries.reduce((s, [, w]) => s + w, 0);
  if (sum === 0) return {};
  const exact = entries.map(([v, w], index) => ({ v, index, share: (w / sum) * total }));
  const out: Weights = Object.fromEntries(exact.map((e) => [e.v, Math.floor(e.share)]));
  let missing = total - Object.values(out).reduce((s, w) => s + w, 0);
  const byRemainder = [...exact].sort(
    (a, b) => b.share - Math.floor(b.share) - (a.share - Math.floor(a.share)) || a.index - b.index,
  );
  for (const e of byRemainder) {
    if (missing <= 0) break;
    out[e.v] = (out[e.v] ?? 0) + 1;
    missing--;
  }
  return out;
}

/**
 * Gives `version` `pct` percent and shares the rest among the versions of `current` in proportion
 * to their weights. When none of them has a weight, the first (the stable version) takes the whole
 * rest, so a canary always starts beside a version that serves; with no other version at all,
 * `version` takes everything.
 */
export function withVersionAt(current: Weights, version: string, pct: number): Weights {
  const { [version]: _replaced, ...others } = current;
  const first = Object.keys(others)[0];
  if (first === undefined) return { [version]: 100 };
  const share = Math.min(100, Math.max(0, Math.round(pct)));
  const shared = apportion(others, 100 - share);
  return {
    ...(Object.keys(shared).length ? shared : { ...zeroes(others), [first]: 100 - share }),
    [version]: share,
  };
}

/**
 * The weights once `version` is gone: the survivors share its traffic in proportion to their
 * weights; when none of them had any, `fallback` (normally the stable version) gets 100.
 */
export function withoutVersion(weights: Weights, version: string, fallback: string | undefined): Weights {
  const { [version]: _gone, ...rest } = weights;
  const out = apportion(rest);
  if (Object.keys(out).length > 0) return out;
  const heir = fallback !== undefined && fallback !== version ? fallback : Object.keys(rest)[0];
  return heir === undefined ? {} : { ...zeroes(rest), [heir]: 100 };
}

/** The total of a split (a split handed in by a user must total 100 to within rounding). */
export function weightTotal(weights: Weights): number {
  return Object.values(weights).reduce((s, w) => s + w, 0);
}

function zeroes(weights: Weights): Weights {
  return Object.fromEntries(Object.keys(weights).map((v) => [v, 0]));
}
