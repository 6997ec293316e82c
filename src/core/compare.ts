/** The comparison operators that canary conditions, chaos probes and load thresholds share. */
export type Comparator = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** `left op right`, e.g. compare(0.02, '<', 0.05) is true. */
export function compare(left: number, op: Comparator, right: number): boolean {
  switch (op) {
    case '<':
      return left < right;
    case '<=':
      return left <= right;
    case '>':
      return left > right;
    case '>=':
      return left >= right;
    case '==':
      return left === right;
    case '!=':
      return left !== right;
  }
}
