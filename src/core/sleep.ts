/** Resolves after `ms` milliseconds: the one pause the CLI's polling loops and backoffs use. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
