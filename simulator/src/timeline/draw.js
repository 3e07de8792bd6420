// The drawing half of the timeline page: indexes the digested run once (`prepare`), then turns a
// time window into SVG (`drawPlot`, `drawOverview`). Only what intersects the window is
// materialised, and when more operations are visible than a browser draws smoothly, each client
// lane shows per-pixel bins instead, so a run with 10,000 operations stays responsive.
'use strict';
const Timeline = (function () {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const LABEL_W = 96;
  // A row for the failing point's label, then the time axis.
  const AXIS_H = 36;
  const MSG_H = 26;
  const PART_H = 18;
  const NODE_H = 24;
  const CLIENT_H = 20;
  const GAP = 10;
  // Above this many visible operations, lanes switch to bins: SVG with tens of thousands of
  // elements takes a noticeable time to build on every pan.
  const OPS_DRAWN_MAX = 2000;
  const BIN_PX = 3;
  const ROLE_NAMES = { F: 'follower', C: 'candidate', L: 'leader' };
  const STATUS = ['ok', 'failed', 'unknown'];

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVGNS, name);
    for (const k in attrs) {
      if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    }
    if (parent) parent.appendChild(e);
    return e;
  }

  function text(parent, x, y, s, cls) {
    const t = el('text', { x: x, y: y, class: cls }, parent);
    t.textContent = s;
    return t;
  }

  function fmtNs(ns) {
    if (ns === null || ns === undefined) return '?';
    return (ns / 1e6).toFixed(3) + ' ms';
  }

  function fmtSpan(ns) {
    if (ns >= 1e9) return (ns / 1e9).toFixed(3) + ' s';
    if (ns >= 1e6) return (ns / 1e6).toFixed(3) + ' ms';
    if (ns >= 1e3) return (ns / 1e3).toFixed(1) + ' µs';
    return ns + ' ns';
  }

  // A round tick step (1, 2 or 5 times a power of ten) giving about one label per 90 px.
  function tickStep(span, px) {
    const raw = span / Math.max(1, px / 90);
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    for (const m of [1, 2, 5, 10]) if (p * m >= raw) return p * m;
    return p * 10;
  }

  function fmtTick(ns, step) {
    if (step >= 1e9) return (ns / 1e9).toFixed(step % 1e9 === 0 ? 0 : 1) + ' s';
    if (step >= 1e6) return (ns / 1e6).toFixed(0) + ' ms';
    if (step >= 1e3) return (ns / 1e6).toFixed(Math.max(0, 6 - Math.round(Math.log10(step)))) + ' ms';
    return (ns / 1e6).toFixed(6) + ' ms';
  }

  // Builds the indexes the renderer needs, once per page.
  function prepare(data) {
    const end = Math.max(1, data.end_ns || 1);
    const v = data.violation || null;
    const m = {
      data: data, end: end,
      nodes: data.nodes || [], clients: data.clients || [],
      keys: (data.ops && data.ops.keys) || [], fs: (data.ops && data.ops.fs) || [],
      involved: new Set(v ? v.operations || [] : []), prefix: new Set(v ? v.longest_prefix || [] : []),
      byId: new Map(), lanes: new Map(), total: 0,
    };
    for (const c of m.clients) m.lanes.set(c, { regular: [], unknown: [], maxEnd: [] });
    for (const r of (data.ops && data.ops.rows) || []) {
      if (!Array.isArray(r)) continue;
      const op = { id: r[0], client: r[1], f: m.fs[r[2]] || '?', key: m.keys[r[3]], value: r[4], output: r[5],
        status: STATUS[r[6]] || 'unknown', call: r[7], ret: r[8], tries: r[9] || [] };
      if (typeof op.call !== 'number') continue;
      if (!m.lanes.has(op.client)) m.lanes.set(op.client, { regular: [], unknown: [], maxEnd: [] });
      const lane = m.lanes.get(op.client);
      (op.status === 'unknown' || typeof op.ret !== 'number' ? lane.unknown : lane.regular).push(op);
      m.byId.set(op.id, op);
      m.total++;
    }
    const timeout = data.op_timeout_ns;
    for (const lane of m.lanes.values()) {
      lane.regular.sort((a, b) => a.call - b.call || a.id - b.id);
      lane.unknown.sort((a, b) => a.call - b.call || a.id - b.id);
      // Prefix maxima of ends let a binary search find the first operation reaching into the window.
      let max = -Infinity;
      for (const op of lane.regular) { op.end = Math.max(op.ret, op.call); max = Math.max(max, op.end); lane.maxEnd.push(max); }
      // An unknown call's client gave up after its timeout (or when it called again); the call
      // may still take effect later, which the thin tail to the end of the run shows.
      const calls = lane.regular.concat(lane.unknown).map((o) => o.call).sort((a, b) => a - b);
      for (const op of lane.unknown) {
        const i = upper(calls, op.call);
        let giveUp = i < calls.length ? calls[i] : end;
        if (typeof timeout === 'number') giveUp = Math.min(giveUp, op.call + timeout);
        op.end = Math.max(op.call, Math.min(giveUp, end));
      }
    }
    return m;
  }

  // First index whose value is greater than x (values sorted ascending).
  function upper(values, x) {
    let lo = 0, hi = values.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (values[mid] <= x) lo = mid + 1; else hi = mid; }
    return lo;
  }

  function visibleOps(m, lane, t0, t1, key) {
    const out = [];
    let lo = 0, hi = lane.regular.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (lane.maxEnd[mid] < t0) lo = mid + 1; else hi = mid; }
    for (let i = lo; i < lane.regular.length && lane.regular[i].call <= t1; i++) {
      const op = lane.regular[i];
      if (op.end >= t0 && (key === '' || op.key === key)) out.push(op);
    }
    for (const op of lane.unknown) if (op.call <= t1 && (key === '' || op.key === key)) out.push(op);
    return out;
  }

  function opTip(op) {
    let what = op.f + ' ' + JSON.stringify(op.key === undefined ? '' : op.key);
    if (op.value !== null && op.value !== undefined) what += ' ' + JSON.stringify(op.value);
    if (op.output !== null && op.output !== undefined) what += ' → ' + JSON.stringify(op.output);
    const lines = ['op ' + op.id + ' · client ' + op.client + ' · ' + op.status, what,
      'call ' + fmtNs(op.call) + (typeof op.ret === 'number' && op.status !== 'unknown'
        ? ', return ' + fmtNs(op.ret) + ' (' + fmtSpan(op.ret - op.call) + ')'
        : ', no answer (may take effect any time after the call)')];
    if (op.tries.length) lines.push('sent to ' + op.tries.map((n) => 'n' + n).join(', '));
    return lines.join('\n');
  }

  function drawDefs(svg) {
    const defs = el('defs', {}, svg);
    const hatch = el('pattern', { id: 'hatch-down', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' }, defs);
    el('rect', { width: 6, height: 6, fill: '#e6e8eb' }, hatch);
    el('rect', { width: 2.5, height: 6, fill: '#8c959f' }, hatch);
    const dots = el('pattern', { id: 'stripes-paused', width: 4, height: 4, patternUnits: 'userSpaceOnUse' }, defs);
    el('rect', { width: 4, height: 4, fill: '#eee8fa' }, dots);
    el('rect', { width: 2, height: 4, fill: '#9b7fd1' }, dots);
    const unk = el('pattern', { id: 'stripes-unknown', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' }, defs);
    el('rect', { width: 6, height: 6, fill: '#fbe7b5' }, unk);
    el('rect', { width: 3, height: 6, fill: '#e0a526' }, unk);
    return defs;
  }

  // Draws the plot for the window [t0, t1] into `svg`, `width` pixels wide.
  function drawPlot(svg, m, state, width) {
    const t0 = state.t0, t1 = state.t1, plotW = Math.max(50, width - LABEL_W - 8);
    const x = (t) => LABEL_W + ((t - t0) / (t1 - t0)) * plotW;
    const clampX = (t) => Math.max(LABEL_W - 1, Math.min(LABEL_W + plotW + 1, x(t)));
    svg.replaceChildren();
    const defs = drawDefs(svg);
    const clip = el('clipPath', { id: 'plot-clip' }, defs);
    const nodesY = AXIS_H + MSG_H + PART_H + 6;
    const clientsY = nodesY + m.nodes.length * NODE_H + GAP;
    const height = clientsY + m.clients.length * CLIENT_H + 4;
    svg.setAttribute('height', height);
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    el('rect', { x: LABEL_W, y: 0, width: plotW, height: height }, clip);
    const body = el('g', { 'clip-path': 'url(#plot-clip)' });
    const d = m.data;
    const stats = { opsDrawn: 0, binned: false };

    // Background: the liveness phase, then grid lines and the axis.
    if (typeof d.duration_ns === 'number' && d.duration_ns < m.end) {
      el('rect', { class: 'liveness-phase', x: clampX(d.duration_ns), y: AXIS_H, width: Math.max(0, clampX(m.end) - clampX(d.duration_ns)), height: height - AXIS_H }, body);
    }
    const axis = el('g', { class: 'axis' }, svg);
    const step = tickStep(t1 - t0, plotW);
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      el('line', { class: 'grid', x1: x(t), x2: x(t), y1: AXIS_H - 4, y2: height }, body);
      text(axis, x(t) + 2, AXIS_H - 8, fmtTick(t, step));
    }
    el('line', { class: 'axis-line', x1: LABEL_W, x2: LABEL_W + plotW, y1: AXIS_H - 1, y2: AXIS_H - 1 }, svg);
    svg.appendChild(body);

    drawMessages(body, svg, m, x, t0, t1, plotW, AXIS_H);
    drawPartitions(body, svg, m, x, t0, t1, AXIS_H + MSG_H);
    m.nodes.forEach((lane, i) => drawNodeLane(svg, m, lane, nodesY + i * NODE_H, x, t0, t1, plotW));
    const lanes = m.clients.map((c) => [c, m.lanes.get(c) || { regular: [], unknown: [], maxEnd: [] }]);
    const visible = lanes.map(([, lane]) => visibleOps(m, lane, t0, t1, state.key));
    const count = visible.reduce((n, ops) => n + ops.length, 0);
    stats.binned = count > OPS_DRAWN_MAX;
    lanes.forEach(([c, lane], i) => {
      stats.opsDrawn += drawClientLane(svg, m, c, lane, visible[i], clientsY + i * CLIENT_H, x, t0, t1, plotW, state, stats.binned);
    });
    drawMarkers(svg, m, x, t0, t1, height);
    stats.opsVisible = count;
    return stats;
  }

  function laneLabel(g, y, h, name, sub, tip) {
    const t = text(g, 6, y + h / 2 + 4, name, 'lane-label');
    if (tip) t.setAttribute('data-tip', tip);
    if (sub) text(g, 34, y + h / 2 + 4, sub, 'lane-sub');
  }

  const ppm = (n) => (n / 1e4).toFixed(n % 1e4 ? 2 : 0) + '%';

  function drawMessages(body, svg, m, x, t0, t1, plotW, y) {
    const msg = m.data.messages || {};
    const b = msg.bucket_ns || 0, sent = msg.sent || [];
    laneLabel(svg, y, MSG_H, 'msgs', '', 'messages sent per time slice (dropped ones in red)');
    // Changes of the network's impairments: a tick at the top of the strip.
    for (const n of m.data.network || []) {
      if (n[0] < t0 || n[0] > t1) continue;
      el('path', { class: 'network-mark', d: 'M' + (x(n[0]) - 4) + ' ' + y + 'l8 0l-4 6z',
        'data-tip': 'network from ' + fmtNs(n[0]) + ': drop ' + ppm(n[1]) + ', duplicate ' + ppm(n[2]) + ', long delay ' + ppm(n[3]) }, svg);
    }
    if (!b || !sent.length) return;
    // Merge buckets into 2-pixel columns so the strip's cost is bounded by the width.
    const cols = Math.max(1, Math.floor(plotW / 2)), colNs = (t1 - t0) / cols;
    const sums = [];
    const drops = (i) => ((msg.dropped_loss || [])[i] || 0) + ((msg.dropped_partition || [])[i] || 0) + ((msg.dropped_down || [])[i] || 0);
    const first = Math.max(0, Math.floor(t0 / b)), last = Math.min(sent.length - 1, Math.floor(t1 / b));
    for (let i = first; i <= last; i++) {
      const c = Math.max(0, Math.min(cols - 1, Math.floor((i * b + b / 2 - t0) / colNs)));
      const s = sums[c] || (sums[c] = { sent: 0, dropped: 0, from: i * b, to: (i + 1) * b });
      s.sent += sent[i] || 0; s.dropped += drops(i); s.to = (i + 1) * b;
    }
    let max = 1;
    for (const s of sums) if (s) max = Math.max(max, s.sent);
    const g = el('g', { class: 'messages' }, body);
    const bar = (x0, w, h) => 'M' + x0.toFixed(1) + ' ' + (y + MSG_H - 2 - h).toFixed(1) + 'h' + w.toFixed(1) + 'v' + h.toFixed(1) + 'h' + (-w).toFixed(1) + 'z';
    let pathSent = '', pathDrop = '';
    const cells = [];
    sums.forEach((s) => {
      if (!s) return;
      const x0 = x(s.from), w = Math.max(1, x(s.to) - x0);
      pathSent += bar(x0, w, ((MSG_H - 4) * s.sent) / max);
      if (s.dropped > 0) pathDrop += bar(x0, w, Math.max(1, ((MSG_H - 4) * s.dropped) / max));
      cells.push([x0, w, fmtNs(s.from) + ' – ' + fmtNs(s.to) + '\n' + s.sent + ' messages sent, ' + s.dropped + ' dropped']);
    });
    if (pathSent) el('path', { class: 'msg-sent', d: pathSent }, g);
    if (pathDrop) el('path', { class: 'msg-dropped', d: pathDrop }, g);
    // Transparent cells on top carry the counts for the tooltip.
    for (const [x0, w, tip] of cells) el('rect', { x: x0, y: y, width: w, height: MSG_H, fill: 'transparent', 'data-tip': tip }, g);
  }

  // The groups of nodes that can still talk both ways, for a partition's label.
  function components(n, cut) {
    const blocked = new Set(cut.map((l) => l[0] + '>' + l[1]));
    const parent = [...Array(n).keys()];
    const find = (a) => (parent[a] === a ? a : (parent[a] = find(parent[a])));
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) {
      if (!blocked.has(a + '>' + b) && !blocked.has(b + '>' + a)) parent[find(a)] = find(b);
    }
    const groups = new Map();
    for (let a = 0; a < n; a++) { const r = find(a); if (!groups.has(r)) groups.set(r, []); groups.get(r).push(a); }
    return [...groups.values()];
  }

  function partitionText(m, p) {
    const cut = Array.isArray(p[3]) ? p[3] : [];
    const groups = components(m.nodes.length, cut);
    const split = groups.length > 1 ? ' ' + groups.map((g) => '{' + g.join(',') + '}').join(' | ') : '';
    return { short: p[2] + split, links: cut.map((l) => l[0] + '>' + l[1]).join(' ') };
  }

  function drawPartitions(body, svg, m, x, t0, t1, y) {
    laneLabel(svg, y, PART_H, 'cuts', '');
    const g = el('g', { class: 'partitions' }, body);
    for (const p of m.data.partitions || []) {
      const end = typeof p[1] === 'number' ? p[1] : m.end;
      if (end < t0 || p[0] > t1) continue;
      const label = partitionText(m, p);
      const x0 = x(p[0]), w = Math.max(1, x(end) - x0);
      const tip = label.short + '\n' + fmtNs(p[0]) + ' – ' + (typeof p[1] === 'number' ? fmtNs(p[1]) : 'end') + ' (' + fmtSpan(end - p[0]) + ')\ncut links: ' + (label.links || 'none');
      el('rect', { class: 'partition', x: x0, y: y + 2, width: w, height: PART_H - 4, 'data-tip': tip, 'data-shape': p[2] }, g);
      // The groups if they fit, else the shape alone; the tooltip has everything.
      const fits = [label.short, String(p[2])].find((l) => w > l.length * 6 + 8);
      if (fits) text(g, Math.max(x0, x(t0)) + 4, y + PART_H - 5, fits, 'partition-label');
    }
  }

  function drawNodeLane(svg, m, lane, y, x, t0, t1, plotW) {
    const f = m.data.failure;
    const failing = f && typeof f.node === 'number' && f.node === lane.node;
    const g = el('g', { class: 'lane node-lane' + (failing ? ' failing' : ''), 'data-node': lane.node }, svg);
    el('rect', { class: 'lane-bg', x: 0, y: y + 1, width: LABEL_W + plotW, height: NODE_H - 2 }, g);
    const drift = (lane.drift || []).map((d) => (d[1] >= 0 ? '+' : '') + d[1] + ' ppm from ' + fmtNs(d[0]));
    laneLabel(g, y, NODE_H, 'n' + lane.node, drift.length ? 'drift' : '', 'node ' + lane.node + (drift.length ? '\nclock drift ' + drift.slice(-8).join('\n            ') : ''));
    const body = el('g', { 'clip-path': 'url(#plot-clip)' }, g);
    const h = NODE_H - 6, top = y + 3;
    for (const s of lane.roles || []) {
      if (s[1] < t0 || s[0] > t1) continue;
      const x0 = x(s[0]), w = Math.max(0.75, x(s[1]) - x0), role = ROLE_NAMES[s[2]] ? s[2] : 'other';
      const name = ROLE_NAMES[s[2]] || s[2];
      el('rect', { class: 'seg role-' + role, x: x0, y: top, width: w, height: h,
        'data-tip': 'n' + lane.node + ' ' + name + ', term ' + s[3] + '\n' + fmtNs(s[0]) + ' – ' + fmtNs(s[1]) + ' (' + fmtSpan(s[1] - s[0]) + ')\ncommit ' + s[4] + ', last index ' + s[5] + ' at the end' }, body);
      const label = 't' + s[3];
      if (w > label.length * 6 + 6) text(body, Math.max(x0, x(t0)) + 3, top + h - 5, label, 'term on-' + role);
    }
    for (const p of lane.paused || []) {
      const end = typeof p[1] === 'number' ? p[1] : m.end;
      if (end < t0 || p[0] > t1) continue;
      el('rect', { class: 'paused', x: x(p[0]), y: top, width: Math.max(1, x(end) - x(p[0])), height: h,
        'data-tip': 'n' + lane.node + ' paused ' + fmtNs(p[0]) + ' – ' + (typeof p[1] === 'number' ? fmtNs(p[1]) : 'end') + ' (' + fmtSpan(end - p[0]) + ')' + (p[2] ? '\n' + p[2] + ' messages waiting at the resume' : '') }, body);
    }
    for (const dn of lane.down || []) {
      const end = typeof dn[1] === 'number' ? dn[1] : m.end;
      if (end < t0 || dn[0] > t1) continue;
      const tip = 'n' + lane.node + ' down ' + fmtNs(dn[0]) + ' – ' + (typeof dn[1] === 'number' ? fmtNs(dn[1]) : 'end') + ' (' + fmtSpan(end - dn[0]) + ')\ncrash lost ' + dn[2] + ' unsynced write(s)' + (dn[3] ? ', tore one (' + dn[4] + ' bytes kept)' : '');
      el('rect', { class: 'down', x: x(dn[0]), y: top, width: Math.max(1, x(end) - x(dn[0])), height: h, 'data-tip': tip }, body);
      if (dn[0] >= t0) el('path', { class: 'crash-mark', d: 'M' + (x(dn[0]) - 5) + ' ' + (y + 1) + 'l10 0l-5 7z', 'data-tip': tip }, body);
      if (typeof dn[1] === 'number' && dn[1] <= t1) el('path', { class: 'restart-mark', d: 'M' + (x(dn[1]) - 5) + ' ' + (y + NODE_H - 1) + 'l10 0l-5 -7z', 'data-tip': 'n' + lane.node + ' restarts at ' + fmtNs(dn[1]) }, body);
    }
    // Out of the configuration (removed, not yet added back): hatched.
    for (const o of lane.out || []) {
      const end = typeof o[1] === 'number' ? o[1] : m.end;
      if (end < t0 || o[0] > t1) continue;
      el('rect', { class: 'out-of-config', x: x(o[0]), y: top, width: Math.max(1, x(end) - x(o[0])), height: h,
        'data-tip': 'n' + lane.node + ' out of the configuration ' + fmtNs(o[0]) + ' – ' + (typeof o[1] === 'number' ? fmtNs(o[1]) : 'end') }, body);
    }
    // A membership operation on this server: a diamond, hollow when the leader refused it.
    const MEMBER_WORDS = { add: 'added as a learner', promote: 'promoted to voter', remove: 'removed', transfer: 'leadership transferred to it', wipe: 'disk wiped, rejoins as a new server' };
    for (const mb of lane.membership || []) {
      if (mb[0] < t0 || mb[0] > t1) continue;
      const cx = x(mb[0]), cy = y + NODE_H / 2;
      const tip = 'n' + lane.node + ' ' + (MEMBER_WORDS[mb[1]] || mb[1]) + (typeof mb[2] === 'number' ? ' by n' + mb[2] : '') + (mb[3] ? ' (refused)' : '') + ' at ' + fmtNs(mb[0]);
      el('path', { class: 'member-mark member-' + mb[1] + (mb[3] ? ' refused' : ''), d: 'M' + cx + ' ' + (cy - 5) + 'l5 5l-5 5l-5 -5z', 'data-tip': tip }, body);
    }
    // A thin stripe while some of the node's links are cut, naming them.
    for (const p of m.data.partitions || []) {
      const end = typeof p[1] === 'number' ? p[1] : m.end;
      if (end < t0 || p[0] > t1 || !Array.isArray(p[3])) continue;
      const out = p[3].filter((l) => l[0] === lane.node).map((l) => 'n' + l[1]);
      const inn = p[3].filter((l) => l[1] === lane.node).map((l) => 'n' + l[0]);
      if (!out.length && !inn.length) continue;
      el('rect', { class: 'cut-mark', x: x(p[0]), y: y + NODE_H - 4, width: Math.max(1, x(end) - x(p[0])), height: 3 }, body);
    }
  }

  function drawClientLane(svg, m, c, lane, ops, y, x, t0, t1, plotW, state, binned) {
    const g = el('g', { class: 'lane client-lane', 'data-client': c }, svg);
    el('rect', { class: 'lane-bg', x: 0, y: y + 1, width: LABEL_W + plotW, height: CLIENT_H - 2 }, g);
    laneLabel(g, y, CLIENT_H, 'c' + c, (lane.regular.length + lane.unknown.length) + ' ops');
    const body = el('g', { 'clip-path': 'url(#plot-clip)' }, g);
    const top = y + 3, h = CLIENT_H - 8;
    let drawn = 0;
    const bins = new Map();
    // Unanswered calls may take effect until the end of the run: one thin tail from the first
    // give-up on (the tails of later ones would lie on top of it).
    const gaveUp = ops.filter((op) => op.status === 'unknown').map((op) => op.end);
    if (gaveUp.length) {
      const from = Math.min(...gaveUp);
      el('rect', { class: 'op-tail', x: x(from), y: top + h + 1, width: Math.max(0, x(m.end) - x(from)), height: 3 }, body);
    }
    for (const op of ops) {
      const special = m.involved.has(op.id) || state.selected === op.id;
      if (binned && !special) {
        const from = Math.floor((Math.max(x(op.call), LABEL_W) - LABEL_W) / BIN_PX);
        const to = Math.floor((Math.min(x(op.end), LABEL_W + plotW) - LABEL_W) / BIN_PX);
        for (let b = from; b <= to; b++) {
          const bin = bins.get(b) || { n: 0, ok: 0, failed: 0, unknown: 0 };
          bin.n++; bin[op.status]++; bins.set(b, bin);
        }
        continue;
      }
      let cls = 'op op-' + op.status;
      if (m.involved.has(op.id)) cls += ' op-involved';
      else if (m.prefix.has(op.id)) cls += ' op-prefix';
      if (state.selected === op.id) cls += ' op-selected';
      el('rect', { class: cls, 'data-op': op.id, x: x(op.call), y: top, width: Math.max(1.5, x(op.end) - x(op.call)), height: h, 'data-tip': opTip(op) }, body);
      drawn++;
      // Each retry of the call is a tick: where the client tried another server.
      if (op.tries.length > 1 && x(op.end) - x(op.call) > 30) {
        el('rect', { class: 'op-attempt', x: x(op.call) + 1, y: top + h - 3, width: Math.min(op.tries.length * 3, x(op.end) - x(op.call) - 2), height: 2 }, body);
      }
    }
    let maxN = 1;
    for (const bin of bins.values()) maxN = Math.max(maxN, bin.n);
    for (const [b, bin] of bins) {
      const worst = bin.unknown ? 'unknown' : bin.failed ? 'failed' : 'ok';
      el('rect', { class: 'op-bin op-' + worst, 'data-count': bin.n, x: LABEL_W + b * BIN_PX, y: top, width: BIN_PX, height: h,
        opacity: (0.35 + (0.65 * bin.n) / maxN).toFixed(2),
        'data-tip': bin.n + ' operation(s) here: ' + bin.ok + ' ok, ' + bin.failed + ' failed, ' + bin.unknown + ' unknown\nzoom in to see each' }, body);
    }
    return drawn;
  }

  function drawMarkers(svg, m, x, t0, t1, height) {
    const d = m.data;
    if (typeof d.duration_ns === 'number') {
      const g = el('g', { id: 'liveness-start', 'data-time-ns': d.duration_ns, 'clip-path': 'url(#plot-clip)' }, svg);
      el('line', { class: 'liveness-line', x1: x(d.duration_ns), x2: x(d.duration_ns), y1: AXIS_H, y2: height, 'data-tip': 'fault phase ends, liveness phase starts: ' + fmtNs(d.duration_ns) }, g);
      const lx = x(d.duration_ns), near = lx > x(t1) - 90;
      const lt = text(g, near ? lx - 4 : lx + 4, AXIS_H + 10, 'liveness phase', 'liveness-label');
      if (near) lt.setAttribute('text-anchor', 'end');
    }
    const f = d.failure;
    if (f && typeof f.marker_ns === 'number') {
      const t = f.marker_ns, visible = t >= t0 && t <= t1;
      const label = (f.check || 'failure') + (typeof f.node === 'number' ? ' on n' + f.node : '') + ' at ' + fmtNs(t);
      const g = el('g', { id: 'failure-marker', 'data-time-ns': t, 'data-check': f.check || '', 'data-node': typeof f.node === 'number' ? f.node : null, 'data-visible': visible, 'clip-path': 'url(#plot-clip)' }, svg);
      el('line', { class: 'failure-line', x1: x(t), x2: x(t), y1: 2, y2: height, 'data-tip': label + (f.detail ? '\n' + f.detail : '') }, g);
      const right = x(t) > LABEL_W + 0.7 * (x(t1) - LABEL_W);
      const lt = text(g, right ? x(t) - 4 : x(t) + 4, 12, '✖ ' + label, 'failure-label');
      if (right) lt.setAttribute('text-anchor', 'end');
    }
  }

  // The whole run in one strip, with the visible window as a brush.
  function drawOverview(svg, m, state, width) {
    const H = 34, plotW = Math.max(50, width - LABEL_W - 8);
    const x = (t) => LABEL_W + (t / m.end) * plotW;
    svg.replaceChildren();
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + H);
    text(svg, 6, 21, 'whole run', 'section-label');
    const msg = m.data.messages || {};
    if (msg.bucket_ns && msg.sent && msg.sent.length) {
      let max = 1;
      for (const n of msg.sent) max = Math.max(max, n);
      let p = 'M' + LABEL_W + ' ' + (H - 2);
      msg.sent.forEach((n, i) => { p += 'L' + x(i * msg.bucket_ns).toFixed(1) + ' ' + (H - 2 - ((H - 14) * n) / max).toFixed(1); });
      el('path', { d: p + 'L' + x(m.end).toFixed(1) + ' ' + (H - 2) + 'z', class: 'msg-sent', opacity: 0.6 }, svg);
    }
    for (const p of m.data.partitions || []) {
      const end = typeof p[1] === 'number' ? p[1] : m.end;
      el('rect', { class: 'partition', x: x(p[0]), y: 2, width: Math.max(1, x(end) - x(p[0])), height: 5 }, svg);
    }
    const f = m.data.failure;
    if (f && typeof f.marker_ns === 'number') el('line', { class: 'failure-line', x1: x(f.marker_ns), x2: x(f.marker_ns), y1: 0, y2: H }, svg);
    if (typeof m.data.duration_ns === 'number') el('line', { class: 'liveness-line', x1: x(m.data.duration_ns), x2: x(m.data.duration_ns), y1: 0, y2: H }, svg);
    const bx = x(Math.max(0, state.t0)), bw = Math.max(2, x(Math.min(m.end, state.t1)) - bx);
    el('rect', { class: 'window-brush', x: bx, y: 0.5, width: bw, height: H - 1 }, svg);
    return { x0: LABEL_W, plotW: plotW };
  }

  return { prepare, drawPlot, drawOverview, fmtNs, fmtSpan, opTip, LABEL_W };
})();
