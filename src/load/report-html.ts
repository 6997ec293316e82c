/**
 * A self-contained HTML report: inline CSS, charts drawn as inline SVG at generation time (no
 * script, no fonts, no network), native SVG <title> tooltips. It opens from a file, offline, in
 * any browser, and can be attached to a CI run as a single artifact.
 */
import type { LoadSummary, TrendMetric } from './summary.ts';

interface Series {
  name: string;
  color: string;
  points: [number, number][];
  dashed?: boolean;
}

const W = 720;
const H = 260;
const PAD = { left: 60, right: 16, top: 28, bottom: 40 };

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(n: number): string {
  if (n === 0) return '0';
  if (Math.abs(n) >= 1000) return `${Number((n / 1000).toFixed(1))}k`;
  if (Math.abs(n) >= 10) return String(Math.round(n));
  return String(Number(n.toPrecision(2)));
}

/** "Nice" tick step for a range (1, 2 or 5 times a power of ten). */
function niceStep(max: number, ticks = 5): number {
  const raw = max / ticks || 1;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pow;
}

function frame(
  id: string,
  title: string,
  xLabel: string,
  yLabel: string,
  xMax: number,
  yMax: number,
): string {
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const ys = niceStep(yMax);
  const xs = niceStep(xMax, 8);
  let g = '';
  for (let y = 0; y <= yMax + 1e-9; y += ys) {
    const py = PAD.top + ih - (y / yMax) * ih;
    g += `<line class="grid" x1="${PAD.left}" x2="${PAD.left + iw}" y1="${py}" y2="${py}"/>`;
    g += `<text class="tick" x="${PAD.left - 6}" y="${py + 4}" text-anchor="end">${fmt(y)}</text>`;
  }
  for (let x = 0; x <= xMax + 1e-9; x += xs) {
    const px = PAD.left + (x / xMax) * iw;
    g += `<text class="tick" x="${px}" y="${PAD.top + ih + 16}" text-anchor="middle">${fmt(x)}</text>`;
  }
  return (
    `<svg id="${id}" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">` +
    `<text class="title" x="${PAD.left}" y="16">${esc(title)}</text>` +
    `<line class="axis" x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${PAD.top + ih}"/>` +
    `<line class="axis" x1="${PAD.left}" x2="${PAD.left + iw}" y1="${PAD.top + ih}" y2="${PAD.top + ih}"/>` +
    g +
    `<text class="label" x="${PAD.left + iw / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text>` +
    `<text class="label" transform="translate(14 ${PAD.top + ih / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`
  );
}

function lineChart(id: string, title: string, yLabel: string, series: Series[]): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return emptyChart(id, title);
  const xMax = Math.max(1, ...all.map((p) => p[0]));
  const yMax = Math.max(...all.map((p) => p[1])) * 1.1 || 1;
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const X = (x: number) => PAD.left + (x / xMax) * iw;
  const Y = (y: number) => PAD.top + ih - (y / yMax) * ih;
  let body = frame(id, title, 'seconds', yLabel, xMax, yMax);
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points
      .map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`)
      .join('');
    body += `<path class="series" d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}><title>${esc(s.name)}</title></path>`;
    for (const [x, y] of s.points) {
      body += `<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2.5" fill="${s.color}"><title>${esc(s.name)} at ${x}s: ${fmt(y)}</title></circle>`;
    }
    const lx = PAD.left + 10 + i * 150;
    body += `<rect x="${lx}" y="${PAD.top - 2}" width="12" height="4" fill="${s.color}"/><text class="legend" x="${lx + 16}" y="${PAD.top + 3}">${esc(s.name)}</text>`;
  });
  return `${body}</svg>`;
}

