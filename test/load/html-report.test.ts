/**
 * The HTML report opens in headless Chromium with no network and shows its four charts with
 * drawn content. Needs Debian's chromium (CI installs it); skipped with a message otherwise.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtmlReport } from '../../src/load/report-html.ts';
import { runLoad } from '../../src/load/run.ts';
import { buildSummary, type CounterMetric } from '../../src/load/summary.ts';
import { CHROMIUM, CHROMIUM_ARGS, hasChromium } from '../helpers/chromium.ts';
import { scenarioFrom } from './scenario-file.ts';
import { startServer, type TestServer } from './servers.ts';

if (!hasChromium)
  console.warn(`skipping the HTML report browser test: ${CHROMIUM} is missing (apt-get install -y chromium)`);

describe.skipIf(!hasChromium)('HTML report in headless Chromium', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Some latency spread and a few errors so every chart has something to draw.
    server = await startServer((_req, res, n) => {
      setTimeout(() => {
        res.writeHead(n % 25 === 0 ? 500 : 200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }, n % 10);
    });
  });
  afterAll(() => server.close());

  it('renders latency, throughput, error and histogram charts offline', async () => {
    const scenario = scenarioFrom(`
name: report-<demo>
requests:
  - { name: read, method: GET, path: /r, weight: 3, checks: [{ status: [200] }] }
  - { name: write, method: POST, path: /w, body: { a: 1 } }
executor: { type: constant-arrival-rate, rate: 100, duration: 3s }
thresholds:
  http_req_failed: ['rate<0.5']
  http_req_duration{name:write}: ['p(95)<1']
`);
    const summary = buildSummary(await runLoad(scenario, { target: server.url }));
    const dir = mkdtempSync(join(tmpdir(), 'load-report-'));
    const file = join(dir, 'report.html');
    writeFileSync(file, renderHtmlReport(summary));

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1500, height: 1400 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(file).href);
      expect(await page.title()).toBe('Load report: report-<demo>');
      for (const id of ['chart-latency', 'chart-throughput', 'chart-errors', 'chart-histogram']) {
        const chart = page.locator(`svg#${id}`);
        await expect(chart.count()).resolves.toBe(1);
        const box = await chart.boundingBox();
        expect(box?.width).toBeGreaterThan(100);
        expect(box?.height).toBeGreaterThan(100);
        const marks = await chart.locator('path.series, rect.bar').count();
        expect(marks, `${id} has drawn series or bars`).toBeGreaterThan(0);
      }
      // The latency chart draws p50/p95/p99 and the raw p99 of this open-model run.
      await expect(page.locator('svg#chart-latency path.series').count()).resolves.toBe(4);
      const pathData = await page.locator('svg#chart-latency path.series').first().getAttribute('d');
      expect(pathData?.split('L').length).toBeGreaterThanOrEqual(3);
      const bars = await page
        .locator('svg#chart-histogram rect.bar')
        .evaluateAll((els) => els.map((e) => Number(e.getAttribute('height'))));
      expect(bars.some((h) => h > 0)).toBe(true);
      await expect(page.locator('#thresholds-table tr.fail').count()).resolves.toBe(1);
      const embedded = JSON.parse((await page.locator('#summary-data').textContent()) ?? '{}');
      expect(embedded.metrics.http_reqs.values.count).toBe(
        (summary.metrics.http_reqs as CounterMetric).values.count,
      );
      // Self-contained: the only request is the file itself.
      expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
      const artifacts = resolve(import.meta.dirname, '..', '..', 'test-artifacts');
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'load-report.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
