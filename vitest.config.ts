import { defineConfig } from 'vitest/config';

// Integration and e2e tests start real servers and subprocesses; on a 2-core machine they need
// generous timeouts and a bounded number of parallel files.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'runtime/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
