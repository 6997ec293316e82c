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
  .charts { display:grid; grid-template-columns: repeat(auto-fit, minmax(330px, 1fr)); gap:14px; }
  .chartcard { border:1px solid var(--line); border-radius:6px; padding:8px 10px; }
  .chartcard h3 { margin:0 0 4px; font-size:14px; }
  .chartrow { display:grid; grid-template-columns: 1fr 1fr 1fr; gap:6px; }
  .chart .label { font-size:11px; color:var(--dim); }
  .chart svg { width:100%; height:60px; display:block; background:#10171e; border-radius:4px; }
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
</header>
<main>
  <section class="wide" id="services-section">
    <h2>Services</h2>
    <table id="services" data-testid="services"><thead><tr><th>Service</th><th>Health</th><th>Versions</th><th>Instances</th><th>Traffic</th><th>req/s</th><th>errors</th><th>p95</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide">
    <h2>RED per service and version (gateway, sliding window)</h2>
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
      tbody.appendChild(el('tr', { 'data-service': svc.name, 'data-healthy': String(svc.healthy) }, [
        el('td', { text: svc.name }),
        el('td', { class: svc.healthy ? 'ok' : 'bad' }, [el('span', { class: 'dot ' + (svc.healthy ? 'bg-ok' : 'bg-bad') }), svc.healthy ? 'healthy' : 'unhealthy']),
        el('td', { text: svc.versions.join(', ') }),
        el('td', { text: ready + '/' + svc.instances.length + ' ready' }),
        el('td', { text: traffic }),
        el('td', { text: m ? m.rps.toFixed(1) : '–' }),
        el('td', { class: m && m.errorRate > 0.01 ? 'bad' : '', text: m ? pct(m.errorRate) : '–' }),
        el('td', { text: m ? fmtMs(m.p95) : '–' }),
      ]));
    });
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
  function chart(label, lines, field, format) {
    var w = 300, h = 60, pad = 3;
    var max = 0, tmin = Infinity, tmax = -Infinity;
    lines.forEach(function (l) { l.points.forEach(function (p) { max = Math.max(max, p[field]); tmin = Math.min(tmin, p.t); tmax = Math.max(tmax, p.t); }); });
    if (max === 0) max = field === 'err' ? 0.01 : 1;
    var span = Math.max(tmax - tmin, 1);
    var svg = document.createElementNS(SVGNS, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('data-metric', field);
    lines.forEach(function (l) {
      if (l.points.length === 0) return;
      var d = l.points.map(function (p, i) {
        var x = l.points.length === 1 ? w : pad + ((p.t - tmin) / span) * (w - 2 * pad);
        var y = h - pad - (p[field] / max) * (h - 2 * pad);
        return (i === 0 ? 'M' : 'L') + x.toFixed(1) + ' ' + y.toFixed(1);
      }).join(' ');
      if (l.points.length === 1) d = 'M0 ' + d.split(' ')[1] + ' L' + w + ' ' + d.split(' ')[1];
      var path = document.createElementNS(SVGNS, 'path');
      path.setAttribute('d', d);
      path.setAttribute('fill', 'none');
      path.setAttribute('stroke', l.color);
      path.setAttribute('stroke-width', '1.6');
      path.setAttribute('vector-effect', 'non-scaling-stroke');
      path.setAttribute('data-version', l.version);
      svg.appendChild(path);
    });
    var last = lines.map(function (l) { var p = l.points[l.points.length - 1]; return p ? format(p[field]) : '–'; }).join(' / ');
    return el('div', { class: 'chart' }, [el('div', { class: 'label', text: label + ' · ' + last }), svg]);
  }

  function renderCharts(s) {
    var root = document.getElementById('charts');
    root.textContent = '';
    s.services.forEach(function (svc) {
      if (svc.kind === 'gateway') return;
      var versions = svc.versions.length ? svc.versions : Object.keys(svc.byVersion || {});
      var lines = versions.map(function (v) { return { version: v, color: colorOf(v), points: series[svc.name + '|' + v] || [] }; });
      root.appendChild(el('div', { class: 'chartcard', 'data-service': svc.name }, [
        el('h3', { text: svc.name }),
        el('div', { class: 'chartrow' }, [
          chart('req/s', lines, 'rps', function (x) { return x.toFixed(1); }),
          chart('errors', lines, 'err', pct),
          chart('p95', lines, 'p95', fmtMs),
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
        el('div', { class: 'weight', text: 'weight ' + r.weight + '% · step ' + (r.stepIndex + 1) + '/' + (r.steps || []).length }),
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
    function items(title, list, valueKey) {
      root.appendChild(el('h3', { text: title, style: 'font-size:13px;margin:8px 0 4px' }));
      if (!list || !list.length) { root.appendChild(el('p', { class: 'empty', text: 'no data yet' })); return; }
      root.appendChild(el('ol', {}, list.map(function (i) { return el('li', {}, [el('code', { text: i.contentId }), ' ', el('span', { class: 'dim', text: String(i[valueKey]) + ' ' + valueKey })]); })));
    }
    items('Top content (24 h)', a.top && a.top.items, 'views');
    items('Trending (1 h)', a.trending && a.trending.items, 'views');
    items('Recommended with the top item', a.recommendations && a.recommendations.items, 'coViews');
  }

  function tick() {
    fetch('/api/snapshot', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('snapshot: HTTP ' + r.status); return r.json(); })
      .then(function (s) {
        document.getElementById('name').textContent = s.name;
        document.getElementById('updated').textContent = (s.running ? 'running' : 'not running') + ' · updated ' + new Date(s.at).toLocaleTimeString();
        document.getElementById('error').textContent = '';
        record(s);
        renderServices(s);
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