function barChart(
  id: string,
  title: string,
  xLabel: string,
  yLabel: string,
  bars: { label: string; value: number; color: string; tip: string }[],
): string {
  if (bars.length === 0) return emptyChart(id, title);
  const yMax = Math.max(...bars.map((b) => b.value)) * 1.1 || 1;
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const bw = iw / bars.length;
  let body =
    `<svg id="${id}" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">` +
    `<text class="title" x="${PAD.left}" y="16">${esc(title)}</text>` +
    `<line class="axis" x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${PAD.top + ih}"/>` +
    `<line class="axis" x1="${PAD.left}" x2="${PAD.left + iw}" y1="${PAD.top + ih}" y2="${PAD.top + ih}"/>`;
  const ys = niceStep(yMax);
  for (let y = 0; y <= yMax + 1e-9; y += ys) {
    const py = PAD.top + ih - (y / yMax) * ih;
    body += `<line class="grid" x1="${PAD.left}" x2="${PAD.left + iw}" y1="${py}" y2="${py}"/><text class="tick" x="${PAD.left - 6}" y="${py + 4}" text-anchor="end">${fmt(y)}</text>`;
  }
  const labelEvery = Math.ceil(bars.length / 12);
  bars.forEach((b, i) => {
    const h = (b.value / yMax) * ih;
    const x = PAD.left + i * bw;
    body += `<rect class="bar" x="${(x + 1).toFixed(1)}" y="${(PAD.top + ih - h).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${b.color}"><title>${esc(b.tip)}</title></rect>`;
    if (i % labelEvery === 0) {
      body += `<text class="tick" x="${(x + bw / 2).toFixed(1)}" y="${PAD.top + ih + 16}" text-anchor="middle">${esc(b.label)}</text>`;
    }
  });
  body += `<text class="label" x="${PAD.left + iw / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text>`;
  body += `<text class="label" transform="translate(14 ${PAD.top + ih / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`;
  return `${body}</svg>`;
}

function emptyChart(id: string, title: string): string {
  return `<svg id="${id}" class="chart" viewBox="0 0 ${W} 60" width="${W}" height="60"><text class="title" x="10" y="30">${esc(title)}: no data</text></svg>`;
}

function trendRow(label: string, t: TrendMetric['values']): string {
  const cells = [t.avg, t.min, t.med, t['p(90)'], t['p(95)'], t['p(99)'], t.max].map(
    (v) => `<td>${v.toFixed(2)}</td>`,
  );
  return `<tr><th>${esc(label)}</th>${cells.join('')}</tr>`;
}

