/** The process exit codes platformctl documents (README, "Exit codes"); the error catalogue maps codes to them. */

/** Documented process exit codes (README, "Exit codes"). Callers branch on these, never on text. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  thresholdsFailed: 3,
  rolledBack: 4,
  policyViolation: 5,
  deviated: 6,
  /** `load run`: the generator could not apply the planned load; the figures do not count. */
  invalidRun: 7,
  /** `deploy --wait`: the analysis stayed inconclusive past its deadline (progressDeadline, inconclusiveLimit). */
  deadlineExceeded: 8,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
