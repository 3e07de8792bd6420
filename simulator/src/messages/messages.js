// The messages page: a Lamport diagram of the embedded messages (see messages.rs for the data
// and the DOM hooks). Lanes are columns, virtual time runs down; the view is a time window, a
// scope (the causal past of the selected point, or everything) and filters.
'use strict';
(function () {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);
  const svg = $('diagram');
  const AXIS_W = 84, HEAD_H = 34, BOTTOM = 24;
  // Above this many arrows the latest are drawn and the status says how many were left out.
  const ARROWS_MAX = 2500;
  const FATES = ['delivered', 'held', 'inflight', 'lost', 'lost', 'lost', 'lost', 'lost'];
  const FATE_TEXT = ['delivered', 'held by the paused receiver, delivered when it resumed', 'still in flight at the end of the trace',
    'lost: dropped by the network', 'lost: the link was cut', 'lost: the receiver was down', 'lost: the network was full',
    'lost: the paused receiver crashed before taking it in'];
  const ROLE_NAMES = { F: 'follower', C: 'candidate', L: 'leader' };
  let d = null;
  let msgs = [];
  const state = { t0: 0, t1: 1, scope: 'causal', lanes: new Set(), kinds: new Set(), termMin: null, termMax: null,
    selected: null, focus: null, horizons: null, pxPerArrow: 12 };

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVGNS, name);
    for (const k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  const fmt = (ns) => (ns / 1e6).toFixed(3) + ' ms';

  function fail(e) {
    const box = $('render-error');
    box.hidden = false;
    box.textContent = 'The diagram could not be drawn: ' + (e && e.message ? e.message : e);
  }

  function unpack(r) {
    return { id: r[0], from: r[1], to: r[2], kind: d.kinds[r[3]] || '?', term: r[4] >= 0 ? r[4] : null,
      sendT: r[5], sendN: r[6], sendPos: r[7], fate: r[8], endT: r[9] >= 0 ? r[9] : null, endN: r[10] >= 0 ? r[10] : null,
      endPos: r[11] >= 0 ? r[11] : null, copyOf: r[12] >= 0 ? r[12] : null, causal: r[13] === 1,
      heldSince: r[14] >= 0 ? r[14] : null, text: r[15] || '' };
  }
  const received = (m) => (m.fate === 0 || m.fate === 1) && m.endPos !== null;

  // Happened-before over the embedded messages, as messages/causal.rs computes it over the run:
  // per lane the last position in the past; a receipt at or before its lane's horizon pulls the
  // sender's horizon up to the send.
  function horizonsFrom(start) {
    const h = start.slice();
    const receipts = d.lanes.map(() => []);
    for (const m of msgs) if (received(m)) receipts[m.to].push(m);
    for (const r of receipts) r.sort((a, b) => a.endPos - b.endPos);
    const followed = d.lanes.map(() => 0);
    const work = [];
    h.forEach((v, i) => { if (v !== null) work.push(i); });
    let guard = msgs.length + d.lanes.length + 1;
    while (work.length && guard-- > 0) {
      const lane = work.pop();
      while (followed[lane] < receipts[lane].length && receipts[lane][followed[lane]].endPos <= h[lane]) {
        const m = receipts[lane][followed[lane]++];
        if (h[m.from] === null || h[m.from] < m.sendPos) { h[m.from] = m.sendPos; work.push(m.from); }
      }
    }
    return h;
  }

  function inPast(m) {
    if (!state.focus || state.focus.isFailure) return m.causal;
    const h = state.horizons;
    if (received(m)) return h[m.to] !== null && m.endPos <= h[m.to];
    return h[m.from] !== null && m.sendPos <= h[m.from];
  }

  function visible() {
    const out = [];
    for (const m of msgs) {
      // In the window: sent before its end, and arrived or lost after its start (an arrow that
      // crosses the window's top edge is drawn from above it).
      if (m.sendT > state.t1 || Math.max(m.sendT, m.endT !== null ? m.endT : m.sendT) < state.t0) continue;
      if (!state.lanes.has(m.from) || !state.lanes.has(m.to) || !state.kinds.has(m.kind)) continue;
      if (m.term !== null && ((state.termMin !== null && m.term < state.termMin) || (state.termMax !== null && m.term > state.termMax))) continue;
      if (state.scope === 'causal' && !inPast(m)) continue;
      out.push(m);
    }
    return out;
  }

  function render() {
    const shown = visible();
    const drawn = shown.slice(Math.max(0, shown.length - ARROWS_MAX));
    const lanes = d.lanes.map((name, i) => i).filter((i) => state.lanes.has(i));
    const width = Math.max(480, Math.floor(document.documentElement.clientWidth - 40));
    const laneW = Math.max(56, Math.min(160, (width - AXIS_W - 20) / Math.max(1, lanes.length)));
    const plotH = Math.max(480, Math.min(6000, drawn.length * state.pxPerArrow));
    const height = HEAD_H + plotH + BOTTOM;
    const totalW = AXIS_W + laneW * lanes.length + 20;
    svg.replaceChildren();
    svg.setAttribute('width', totalW);
    svg.setAttribute('height', height);
    svg.setAttribute('viewBox', '0 0 ' + totalW + ' ' + height);
    const defs = el('defs', {}, svg);
    for (const [id, cls] of [['head', 'head'], ['head-past', 'head past'], ['head-lost', 'head lost']]) {
      const mk = el('marker', { id: id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
      el('path', { d: 'M0 0L10 5L0 10z', class: cls }, mk);
    }
    const t0 = state.t0, t1 = Math.max(state.t1, state.t0 + 1);
    const y = (t) => HEAD_H + ((t - t0) / (t1 - t0)) * plotH;
    const col = new Map(lanes.map((l, i) => [l, AXIS_W + laneW * i + laneW / 2]));
    // Time axis.
    const axis = el('g', { class: 'axis' }, svg);
    const step = tickStep(t1 - t0, plotH);
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      el('line', { class: 'grid', x1: AXIS_W - 6, x2: totalW - 10, y1: y(t), y2: y(t) }, axis);
      const tx = el('text', { x: AXIS_W - 8, y: y(t) + 4, 'text-anchor': 'end' }, axis);
      tx.textContent = (t / 1e6).toFixed(step >= 1e6 ? 0 : 3) + ' ms';
    }
    // Lanes: a head, and a bar coloured by role and term, hatched while down or paused.
    for (const l of lanes) {
      const x = col.get(l);
      const g = el('g', { class: 'lane-head', 'data-lane': d.lanes[l] }, svg);
      const t = el('text', { x: x, y: 16, 'text-anchor': 'middle', class: 'lane-name' + (d.failure && d.failure.lane === l ? ' failing' : '') }, g);
      t.textContent = d.lanes[l];
      el('line', { class: 'lane-line', x1: x, x2: x, y1: HEAD_H - 8, y2: HEAD_H + plotH }, svg);
      for (const seg of (d.roles[l] || [])) {
        if (seg[1] < t0 || seg[0] > t1) continue;
        const a = y(Math.max(seg[0], t0)), b = y(Math.min(seg[1], t1));
        el('rect', { class: 'role role-' + seg[2], x: x - 3, y: a, width: 6, height: Math.max(1, b - a),
          'data-tip': d.lanes[l] + ' ' + (ROLE_NAMES[seg[2]] || seg[2]) + ' in term ' + seg[3] + '\n' + fmt(seg[0]) + ' – ' + fmt(seg[1]) }, svg);
        if (b - a > 28) { const tt = el('text', { x: x + 6, y: a + 11, class: 'term' }, svg); tt.textContent = 't' + seg[3]; }
      }
      for (const o of d.outages) {
        if (o[0] !== l) continue;
        const end = o[2] >= 0 ? o[2] : d.end_ns;
        if (end < t0 || o[1] > t1) continue;
        const a = y(Math.max(o[1], t0)), b = y(Math.min(end, t1));
        el('rect', { class: 'outage ' + o[3], x: x - 7, y: a, width: 14, height: Math.max(2, b - a), 'data-tip': d.lanes[l] + ' ' + o[3] + ' ' + fmt(o[1]) + ' – ' + (o[2] >= 0 ? fmt(o[2]) : 'end') }, svg);
      }
    }
    // Arrows, clipped to the plot (one sent before the window starts comes in from the top).
    const clip = el('clipPath', { id: 'plot-clip' }, defs);
    el('rect', { x: 0, y: HEAD_H - 4, width: totalW, height: plotH + BOTTOM }, clip);
    const arrows = el('g', { class: 'arrows', 'clip-path': 'url(#plot-clip)' }, svg);
    for (const m of drawn) {
      const x1 = col.get(m.from), x2 = col.get(m.to), y1 = y(m.sendT);
      const fate = FATES[m.fate] || 'lost';
      const past = state.scope === 'causal' || inPast(m);
      let cls = 'msg msg-' + fate + (m.copyOf !== null ? ' msg-copy' : '') + (past ? ' causal' : '') + (state.selected === m.id ? ' selected' : '');
      const g = el('g', { class: cls, 'data-id': m.id, 'data-kind': m.kind, 'data-from': d.lanes[m.from], 'data-to': d.lanes[m.to],
        'data-term': m.term === null ? '' : m.term, 'data-tip': tipOf(m) }, arrows);
      let x2e = x2, y2e;
      if (fate === 'delivered' || fate === 'held') y2e = y(m.endT);
      else if (fate === 'inflight') { y2e = Math.min(y(t1), y1 + 60); x2e = x1 + (x2 - x1) * 0.6; }
      else {
        // Lost: as far along as the time it was lost, at least a stub, never all the way.
        const flight = m.endT !== null ? m.endT - m.sendT : 0;
        const frac = flight > 0 ? 0.85 : 0.3;
        x2e = x1 + (x2 - x1) * frac;
        y2e = flight > 0 ? y(m.endT) : y1 + 10;
      }
      el('line', { class: 'hit', x1: x1, y1: y1, x2: x2e, y2: y2e }, g);
      el('line', { class: 'shaft', x1: x1, y1: y1, x2: x2e, y2: y2e, 'marker-end': fate === 'lost' ? null : 'url(#' + (past ? 'head-past' : 'head') + ')' }, g);
      if (fate === 'lost') {
        const tx = el('text', { x: x2e, y: y2e + 4, 'text-anchor': 'middle', class: 'lost-mark' }, g);
        tx.textContent = '×';
      }
      if (fate === 'held' && m.heldSince !== null) el('circle', { class: 'held-mark', cx: x2, cy: y(m.heldSince), r: 2.5 }, g);
      if (received(m)) el('circle', { class: 'arrival', cx: x2, cy: y2e, r: 3.5, 'data-lane': m.to, 'data-pos': m.endPos, 'data-id': m.id }, arrows);
    }
    // The selected point: the failing point, or an arrival clicked.
    const f = d.failure;
    if (f && f.time_ns >= t0 && f.time_ns <= t1) {
      const g = el('g', { id: 'failure-point', 'data-time-ns': f.time_ns, 'data-lane': f.lane === null || f.lane === undefined ? '' : d.lanes[f.lane] }, svg);
      if (f.lane !== null && f.lane !== undefined && col.has(f.lane)) {
        const cx = col.get(f.lane), cy = y(f.time_ns);
        el('circle', { class: 'failure-dot', cx: cx, cy: cy, r: 7, 'data-tip': f.label + ' at ' + fmt(f.time_ns) + '\nclick: its causal past' }, g);
        const tx = el('text', { x: cx + 10, y: cy + 4, class: 'failure-label' }, g);
        tx.textContent = '✖ ' + f.label;
      } else {
        el('line', { class: 'failure-line', x1: AXIS_W, x2: totalW - 10, y1: y(f.time_ns), y2: y(f.time_ns), 'data-tip': f.label + ' at ' + fmt(f.time_ns) }, g);
        const tx = el('text', { x: AXIS_W + 4, y: y(f.time_ns) - 4, class: 'failure-label' }, g);
        tx.textContent = '✖ ' + f.label;
      }
    }
    if (state.focus && !state.focus.isFailure && col.has(state.focus.lane)) {
      el('circle', { id: 'focus-point', class: 'focus-dot', cx: col.get(state.focus.lane), cy: y(state.focus.t), r: 8 }, svg);
    }
    const status = $('diagram-status');
    const what = state.scope === 'causal' ? 'in the causal past of ' + (state.focus ? state.focus.label : 'the failing point') : 'in the window';
    status.textContent = drawn.length + ' message(s) ' + what + ', ' + fmt(t0) + ' – ' + fmt(t1) +
      (shown.length > drawn.length ? ' (the latest ' + drawn.length + ' of ' + shown.length + ' drawn)' : '');
    status.setAttribute('data-arrows', drawn.length);
    status.setAttribute('data-scope', state.scope);
    status.setAttribute('data-window-from-ns', Math.round(t0));
    status.setAttribute('data-window-to-ns', Math.round(t1));
    $('window-from').value = +(t0 / 1e6).toFixed(3);
    $('window-to').value = +(t1 / 1e6).toFixed(3);
    $('back-to-failure').hidden = !d.failure || !state.focus || state.focus.isFailure;
    writeHash();
    svg.setAttribute('data-rendered', 'true');
  }

  function tickStep(span, px) {
    const raw = span / Math.max(1, px / 70);
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    for (const k of [1, 2, 5, 10]) if (p * k >= raw) return p * k;
    return p * 10;
  }

  function tipOf(m) {
    const lines = ['message ' + m.id + (m.copyOf !== null ? ' (a duplicate of ' + m.copyOf + ')' : '') + ': ' + d.lanes[m.from] + ' → ' + d.lanes[m.to] +
      ', ' + m.kind + (m.term !== null ? ', term ' + m.term : ''), m.text,
      'sent ' + fmt(m.sendT) + ' (event ' + m.sendN + ')'];
    if (m.endT !== null) lines.push((received(m) ? 'arrived ' : 'lost ') + fmt(m.endT) + ' (event ' + m.endN + ')');
    lines.push(FATE_TEXT[m.fate] || '');
    if (m.heldSince !== null) lines.push('held since ' + fmt(m.heldSince));
    return lines.join('\n');
  }

  function select(id) {
    const m = msgs.find((x) => x.id === id);
    state.selected = m ? id : null;
    const box = $('msg-details');
    box.hidden = !m;
    if (m) {
      box.replaceChildren();
      const pre = document.createElement('pre');
      pre.textContent = tipOf(m);
      box.appendChild(pre);
      const pad = Math.max(2e6, ((m.endT !== null ? m.endT : m.sendT) - m.sendT) * 0.5);
      const a = document.createElement('a');
      a.id = 'msg-on-timeline';
      a.href = 'timeline.html#window=' + +((m.sendT - pad) / 1e6).toFixed(6) + ',' + +(((m.endT !== null ? m.endT : m.sendT) + pad) / 1e6).toFixed(6);
      a.textContent = 'this moment on the timeline';
      box.appendChild(a);
    }
    render();
  }

  function focusFailure() {
    state.focus = d.failure ? { isFailure: true, lane: d.failure.lane, t: d.failure.time_ns, label: 'the failing point' } : null;
    state.horizons = null;
    state.scope = 'causal';
    $('scope').value = 'causal';
    [state.t0, state.t1] = d.window;
  }

  function focusArrival(lane, pos, t) {
    const start = d.lanes.map((_, i) => (i === lane ? pos : null));
    state.focus = { isFailure: false, lane: lane, pos: pos, t: t, label: 'the arrival on ' + d.lanes[lane] + ' at ' + fmt(t) };
    state.horizons = horizonsFrom(start);
    state.scope = 'causal';
    $('scope').value = 'causal';
    render();
  }

  function writeHash() {
    let h = '#window=' + +(state.t0 / 1e6).toFixed(6) + ',' + +(state.t1 / 1e6).toFixed(6);
    if (state.scope !== 'causal') h += '&scope=' + state.scope;
    if (state.selected !== null) h += '&msg=' + state.selected;
    try { history.replaceState(null, '', h); } catch (e) { /* file:// in some browsers */ }
  }

  function readHash() {
    const p = new Map();
    for (const part of location.hash.replace(/^#/, '').split('&')) {
      const i = part.indexOf('=');
      if (i > 0) p.set(part.slice(0, i), decodeURIComponent(part.slice(i + 1)));
    }
    const w = (p.get('window') || '').split(',').map(Number);
    if (w.length === 2 && w.every(isFinite) && w[1] > w[0]) { state.t0 = w[0] * 1e6; state.t1 = w[1] * 1e6; }
    if (p.get('scope') === 'all') { state.scope = 'all'; $('scope').value = 'all'; }
    if (p.has('msg')) state.selected = Number(p.get('msg'));
  }

  function checkbox(parent, cls, value, label, set) {
    const l = document.createElement('label');
    const c = document.createElement('input');
    c.type = 'checkbox'; c.className = cls; c.value = value; c.checked = true;
    c.onchange = () => { if (c.checked) set.add(value); else set.delete(value); render(); };
    l.appendChild(c);
    l.appendChild(document.createTextNode(label));
    parent.appendChild(l);
  }

  function wire() {
    $('controls').hidden = false;
    $('legend').hidden = false;
    d.lanes.forEach((name, i) => checkbox($('lane-filters'), 'lane-filter', i, name, state.lanes));
    d.kinds.forEach((k) => checkbox($('kind-filters'), 'kind-filter', k, k, state.kinds));
    $('scope').onchange = () => { state.scope = $('scope').value; render(); };
    $('window-form').onsubmit = (e) => {
      e.preventDefault();
      const a = Number($('window-from').value) * 1e6, b = Number($('window-to').value) * 1e6;
      if (b > a) { state.t0 = a; state.t1 = b; render(); }
    };
    $('earlier').onclick = () => { state.t0 = Math.max(0, state.t0 - (state.t1 - state.t0)); render(); };
    $('taller').onclick = () => { state.pxPerArrow = Math.min(80, state.pxPerArrow * 1.5); render(); };
    $('shorter').onclick = () => { state.pxPerArrow = Math.max(2, state.pxPerArrow / 1.5); render(); };
    $('back-to-failure').onclick = () => { focusFailure(); render(); };
    const term = (id, key) => { $(id).onchange = () => { const v = $(id).value; state[key] = v === '' ? null : Number(v); render(); }; };
    term('term-min', 'termMin');
    term('term-max', 'termMax');
    svg.addEventListener('click', (e) => {
      const t = e.target;
      if (t.closest && t.closest('#failure-point')) { focusFailure(); render(); return; }
      if (t.classList && t.classList.contains('arrival')) {
        const m = msgs.find((x) => x.id === Number(t.getAttribute('data-id')));
        if (m) focusArrival(m.to, m.endPos, m.endT);
        return;
      }
      const g = t.closest && t.closest('.msg');
      if (g) select(Number(g.getAttribute('data-id')));
    });
    const tip = $('tip');
    svg.addEventListener('mousemove', (e) => {
      const t = e.target.closest && e.target.closest('[data-tip]');
      if (!t) { tip.hidden = true; return; }
      tip.textContent = t.getAttribute('data-tip');
      tip.hidden = false;
      tip.style.left = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8) + 'px';
      tip.style.top = (e.clientY + 16) + 'px';
    });
    svg.addEventListener('mouseleave', () => { tip.hidden = true; });
  }

  try {
    d = JSON.parse($('messages-data').textContent || '{}');
    d.lanes = d.lanes || []; d.kinds = d.kinds || []; d.roles = d.roles || []; d.outages = d.outages || [];
    d.window = d.window || [0, d.end_ns || 1];
    msgs = (d.msgs || []).filter(Array.isArray).map(unpack);
    d.lanes.forEach((_, i) => state.lanes.add(i));
    d.kinds.forEach((k) => state.kinds.add(k));
    wire();
    focusFailure();
    // A run without a failing point has no past to show: every message of the window instead.
    if (!d.failure) { state.scope = 'all'; $('scope').value = 'all'; }
    readHash();
    if (state.selected !== null) select(state.selected); else render();
  } catch (e) {
    fail(e);
  }
})();
