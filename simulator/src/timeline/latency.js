// The timeline page's plots under the lanes, on the same window: latency and throughput with
// fault periods shaded (`drawLatency`), and the curve `raftsim explain` measured (`drawExplain`).
'use strict';
const Latency = (function () {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const TPUT_H = 34, LAT_H = 150, TOP = 6, GAP = 8, BOTTOM = 14;
  const EXPLAIN_H = 74;
  // Above this many visible operations the plot is a heat map of counts per cell.
  const MARKS_MAX = 3000;
  const CELL_PX = 4;

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVGNS, name);
    for (const k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, s, cls) { const t = el('text', { x: x, y: y, class: cls }, parent); t.textContent = s; return t; }

  // Where each operation ended: its return, or for an unknown one when its client gave up
  // (`prepare` computed `end`), which makes its latency a lower bound.
  function ended(op) { return op.status === 'unknown' ? op.end : op.ret; }

  function geometry(width, state) {
    const x0 = Timeline.LABEL_W, plotW = Math.max(50, width - Timeline.LABEL_W - 8);
    const t0 = state.t0, t1 = Math.max(state.t1, state.t0 + 1);
    return { x0: x0, plotW: plotW, t0: t0, t1: t1, x: (t) => x0 + ((t - t0) / (t1 - t0)) * plotW };
  }

  function shade(g, cls, x, from, to, y, h, tip, t0, t1) {
    if (to < t0 || from > t1) return;
    const a = x(Math.max(from, t0)), b = x(Math.min(to, t1));
    el('rect', { class: cls, x: a, y: y, width: Math.max(1, b - a), height: h, 'data-tip': tip }, g);
  }

  function drawLatency(svg, m, state, width) {
    const g0 = geometry(width, state), x = g0.x, t0 = g0.t0, t1 = g0.t1;
    const height = TOP + TPUT_H + GAP + LAT_H + BOTTOM;
    svg.replaceChildren();
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    svg.setAttribute('height', height);
    const d = m.data;
    const clip = el('clipPath', { id: 'latency-clip' }, el('defs', {}, svg));
    el('rect', { x: g0.x0, y: 0, width: g0.plotW, height: height }, clip);
    const body = el('g', { 'clip-path': 'url(#latency-clip)' }, svg);
    const top = TOP, latTop = TOP + TPUT_H + GAP, all = TPUT_H + GAP + LAT_H;
    // Fault periods behind everything: partitions, nodes down or paused, no leader.
    const shades = el('g', { class: 'shades' }, body);
    const fmt = Timeline.fmtNs;
    for (const p of d.partitions || []) {
      const end = typeof p[1] === 'number' ? p[1] : m.end;
      shade(shades, 'shade-partition', x, p[0], end, top, all, 'partition ' + p[2] + ' ' + fmt(p[0]) + ' – ' + fmt(end), t0, t1);
    }
    for (const lane of m.nodes) {
      for (const dn of lane.down || []) {
        const end = typeof dn[1] === 'number' ? dn[1] : m.end;
        shade(shades, 'shade-down', x, dn[0], end, top, all, 'n' + lane.node + ' down ' + fmt(dn[0]) + ' – ' + fmt(end), t0, t1);
      }
      for (const p of lane.paused || []) {
        const end = typeof p[1] === 'number' ? p[1] : m.end;
        shade(shades, 'shade-paused', x, p[0], end, top, all, 'n' + lane.node + ' paused ' + fmt(p[0]) + ' – ' + fmt(end), t0, t1);
      }
    }
    for (const p of d.leaderless || []) {
      shade(shades, 'shade-leaderless', x, p[0], p[1], latTop + LAT_H - 6, 6, 'no leader ' + fmt(p[0]) + ' – ' + fmt(p[1]) + ' (' + Timeline.fmtSpan(p[1] - p[0]) + ')', t0, t1);
    }
    text(svg, 6, top + TPUT_H / 2 + 4, 'ok / s', 'lane-label');
    text(svg, 6, latTop + 12, 'latency', 'lane-label');
    text(svg, 6, latTop + 26, 'log scale', 'lane-sub');

    // The operations that ended in the window (of the selected key).
    const ops = [];
    for (const op of m.byId.values()) {
      const e = ended(op);
      if (typeof e !== 'number' || e < t0 || e > t1) continue;
      if (state.key !== '' && op.key !== state.key) continue;
      ops.push(op);
    }
    // Throughput: ok completions per 2-pixel column.
    const cols = Math.max(1, Math.floor(g0.plotW / 2)), colNs = (t1 - t0) / cols;
    const counts = new Array(cols).fill(0);
    for (const op of ops) if (op.status === 'ok') counts[Math.min(cols - 1, Math.floor((op.ret - t0) / colNs))]++;
    let maxCount = 1;
    for (const c of counts) maxCount = Math.max(maxCount, c);
    const tput = el('g', { class: 'throughput' }, body);
    counts.forEach((c, i) => {
      if (!c) return;
      const h = Math.max(1, ((TPUT_H - 2) * c) / maxCount);
      el('rect', { class: 'tput-bar', 'data-count': c, x: g0.x0 + i * 2, y: top + TPUT_H - h, width: 2, height: h,
        'data-tip': c + ' ok in ' + fmt(t0 + i * colNs) + ' – ' + fmt(t0 + (i + 1) * colNs) + ' (' + (c / (colNs / 1e9)).toFixed(0) + ' ops/s)' }, tput);
    });

    // Latency on a log scale, from the smallest to the largest in view.
    let lo = Infinity, hi = 0;
    for (const op of ops) { const l = Math.max(1e3, ended(op) - op.call); lo = Math.min(lo, l); hi = Math.max(hi, l); }
    if (!isFinite(lo)) { lo = 1e5; hi = 1e9; }
    const llo = Math.floor(Math.log10(lo)), lhi = Math.max(llo + 1, Math.ceil(Math.log10(hi)));
    const y = (ns) => latTop + LAT_H - 8 - ((Math.log10(Math.max(1e3, ns)) - llo) / (lhi - llo)) * (LAT_H - 14);
    const axis = el('g', { class: 'axis' }, svg);
    for (let p = llo; p <= lhi; p++) {
      el('line', { class: 'grid', x1: g0.x0, x2: g0.x0 + g0.plotW, y1: y(Math.pow(10, p)), y2: y(Math.pow(10, p)) }, body);
      text(axis, g0.x0 - 4, y(Math.pow(10, p)) + 3, Timeline.fmtSpan(Math.pow(10, p)).replace('.000', '')).setAttribute('text-anchor', 'end');
    }
    const marks = el('g', { class: 'lat-marks' }, body);
    const binned = ops.length > MARKS_MAX;
    if (binned) {
      const cells = new Map();
      for (const op of ops) {
        const cx = Math.floor((x(ended(op)) - g0.x0) / CELL_PX), cy = Math.floor(y(ended(op) - op.call) / CELL_PX);
        const k = cx + ',' + cy;
        const c = cells.get(k) || { cx: cx, cy: cy, n: 0, ok: 0, failed: 0, unknown: 0 };
        c.n++; c[op.status]++; cells.set(k, c);
      }
      let maxN = 1;
      for (const c of cells.values()) maxN = Math.max(maxN, c.n);
      for (const c of cells.values()) {
        const worst = c.unknown ? 'unknown' : c.failed ? 'failed' : 'ok';
        el('rect', { class: 'lat-bin lat-' + worst, 'data-count': c.n, x: g0.x0 + c.cx * CELL_PX, y: c.cy * CELL_PX, width: CELL_PX, height: CELL_PX,
          opacity: (0.3 + (0.7 * c.n) / maxN).toFixed(2), 'data-tip': c.n + ' operation(s): ' + c.ok + ' ok, ' + c.failed + ' failed, ' + c.unknown + ' unknown' }, marks);
      }
    } else {
      for (const op of ops) {
        const px = x(ended(op)), py = y(ended(op) - op.call);
        const tip = Timeline.opTip(op) + (op.status === 'unknown' ? '\nlatency at least ' + Timeline.fmtSpan(ended(op) - op.call) + ' (its client gave up)' : '');
        const cls = 'lat-mark lat-' + op.status + (state.selected === op.id ? ' lat-selected' : '');
        const attrs = { class: cls, 'data-op': op.id, 'data-tip': tip };
        if (op.status === 'ok') el('circle', Object.assign(attrs, { cx: px, cy: py, r: 2.4 }), marks);
        else if (op.status === 'failed') el('path', Object.assign(attrs, { d: 'M' + (px - 3) + ' ' + (py - 3) + 'l6 6m0 -6l-6 6' }), marks);
        else el('path', Object.assign(attrs, { d: 'M' + px + ' ' + (py - 4) + 'l4 7h-8z' }), marks);
      }
    }
    const f = d.failure;
    if (f && typeof f.marker_ns === 'number' && f.marker_ns >= t0 && f.marker_ns <= t1) {
      el('line', { class: 'failure-line', x1: x(f.marker_ns), x2: x(f.marker_ns), y1: 0, y2: height }, body);
    }
    svg.setAttribute('data-marks', binned ? 0 : ops.length);
    svg.setAttribute('data-binned', binned);
    svg.setAttribute('data-ops', ops.length);
    return { marks: binned ? 0 : ops.length, binned: binned };
  }

  // The fraction of continuations forked at each point that still failed the same way.
  function drawExplain(svg, m, state, width) {
    const e = m.data.explain;
    if (!e || !Array.isArray(e.points) || !e.points.length) { svg.hidden = true; return; }
    svg.hidden = false;
    const g0 = geometry(width, state), x = g0.x, t0 = g0.t0, t1 = g0.t1;
    svg.replaceChildren();
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + EXPLAIN_H);
    svg.setAttribute('height', EXPLAIN_H);
    const top = 8, h = EXPLAIN_H - 22;
    const y = (f) => top + (1 - f) * h;
    text(svg, 6, top + 12, 'still fails', 'lane-label');
    text(svg, 6, top + 26, 'forks that', 'lane-sub');
    text(svg, 6, top + 38, 'fail alike', 'lane-sub');
    const clip = el('clipPath', { id: 'explain-clip' }, el('defs', {}, svg));
    el('rect', { x: g0.x0 - 5, y: 0, width: g0.plotW + 10, height: EXPLAIN_H }, clip);
    const body = el('g', { 'clip-path': 'url(#explain-clip)' }, svg);
    for (const f of [0, 0.5, 1]) {
      el('line', { class: 'grid', x1: g0.x0, x2: g0.x0 + g0.plotW, y1: y(f), y2: y(f) }, body);
      text(svg, g0.x0 - 4, y(f) + 3, f === 0.5 ? '½' : String(f), 'axis-label').setAttribute('text-anchor', 'end');
    }
    const pts = e.points.filter((p) => typeof p.time_ns === 'number' && typeof p.fraction === 'number');
    let path = '';
    pts.forEach((p, i) => {
      const px = x(p.time_ns), py = y(p.fraction);
      path += (i ? 'H' + px.toFixed(1) + 'V' : 'M' + px.toFixed(1) + ' ') + py.toFixed(1);
    });
    if (path) el('path', { class: 'explain-line', d: path }, body);
    const c = e.certain_from;
    if (c && typeof c.time_ns === 'number') {
      el('line', { id: 'explain-certain', 'data-time-ns': c.time_ns, 'data-event': c.event, class: 'explain-certain', x1: x(c.time_ns), x2: x(c.time_ns), y1: 0, y2: EXPLAIN_H,
        'data-tip': 'from event ' + c.event + ' (' + Timeline.fmtNs(c.time_ns) + ') on, every continuation failed the same way' }, body);
    }
    for (const p of pts) {
      if (p.time_ns < t0 || p.time_ns > t1) continue;
      el('circle', { class: 'explain-point' + (p.fraction >= 1 ? ' certain' : ''), 'data-event': p.event, 'data-fraction': p.fraction, 'data-time-ns': p.time_ns,
        cx: x(p.time_ns), cy: y(p.fraction), r: 3.5,
        'data-tip': 'fork at event ' + p.event + ' (' + Timeline.fmtNs(p.time_ns) + '): ' + p.same + ' of ' + p.runs + ' continuations failed the same way' }, body);
    }
  }

  return { drawLatency, drawExplain };
})();
