/**
 * The dashboard page: one HTML document with inline CSS and vanilla JS drawing SVG charts. Written
 * by hand rather than with a chart library: a few line charts do not justify a bundle, and nothing
 * may come from a CDN. Data arrive from `/api/snapshot` every 2 s; the page keeps the last 90
 * samples per service and version (3 minutes) to draw the RED lines.
 */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>platformctl dashboard</title>
<style>
  :root { --bg:#0f1419; --panel:#172029; --line:#26323d; --text:#d7dee5; --dim:#8593a0; --ok:#3fb950; --bad:#f85149; --warn:#d29922; --accent:#58a6ff; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--text); }
  header { display:flex; align-items:baseline; gap:16px; padding:14px 22px; border-bottom:1px solid var(--line); }
  header h1 { font-size:18px; margin:0; }
  header .meta { color:var(--dim); font-size:12px; }
  main { padding:18px 22px; display:grid; gap:18px; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
  section { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:14px 16px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size:13px; text-transform:uppercase; letter-spacing:.06em; color:var(--dim); margin:0 0 10px; }
  table { width:100%; border-collapse:collapse; font-size:13px; }
  th, td { text-align:left; padding:4px 6px; border-bottom:1px solid var(--line); }
  th { color:var(--dim); font-weight:500; }
  .dot { display:inline-block; width:9px; height:9px; border-radius:50%; margin-right:6px; }
  .ok { color:var(--ok); } .bad { color:var(--bad); } .warn { color:var(--warn); } .dim { color:var(--dim); }
  .bg-ok { background:var(--ok); } .bg-bad { background:var(--bad); } .bg-warn { background:var(--warn); }
  .charts { display:grid; grid-template-columns: 1fr; gap:14px; }
  .chartcard { border:1px solid var(--line); border-radius:6px; padding:8px 10px; }
  .chartcard h3 { margin:0 0 4px; font-size:14px; }
  .chartrow { display:grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap:10px; }
  .chart .label { font-size:11px; color:var(--dim); }
  .chart svg { width:100%; height:auto; display:block; background:#10171e; border-radius:4px; }
  .chart svg text { fill:var(--dim); font-size:9px; font-family:system-ui, sans-serif; }
  .chart svg .grid { stroke:#26323d; stroke-width:1; }
  .badge { font-size:10px; padding:0 5px; border-radius:3px; border:1px solid var(--line); color:var(--dim); margin-left:6px; }
  .legend { font-size:11px; color:var(--dim); margin-top:4px; }
  .legend span { margin-right:10px; }
  .steps { display:flex; gap:4px; margin:8px 0; flex-wrap:wrap; }
  .step { padding:3px 8px; border-radius:4px; border:1px solid var(--line); font-size:12px; color:var(--dim); }
  .step.done { background:#1f3a2a; color:var(--ok); border-color:#2e5a3c; }
  .step.current { background:#1d3047; color:var(--accent); border-color:var(--accent); }
  .bar { height:10px; background:#10171e; border-radius:5px; overflow:hidden; }
  .bar > div { height:100%; background:var(--accent); }
  ul { margin:0; padding-left:18px; }
  .empty { color:var(--dim); font-style:italic; }
  #error { color:var(--bad); }
</style>
</head>
<body>
<header>
  <h1>platformctl <span id="name" class="dim"></span></h1>
  <span class="meta" id="updated">connecting…</span>
  <span class="meta" id="error"></span>
  <span class="meta warn" id="demo-traffic" data-testid="demo-traffic"></span>
</header>
<main>
  <section class="wide" id="services-section">
    <h2>Services</h2>
    <table id="services" data-testid="services"><thead><tr><th>Service</th><th>Health</th><th>Versions</th><th>Instances</th><th>Traffic</th><th>req/s</th><th>errors</th><th>p95</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide" id="infra-section">
    <h2>Infrastructure</h2>
    <div id="infra" data-testid="infra"></div>
  </section>
  <section class="wide">
    <h2>RED per service and version (measured at the gateway, 10 s sliding window, last 3 minutes)</h2>
    <div class="charts" id="charts" data-testid="charts"></div>
  </section>
  <section id="canary-section">
    <h2>Canary</h2>
    <div id="canary" data-testid="canary"><p class="empty">no rollout yet</p></div>
  </section>
  <section>
    <h2>Chaos runs and drills</h2>
    <div id="chaos" data-testid="chaos"></div>
  </section>
  <section>
    <h2>Analytics</h2>
    <div id="analytics" data-testid="analytics"></div>
  </section>
</main>
<script>
(function () {
  'use strict';
  var HISTORY = 90;
  var COLORS = ['#58a6ff', '#f0883e', '#a371f7', '#3fb950', '#db61a2', '#d29922'];
  var series = {}; // "svc|version" -> [{t, rps, err, p95}]
  var versionColor = {};

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'class') e.className = attrs[k];
      else if (k === 'text') e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function fmtMs(ms) { return ms >= 1000 ? (ms / 1000).toFixed(2) + 's' : (ms < 10 ? ms.toFixed(1) : Math.round(ms)) + 'ms'; }
  function pct(x) { return (x * 100).toFixed(x < 0.01 && x > 0 ? 2 : 1) + '%'; }
  function colorOf(version) {
    if (!versionColor[version]) versionColor[version] = COLORS[Object.keys(versionColor).length % COLORS.length];
    return versionColor[version];
  }

  function renderServices(s) {
    var tbody = document.querySelector('#services tbody');
    tbody.textContent = '';
    s.services.forEach(function (svc) {
      var m = svc.metrics;
      var ready = svc.instances.filter(function (i) { return i.state === 'ready'; }).length;
      var traffic = svc.traffic && svc.traffic.weights
        ? Object.keys(svc.traffic.weights).map(function (v) { return v + ' ' + svc.traffic.weights[v] + '%'; }).join(', ')
        : '';
      // A backend outage leaves the service routed but failing what needs the backend: say which.
      var down = (svc.dependenciesDown || []).map(function (d) {
        return d.dependency + ' down since ' + new Date(d.since).toLocaleTimeString();
      }).join(', ');
      var health = svc.healthy ? (down ? 'degraded: ' + down : 'healthy') : 'unhealthy' + (down ? ' (' + down + ')' : '');
      tbody.appendChild(el('tr', { 'data-service': svc.name, 'data-healthy': String(svc.healthy) }, [
        el('td', { text: svc.name }),
        el('td', { class: svc.healthy && !down ? 'ok' : 'bad', 'data-dependencies-down': down }, [el('span', { class: 'dot ' + (svc.healthy && !down ? 'bg-ok' : 'bg-bad') }), health]),
        el('td', { text: svc.versions.join(', ') }),
        el('td', { text: ready + '/' + svc.instances.length + ' ready' }),
        el('td', { text: traffic }),
        el('td', { text: m ? m.rps.toFixed(1) : '–' }),
        el('td', { class: m && m.errorRate > 0.01 ? 'bad' : '', text: m ? pct(m.errorRate) : '–' }),
        el('td', { text: m ? fmtMs(m.p95) + (svc.kind === 'gateway' ? ' (worst route)' : '') : '–' }),
      ]));
    });
  }

  function renderInfra(s) {
    var root = document.getElementById('infra');
    root.textContent = '';
    var infra = s.infrastructure || [];
    if (!infra.length) { root.appendChild(el('p', { class: 'empty', text: 'none running (e.g. platformctl up --with prometheus)' })); return; }
    root.appendChild(el('table', {}, [el('tbody', {}, infra.map(function (x) {
      return el('tr', { 'data-infra': x.name }, [
        el('td', { text: x.name }),
        el('td', { class: x.healthy ? 'ok' : 'bad' }, [el('span', { class: 'dot ' + (x.healthy ? 'bg-ok' : 'bg-bad') }), x.healthy ? 'healthy' : 'unhealthy']),
        el('td', { text: x.instances.map(function (i) { return i.url; }).join(', ') }),
      ]);
    }))]));
  }

  function record(s) {
    var t = Date.parse(s.at);
    s.services.forEach(function (svc) {
      Object.keys(svc.byVersion || {}).forEach(function (v) {
        var key = svc.name + '|' + v;
        var b = svc.byVersion[v];
        var list = series[key] || (series[key] = []);
        list.push({ t: t, rps: b.rps || 0, err: b.errorRate || 0, p95: b.p95 || 0 });
        if (list.length > HISTORY) list.shift();
      });
    });
  }

  var SVGNS = 'http://www.w3.org/2000/svg';
  var WINDOW_MS = HISTORY * 2000;
  function svgEl(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }
  // The smallest 1, 2 or 5 times a power of ten at or above v: round numbers on the y axis.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  // A line chart with a y axis (0, half, max, in the metric's unit) and a time axis (the last
  // three minutes, ending now), so a reader can tell 2 req/s from 2000.
  function chart(title, unit, lines, field, format, now) {
    var W = 300, H = 112, L = 40, R = 6, T = 10, B = 16;
    var max = 0;
    lines.forEach(function (l) { l.points.forEach(function (p) { max = Math.max(max, p[field]); }); });
    max = field === 'err' ? niceMax(Math.max(max, 0.01)) : niceMax(max);
    var x = function (t) { return L + (1 - (now - t) / WINDOW_MS) * (W - L - R); };
    var y = function (v) { return H - B - (v / max) * (H - T - B); };
    var svg = svgEl('svg', { viewBox: '0 0 ' + W + ' ' + H, 'data-metric': field, role: 'img', 'aria-label': title + ' in ' + unit });
    [0, 0.5, 1].forEach(function (f) {
      var v = max * f;
      svg.appendChild(svgEl('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.appendChild(svgEl('text', { x: L - 4, y: y(v) + 3, 'text-anchor': 'end', 'data-axis': 'y' }, format(v)));
    });
    [3, 2, 1, 0].forEach(function (m) {
      var t = now - m * 60000;
      svg.appendChild(svgEl('text', { x: x(t), y: H - 4, 'text-anchor': m === 0 ? 'end' : m === 3 ? 'start' : 'middle', 'data-axis': 'x' }, m === 0 ? 'now' : '−' + m + ' min'));
    });
    lines.forEach(function (l) {
      var pts = l.points.filter(function (p) { return now - p.t <= WINDOW_MS; });
      if (pts.length === 0) return;
      var d = pts.map(function (p, i) { return (i === 0 ? 'M' : 'L') + x(p.t).toFixed(1) + ' ' + y(p[field]).toFixed(1); }).join(' ');
      if (pts.length === 1) d = 'M' + x(pts[0].t - 2000).toFixed(1) + ' ' + y(pts[0][field]).toFixed(1) + ' ' + d.replace('M', 'L');
      svg.appendChild(svgEl('path', { d: d, fill: 'none', stroke: l.color, 'stroke-width': '1.6', 'data-version': l.version }));
    });
    var last = lines.map(function (l) { var p = l.points[l.points.length - 1]; return p ? format(p[field]) : '–'; }).join(' / ');
    return el('div', { class: 'chart' }, [el('div', { class: 'label', text: title + ' (' + unit + ') · now ' + last }), svg]);
  }

  function renderCharts(s) {
    var root = document.getElementById('charts');
    root.textContent = '';
    s.services.forEach(function (svc) {
      var versions = svc.versions.length ? svc.versions : Object.keys(svc.byVersion || {});
      var lines = versions.map(function (v) { return { version: v, color: colorOf(v), points: series[svc.name + '|' + v] || [] }; });
      var now = Date.parse(s.at);
      var gw = svc.kind === 'gateway';
      var demoHere = s.demoTraffic && (gw || s.demoTraffic.services.indexOf(svc.name) !== -1);
      root.appendChild(el('div', { class: 'chartcard', 'data-service': svc.name }, [
        el('h3', {}, [gw ? svc.name + ' (every request it answered)' : svc.name, demoHere ? el('span', { class: 'badge', text: 'includes ' + s.demoTraffic.rate + ' req/s demo traffic' }) : null]),
        el('div', { class: 'chartrow' }, [
          chart('traffic', 'req/s', lines, 'rps', function (x) { return x >= 10 ? x.toFixed(0) : x >= 1 || x === 0 ? x.toFixed(1) : x.toFixed(2); }, now),
          chart('errors', '% of requests', lines, 'err', pct, now),
          chart(gw ? 'p95, worst route' : 'p95 latency', 'ms', lines, 'p95', fmtMs, now),
        ]),
        el('div', { class: 'legend' }, lines.map(function (l) {
          var sp = el('span', {}, [el('span', { class: 'dot', style: 'background:' + l.color }), l.version]);
          return sp;
        })),
      ]));
    });
  }

  function renderCanary(s) {
    var root = document.getElementById('canary');
    root.textContent = '';
    if (!s.rollouts.length) { root.appendChild(el('p', { class: 'empty', text: 'no rollout yet (platformctl deploy <service> --release <version>)' })); return; }
    s.rollouts.slice(0, 3).forEach(function (r) {
      var phaseClass = r.phase === 'Promoted' ? 'ok' : r.phase === 'RolledBack' || r.phase === 'Aborting' ? 'bad' : r.phase === 'Paused' || r.phase === 'Inconclusive' ? 'warn' : '';
      var steps = el('div', { class: 'steps' }, (r.steps || []).map(function (st, i) {
        var label = st.kind === 'setWeight' ? st.weight + '%'
          : st.kind === 'pause' ? 'pause ' + Math.round(st.durationMs / 1000) + 's'
          : st.kind === 'pauseUntilPromoted' ? 'wait for promote'
          : st.kind === 'analysis' ? 'analysis' : String(st.kind || 'step');
        var cls = 'step' + (i < r.stepIndex || r.phase === 'Promoted' ? ' done' : i === r.stepIndex ? ' current' : '');
        return el('span', { class: cls, 'data-step': String(i) }, [label]);
      }));
      var verdicts = el('ul', {}, (r.analyses || []).slice(-4).map(function (a) {
        var o = a.outcome;
        var v = o ? (o.verdict || o.result || o.decision || 'done') : 'running';
        var cls = /pass|success|ok/i.test(v) ? 'ok' : /fail|roll|abort/i.test(v) ? 'bad' : 'warn';
        return el('li', {}, ['step ' + (a.step + 1) + ' at ' + a.weight + '%: ', el('span', { class: cls, text: v }), o && o.reason ? el('span', { class: 'dim', text: ' — ' + o.reason }) : null]);
      }));
      root.appendChild(el('div', { class: 'rollout', 'data-service': r.service, 'data-phase': r.phase, 'data-weight': String(r.weight), 'data-step-index': String(r.stepIndex) }, [
        el('div', {}, [el('strong', { text: r.service }), ' ' + r.stable + ' → ' + r.release + ' · ', el('span', { class: phaseClass, text: r.phase }), ' · ' + r.strategy]),
        el('div', { class: 'weight', text: 'weight ' + r.weight + '%' + ((r.steps || []).length ? ' · step ' + Math.min(r.stepIndex + 1, r.steps.length) + '/' + r.steps.length : '') }),
        el('div', { class: 'bar' }, [el('div', { style: 'width:' + Math.max(0, Math.min(100, r.weight)) + '%' })]),
        steps,
        el('div', { class: 'dim', text: r.message || '' }),
        verdicts,
      ]));
    });
  }

  function renderChaos(s) {
    var root = document.getElementById('chaos');
    root.textContent = '';
    var faults = s.activeFaults || [];
    root.appendChild(el('h3', { text: 'Active faults', style: 'font-size:13px;margin:8px 0 4px' }));
    if (!faults.length) root.appendChild(el('p', { class: 'empty', text: 'none' }));
    else root.appendChild(el('table', { 'data-testid': 'active-faults' }, [el('tbody', {}, faults.map(function (f) {
      var expiry = f.expiresInMs === undefined ? 'until removed' : 'expires in ' + Math.ceil(f.expiresInMs / 1000) + 's';
      var owner = f.owner ? f.owner.experiment + (f.owner.alive ? '' : ' (run gone)') : '';
      return el('tr', {}, [el('td', { class: 'bad', text: f.description }), el('td', { text: expiry }), el('td', { class: 'dim', text: owner })]);
    }))]));
    function list(title, items, fmt) {
      root.appendChild(el('h3', { text: title, style: 'font-size:13px;margin:8px 0 4px' }));
      if (!items.length) { root.appendChild(el('p', { class: 'empty', text: 'none yet' })); return; }
      root.appendChild(el('table', {}, [el('tbody', {}, items.map(fmt))]));
    }
    list('Chaos experiments', s.chaos, function (c) {
      var cls = /pass|ok|success/i.test(String(c.verdict)) ? 'ok' : 'bad';
      return el('tr', {}, [el('td', { text: c.title || c.file }), el('td', { class: cls, text: String(c.verdict || '?') }), el('td', { class: 'dim', text: c.startedAt || '' })]);
    });
    list('Drills', s.drills, function (d) {
      var cls = d.verdict === 'resolved' ? 'ok' : d.verdict === 'aborted' ? 'bad' : 'warn';
      return el('tr', {}, [el('td', { text: d.title || d.file }), el('td', { class: cls, text: String(d.verdict || '?') }), el('td', { text: d.score ? 'score ' + d.score : '' }), el('td', { class: 'dim', text: d.startedAt || '' })]);
    });
  }

  function renderAnalytics(s) {
    var root = document.getElementById('analytics');
    root.textContent = '';
    var a = s.analytics || {};
    if (!a.available) { root.appendChild(el('p', { class: 'empty', text: 'analytics unavailable' + (a.error ? ': ' + a.error : '') })); return; }
    function items(title, list, valueKey, unit) {
      root.appendChild(el('h3', { text: title, style: 'font-size:13px;margin:8px 0 4px' }));
      var shown = (list && list.items) || [];
      if (!shown.length) root.appendChild(el('p', { class: 'empty', text: 'no data yet' }));
      else root.appendChild(el('ol', {}, shown.map(function (i) {
        return el('li', { 'data-content-id': i.contentId }, [
          el('span', { class: 'title', text: i.title, title: i.contentId }),
          i.demo ? el('span', { class: 'badge', text: 'demo' }) : null,
          ' ', el('span', { class: 'dim', text: String(i[valueKey]) + ' ' + unit })]);
      })));
      if (list && list.synthetic) root.appendChild(el('p', { class: 'dim', 'data-synthetic': String(list.synthetic), text: list.synthetic + ' more with no such content (chaos and load-test events) not shown' }));
    }
    items('Top content (24 h)', a.top, 'views', 'views');
    items('Trending (1 h)', a.trending, 'views', 'views');
    items('Viewed together with ' + (a.topItem || 'the top item'), a.recommendations, 'coViews', 'co-views');
  }

  function tick() {
    fetch('/api/snapshot', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('snapshot: HTTP ' + r.status); return r.json(); })
      .then(function (s) {
        document.getElementById('name').textContent = s.name;
        document.getElementById('updated').textContent = (s.running ? 'running' : 'not running') + ' · updated ' + new Date(s.at).toLocaleTimeString();
        var demo = s.demoTraffic;
        document.getElementById('demo-traffic').textContent = demo
          ? 'demo traffic: ' + demo.rate + ' req/s to ' + demo.services.join(', ') + ' until ' + new Date(demo.until).toLocaleTimeString() + ' is in these figures (platformctl demo traffic --stop)'
          : '';
        document.getElementById('error').textContent = '';
        record(s);
        renderServices(s);
        renderInfra(s);
        renderCharts(s);
        renderCanary(s);
        renderChaos(s);
        renderAnalytics(s);
        document.body.setAttribute('data-ticks', String(Number(document.body.getAttribute('data-ticks') || 0) + 1));
      })
      .catch(function (e) { document.getElementById('error').textContent = String(e.message || e); })
      .then(function () { setTimeout(tick, 2000); });
  }
  tick();
})();
</script>
</body>
</html>
`;
