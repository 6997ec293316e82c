/**
 * V8 options the analytics process should start with (`NODE_OPTIONS`; `up` passes them, see
 * src/providers/local/plan.ts, and so does `npm run bench:analytics-soak`). They must be given at
 * start: V8 sizes the main thread's heap when the isolate is created, and flags set later from
 * JavaScript do not change it. (The projector thread's limits are set in code, as Worker
 * `resourceLimits`, see projector-worker.ts.)
 *
 * `--max-semi-space-size=4`: under sustained ingest the main thread allocates fast (request bodies,
 * their events, the encoded log rows) while holding little (its live heap is ~30 MB besides the
 * duplicate window), and V8 grows the young generation to its default maximum for throughput —
 * 100–220 MiB of committed heap that is almost all garbage. Capped at 4 MiB per semi-space, the
 * main thread's heap stayed at 55–95 MiB in the same soak (docs/benchmarks.md, issue 21).
 */
export const ANALYTICS_NODE_OPTIONS = '--max-semi-space-size=4';
