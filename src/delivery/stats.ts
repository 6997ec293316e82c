/**
 * The statistics behind early abort: is the canary's error ratio significantly worse than stable's?
 *
 * Written here rather than pulled from a library because we need exactly two small tests, one-sided,
 * with no dependency weight in the CLI, and each is a few lines of well-known math:
 *
 * - Two-proportion z-test with pooled variance (e.g. NIST/SEMATECH e-Handbook, §7.3.3; Agresti,
 *   "Categorical Data Analysis", §3.1):
 *     p̂ = (x₁ + x₂) / (n₁ + n₂),  z = (x₁/n₁ − x₂/n₂) / √(p̂ (1 − p̂) (1/n₁ + 1/n₂)),
 *     one-sided p-value = 1 − Φ(z).
 *   Valid when every expected cell count is at least 5 (Cochran's rule).
 * - Fisher's exact test, one-sided (Fisher 1935; Agresti §3.5), used when counts are small: with
 *   N = n₁ + n₂ requests of which K failed, the number of canary failures X is hypergeometric and
 *     p = Σ_{x ≥ x₁} C(K, x) · C(N − K, n₁ − x) / C(N, n₁).
 */

/**
 * Complementary error function, Chebyshev fit with fractional error below 1.2e-7 everywhere
 * (Press et al., "Numerical Recipes in C", 2nd ed., §6.2, `erfcc`). Plenty for alphas down to 1e-4.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const ans =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? ans : 2 - ans;
}

/** Standard normal cumulative distribution Φ(x) = erfc(−x/√2) / 2. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0, Lanczos approximation (g = 7, n = 9), ~15 significant digits. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const xx = x - 1;
  let a = LANCZOS[0] as number;
  const t = xx + 7.5;
  for (let i = 1; i < 9; i++) a += (LANCZOS[i] as number) / (xx + i);
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(a);
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

export interface ProportionTest {
  test: 'z' | 'fisher';
  /** One-sided p-value for "the first proportion is greater than the second". */
  pValue: number;
  z?: number;
}

/** One-sided pooled two-proportion z-test that x1/n1 > x2/n2. */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number): ProportionTest {
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return { test: 'z', pValue: x1 / n1 > x2 / n2 ? 0 : 1, z: 0 };
  const z = (x1 / n1 - x2 / n2) / se;
  return { test: 'z', pValue: 1 - normalCdf(z), z };
}

/** One-sided Fisher exact test that the first group's failure ratio x1/n1 exceeds x2/n2. */
export function fisherExactGreater(x1: number, n1: number, x2: number, n2: number): ProportionTest {
  const n = n1 + n2;
  const k = x1 + x2;
  const denom = logChoose(n, n1);
  let p = 0;
  for (let x = x1; x <= Math.min(k, n1); x++) {
    if (n1 - x > n - k) continue;
    p += Math.exp(logChoose(k, x) + logChoose(n - k, n1 - x) - denom);
  }
  return { test: 'fisher', pValue: Math.min(1, p) };
}

export interface WorseTestOptions {
  /** Significance level per look; 0.001 by default (see DEFAULT_EARLY_ABORT in analysis.ts). */
  alpha?: number;
  /** The canary must have failed at least this many requests before we call it worse. */
  minErrors?: number;
}

export interface WorseVerdict extends ProportionTest {
  significant: boolean;
  canaryRate: number;
  stableRate: number;
}

/**
 * Is the canary's error ratio significantly worse than stable's? Uses the z-test when all expected
 * counts are at least 5, Fisher's exact test otherwise.
 */
export function canaryErrorsWorse(
  canary: { requests: number; errors: number },
  stable: { requests: number; errors: number },
  options: WorseTestOptions = {},
): WorseVerdict {
  const alpha = options.alpha ?? 0.001;
  const minErrors = options.minErrors ?? 3;
  const n1 = canary.requests;
  const n2 = stable.requests;
  const x1 = Math.min(canary.errors, n1);
  const x2 = Math.min(stable.errors, n2);
  const canaryRate = n1 > 0 ? x1 / n1 : 0;
  const stableRate = n2 > 0 ? x2 / n2 : 0;
  if (n1 === 0 || n2 === 0 || x1 < minErrors || canaryRate <= stableRate) {
    return { test: 'fisher', pValue: 1, significant: false, canaryRate, stableRate };
  }
  const total = n1 + n2;
  const failures = x1 + x2;
  const expected = [
    (n1 * failures) / total,
    (n1 * (total - failures)) / total,
    (n2 * failures) / total,
    (n2 * (total - failures)) / total,
  ];
  const result = expected.every((e) => e >= 5)
    ? twoProportionZTest(x1, n1, x2, n2)
    : fisherExactGreater(x1, n1, x2, n2);
  return { ...result, significant: result.pValue < alpha, canaryRate, stableRate };
}