/** Renders the summary as one HTML document. */
export function renderHtmlReport(s: LoadSummary): string {
  const tl = s.timeline;
  const latencySeries: Series[] = [
    { name: 'p50', color: '#2b8a3e', points: tl.map((p) => [p.t, p.p50]) },
    { name: 'p95', color: '#e67700', points: tl.map((p) => [p.t, p.p95]) },
    { name: 'p99', color: '#c92a2a', points: tl.map((p) => [p.t, p.p99]) },
  ];
  if (s.openModel) {
    latencySeries.push({
      name: 'p99 raw (actual send)',
      color: '#5f3dc4',
      dashed: true,
      points: tl.map((p) => [p.t, p.rawP99]),
    });
  }
  const latency = lineChart(
    'chart-latency',
    s.openModel ? 'Latency percentiles over time (from intended send time)' : 'Latency percentiles over time',
    'ms',
    latencySeries,
  );
  const throughput = lineChart('chart-throughput', 'Throughput', 'requests/s', [
    { name: 'requests/s', color: '#1971c2', points: tl.map((p) => [p.t, p.requests]) },
    ...(tl.some((p) => p.dropped > 0)
      ? [
          {
            name: 'dropped/s',
            color: '#868e96',
            dashed: true,
            points: tl.map((p): [number, number] => [p.t, p.dropped]),
          },
        ]
      : []),
  ]);
  const errors = barChart(
    'chart-errors',
    'Errors per second (failed requests)',
    'seconds',
    'failed/s',
    tl.map((p) => ({
      label: String(p.t),
      value: p.failed,
      color: '#e03131',
      tip: `${p.t}s: ${p.failed} failed of ${p.requests}`,
    })),
  );
  const histogram = barChart(
    'chart-histogram',
    'Latency distribution',
    'latency (ms, upper bound)',
    'requests',
    s.histogram.map((b) => ({
      label: fmt(b.le),
      value: b.count,
      color: '#1c7ed6',
      tip: `≤ ${b.le} ms: ${b.count}`,
    })),
  );
  const d = s.metrics.http_req_duration as TrendMetric;
  const reqs = s.metrics.http_reqs?.values as { count: number; rate: number };
  const failed = s.metrics.http_req_failed?.values as { rate: number };
  const checks = s.metrics.checks?.values as { rate: number; passes: number; fails: number };
  const dropped = s.metrics.dropped_iterations?.values as { count: number };
  const perName = Object.entries(s.metrics)
    .filter(([k]) => k.startsWith('http_req_duration{'))
    .map(([k, m]) => trendRow(k.slice('http_req_duration'.length), (m as TrendMetric).values))
    .join('');
  const thresholdRows = s.thresholds
    .map(
      (t) =>
        `<tr class="${t.ok ? 'ok' : 'fail'}"><td>${t.ok ? '✓' : '✗'}</td><td>${esc(t.metric)}</td><td>${esc(t.expression)}</td><td>${t.noData ? 'no data' : (t.actual ?? 'n/a')}</td></tr>`,
    )
    .join('');
  const checkRows = s.root_group.checks
    .map(
      (c) =>
        `<tr class="${c.fails ? 'fail' : 'ok'}"><td>${esc(c.name)}</td><td>${c.passes}</td><td>${c.fails}</td></tr>`,
    )
    .join('');
  const verdict =
    s.valid === false
      ? `<span class="badge fail" id="invalid-run">invalid run: ${esc(s.validity.reasons.join('; '))}</span>`
      : s.state.aborted
        ? `<span class="badge fail">aborted: ${esc(s.state.abortReason ?? '')}</span>`
        : s.thresholdsOk
          ? '<span class="badge ok">thresholds passed</span>'
          : '<span class="badge fail">thresholds failed</span>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Load report: ${esc(s.scenario.name)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1500px;padding:0 16px;color:#212529;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.meta{color:#495057}.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600}
.badge.ok{background:#d3f9d8;color:#2b8a3e}.badge.fail{background:#ffe3e3;color:#c92a2a}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}.card{border:1px solid #dee2e6;border-radius:8px;padding:10px 14px;min-width:140px}
.card b{display:block;font-size:20px}.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(720px,1fr));gap:16px}
.chart{border:1px solid #dee2e6;border-radius:8px;background:#fff;max-width:100%;height:auto}
.chart .grid{stroke:#f1f3f5}.chart .axis{stroke:#868e96}.chart .tick,.chart .legend{font-size:11px;fill:#495057}
.chart .title{font-size:13px;font-weight:600;fill:#212529}.chart .label{font-size:11px;fill:#868e96}
table{border-collapse:collapse;margin:8px 0}td,th{border-bottom:1px solid #e9ecef;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}table.text td,table.text th{text-align:left}tr.fail td{color:#c92a2a}tr.ok td:first-child{color:#2b8a3e}
.note{color:#495057;font-size:13px;max-width:900px}
</style></head>
<body>
<h1>Load report: ${esc(s.scenario.name)} ${verdict}</h1>
<div class="meta">${esc(s.executor.type)} against ${esc(s.target)} · ${s.workers} worker(s) · started ${esc(s.state.startedAt)} · ran ${(s.state.testRunDurationMs / 1000).toFixed(1)} s</div>
<div class="cards">
<div class="card">requests<b id="stat-requests">${reqs.count}</b>${reqs.rate.toFixed(1)}/s</div>
<div class="card">failed<b>${(failed.rate * 100).toFixed(2)}%</b></div>
<div class="card">p95<b>${d.values['p(95)'].toFixed(1)} ms</b></div>
<div class="card">p99<b>${d.values['p(99)'].toFixed(1)} ms</b></div>
<div class="card">checks<b>${(checks.rate * 100).toFixed(2)}%</b>${checks.passes} ✓ ${checks.fails} ✗</div>
<div class="card">dropped<b>${dropped.count}</b>iterations</div>
</div>
<div class="charts">
${latency}
${throughput}
${errors}
${histogram}
</div>
<h2>Latency (ms)</h2>
<table id="latency-table"><tr><th></th><th>avg</th><th>min</th><th>med</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr>
${d.corrected ? trendRow('corrected (from intended send)', d.corrected) : ''}
${trendRow(d.corrected ? 'raw (from actual send)' : 'all requests', d.raw)}
${perName}
</table>
${s.openModel ? '<p class="note">Arrival-rate run: latency is measured from each request\'s intended send time, so a stalled server shows up in the percentiles instead of silently slowing the generator (coordinated omission). Raw figures are measured from the moment the request was written to a socket.</p>' : '<p class="note">Closed-model run (virtual users): each user waits for its response before sending again, so a server stall delays the senders and is under-represented in the percentiles. Use an arrival-rate executor to gate on latency.</p>'}
<h2>Thresholds</h2>
${thresholdRows ? `<table id="thresholds-table" class="text"><tr><th></th><th>metric</th><th>threshold</th><th>actual</th></tr>${thresholdRows}</table>` : '<p class="note">No thresholds.</p>'}
<h2>Checks</h2>
${checkRows ? `<table class="text"><tr><th>check</th><th>passes</th><th>fails</th></tr>${checkRows}</table>` : '<p class="note">No checks.</p>'}
<h2>Status codes</h2>
<table><tr><th>status</th><th>count</th></tr>${Object.entries(s.statuses)
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v}</td></tr>`)
    .join('')}</table>
<script type="application/json" id="summary-data">${JSON.stringify({ ...s, timeline: undefined }).replace(/</g, '\\u003c')}</script>
</body></html>
`;
}
