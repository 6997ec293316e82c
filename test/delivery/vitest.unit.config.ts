import { defineConfig } from 'vitest/config';

// Unit tests of the delivery engine need no built CLI; this config skips the global build step so
// they can run while other areas of the tree are mid-change: npx vitest run -c test/delivery/vitest.unit.config.ts
export default defineConfig({
  root: new URL('../..', import.meta.url).pathname,
  test: {
    include: ['test/delivery/**/*.test.ts'],
    exclude: ['test/delivery/**/*.e2e.test.ts'],
    testTimeout: 30_000,
  },
});
