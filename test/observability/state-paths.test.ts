/** The runtime writes spans where platformctl reads them: both take the path from runtime/contract. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initTracing } from '../../runtime/lib/tracing.ts';
import { statePaths } from '../../src/core/state-dir.ts';
import { readSpans } from '../../src/observability/traces.ts';

const root = mkdtempSync(join(tmpdir(), 'state-paths-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the state directory contract', () => {
  it('a span a service writes under TRACES_DIR is one `platformctl traces` reads', async () => {
    const paths = statePaths(root);
    const tracing = await initTracing({
      service: 'web',
      version: 'v1',
      instance: 'web-1',
      tracesDir: paths.traces,
    });
    const span = tracing.startServerSpan('GET /web', undefined);
    span.end();
    await tracing.shutdown();
    const spans = readSpans(paths.traces);
    expect(spans.map((s) => [s.traceId, s.service])).toEqual([[span.traceId, 'web']]);
  });
});
