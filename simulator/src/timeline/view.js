// The interactive half of the timeline page: the visible window and how it moves (wheel, drag,
// buttons, keys, the "from/to" inputs, the overview brush, the URL's #window=FROM,TO in ms), the
// key filter, tooltips and the details of a clicked operation.
(function () {
  const root = document.getElementById('timeline');
  const plot = document.getElementById('plot');
  const overview = document.getElementById('overview');
  const latency = document.getElementById('latency');
  const explainPlot = document.getElementById('explain-plot');
  const tip = document.getElementById('tip');
  const details = document.getElementById('details');
  const $ = (id) => document.getElementById(id);
  const MIN_SPAN_NS = 1000;
  let m = null;
  const state = { t0: 0, t1: 1, key: '', selected: null };

  function fail(e) {
    const box = $('render-error');
    box.hidden = false;
    box.textContent = 'The timeline could not be drawn: ' + (e && e.message ? e.message : e);
  }

  function width() {
    return Math.max(320, Math.floor(root.getBoundingClientRect().width || document.documentElement.clientWidth || 1000));
  }

  function plotGeometry() {
    const w = width();
    return { w: w, x0: Timeline.LABEL_W, plotW: Math.max(50, w - Timeline.LABEL_W - 8) };
  }

  // Sets the window, keeping it at least MIN_SPAN_NS wide and inside the run when it fits.
  function setWindow(t0, t1) {
    if (!(t1 > t0)) return;
    let span = Math.max(MIN_SPAN_NS, t1 - t0);
    const full = m.end;
    if (span >= full) { t0 = 0; span = full; }
    t0 = Math.max(0, Math.min(t0, full - span));
    state.t0 = t0;
    state.t1 = t0 + span;
    schedule();
  }

  function zoom(factor, anchor) {
    const a = anchor === undefined ? (state.t0 + state.t1) / 2 : anchor;
    setWindow(a - (a - state.t0) * factor, a + (state.t1 - a) * factor);
  }

  function pan(fraction) {
    const d = (state.t1 - state.t0) * fraction;
    setWindow(state.t0 + d, state.t1 + d);
  }

  // Renders at the next frame, at most once per frame. The timer is a fallback for when frames
  // do not come (a hidden tab, a headless browser), whichever fires first draws.
  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    const draw = () => {
      if (!pending) return;
      pending = false;
      try { render(); } catch (e) { fail(e); }
    };
    requestAnimationFrame(draw);
    setTimeout(draw, 100);
  }

  function render() {
    const w = width();
    const stats = Timeline.drawPlot(plot, m, state, w);
    Timeline.drawOverview(overview, m, state, w);
    Latency.drawExplain(explainPlot, m, state, w);
    Latency.drawLatency(latency, m, state, w);
    const status = $('view-status');
    status.textContent = Timeline.fmtNs(state.t0) + ' – ' + Timeline.fmtNs(state.t1) + ' · ' +
      (stats.binned ? stats.opsVisible + ' operations binned (zoom in to see each)' : stats.opsDrawn + ' of ' + m.total + ' operations drawn') +
      (state.key !== '' ? ' · key ' + state.key + ' only' : '');
    status.setAttribute('data-ops-drawn', stats.opsDrawn);
    status.setAttribute('data-ops-visible', stats.opsVisible);
    status.setAttribute('data-binned', stats.binned);
    status.setAttribute('data-window-from-ns', Math.round(state.t0));
    status.setAttribute('data-window-to-ns', Math.round(state.t1));
    const from = $('window-from'), to = $('window-to');
    if (document.activeElement !== from) from.value = +(state.t0 / 1e6).toFixed(3);
    if (document.activeElement !== to) to.value = +(state.t1 / 1e6).toFixed(3);
    writeHash();
    root.setAttribute('data-rendered', 'true');
  }

  function writeHash() {
    let h = '#window=' + +(state.t0 / 1e6).toFixed(6) + ',' + +(state.t1 / 1e6).toFixed(6);
    if (state.key !== '') h += '&key=' + encodeURIComponent(state.key);
    if (state.selected !== null) h += '&op=' + state.selected;
    try { history.replaceState(null, '', h); } catch (e) { /* file:// in some browsers: the hash is a convenience */ }
  }

  function readHash() {
    const params = new Map();
    for (const part of location.hash.replace(/^#/, '').split('&')) {
      const i = part.indexOf('=');
      if (i > 0) params.set(part.slice(0, i), decodeURIComponent(part.slice(i + 1)));
    }
    const w = (params.get('window') || '').split(',').map(Number);
    if (params.has('key') && m.keys.includes(params.get('key'))) state.key = params.get('key');
    if (params.has('op') && m.byId.has(Number(params.get('op')))) state.selected = Number(params.get('op'));
    state.focus = params.get('focus') || '';
    if (w.length === 2 && w.every(isFinite) && w[1] > w[0]) return [w[0] * 1e6, w[1] * 1e6];
    return null;
  }

  function timeAt(clientX) {
    const g = plotGeometry(), r = plot.getBoundingClientRect();
    const px = ((clientX - r.left) / Math.max(1, r.width)) * g.w;
    return state.t0 + ((px - g.x0) / g.plotW) * (state.t1 - state.t0);
  }

  // The window around a set of operations, with some room on either side.
  function showOps(ids, key) {
    const ops = ids.map((id) => m.byId.get(id)).filter(Boolean);
    if (!ops.length) return;
    const from = Math.min(...ops.map((o) => o.call)), to = Math.max(...ops.map((o) => o.end));
    const pad = Math.max((to - from) * 0.15, 2e6);
    if (key !== undefined) { state.key = key; $('key-filter').value = key; }
    setWindow(from - pad, to + pad);
  }

  function select(id) {
    state.selected = id;
    const op = m.byId.get(id);
    details.hidden = !op;
    if (op) details.textContent = Timeline.opTip(op) + '\nkey ' + JSON.stringify(op.key) + (m.involved.has(id) ? '\ninvolved in the linearizability violation' : m.prefix.has(id) ? '\nin the longest linearizable prefix' : '');
    schedule();
  }

  function showFailure() {
    const v = m.data.violation;
    if (v && v.operations && v.operations.length) {
      const prefix = v.longest_prefix || [];
      showOps(v.operations.concat(prefix.slice(Math.max(0, prefix.length - 6))), v.key === null || v.key === undefined ? '' : v.key);
      return;
    }
    const f = m.data.failure;
    if (!f || typeof f.marker_ns !== 'number') return;
    const span = Math.min(m.end, Math.max(m.end / 20, 2e8));
    setWindow(f.marker_ns - span * 0.7, f.marker_ns + span * 0.3);
  }

  function wire() {
    $('toolbar').hidden = false;
    $('legend').hidden = false;
    if (!m.data.violation) for (const l of document.querySelectorAll('.legend-violation')) l.hidden = true;
    $('zoom-in').onclick = () => zoom(0.5);
    $('zoom-out').onclick = () => zoom(2);
    $('zoom-fit').onclick = () => setWindow(0, m.end);
    if (m.data.failure) {
      $('zoom-failure').hidden = false;
      $('zoom-failure').onclick = showFailure;
    }
    for (const b of document.querySelectorAll('.goto-failure, .goto-violation')) { b.hidden = false; b.onclick = showFailure; }
    const copy = $('copy-command');
    if (copy && navigator.clipboard) {
      copy.hidden = false;
      copy.onclick = () => navigator.clipboard.writeText($('command').textContent);
    }
    $('window-form').onsubmit = (e) => {
      e.preventDefault();
      setWindow(Number($('window-from').value) * 1e6, Number($('window-to').value) * 1e6);
    };
    const filter = $('key-filter');
    const keys = m.keys.slice().sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    for (const k of keys) { const o = document.createElement('option'); o.value = k; o.textContent = k === '' ? '(empty key)' : k; filter.appendChild(o); }
    filter.value = state.key;
    filter.onchange = () => { state.key = filter.value; schedule(); };
    for (const a of document.querySelectorAll('a.opref')) {
      a.onclick = (e) => { e.preventDefault(); const id = Number(a.getAttribute('data-op')); showOps([id]); select(id); };
    }

    plot.addEventListener('wheel', (e) => {
      e.preventDefault();
      if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) pan((e.deltaX || e.deltaY) > 0 ? 0.15 : -0.15);
      // Proportional to the scroll, so that a trackpad's many small events zoom gently.
      else zoom(Math.min(2, Math.max(0.5, Math.exp(e.deltaY * (e.deltaMode === 1 ? 16 : 1) * 0.002))), timeAt(e.clientX));
    }, { passive: false });
    let drag = null;
    plot.addEventListener('mousedown', (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, t0: state.t0, t1: state.t1, moved: false };
      plot.classList.add('dragging');
    });
    window.addEventListener('mousemove', (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      if (Math.abs(dx) > 3) drag.moved = true;
      if (!drag.moved) return;
      const g = plotGeometry(), r = plot.getBoundingClientRect();
      const dt = -((dx * g.w) / Math.max(1, r.width) / g.plotW) * (drag.t1 - drag.t0);
      setWindow(drag.t0 + dt, drag.t1 + dt);
    });
    window.addEventListener('mouseup', (e) => {
      if (!drag) return;
      const clicked = !drag.moved;
      drag = null;
      plot.classList.remove('dragging');
      if (!clicked) return;
      const hit = e.target.closest && e.target.closest('[data-op]');
      if (hit) select(Number(hit.getAttribute('data-op')));
    });
    plot.addEventListener('dblclick', (e) => zoom(0.5, timeAt(e.clientX)));
    latency.addEventListener('click', (e) => {
      const hit = e.target.closest && e.target.closest('[data-op]');
      if (hit) select(Number(hit.getAttribute('data-op')));
    });
    // The failing point's causal past is on the messages page, when there is one.
    if (m.data.links && m.data.links.messages) {
      plot.addEventListener('click', (e) => {
        if (e.target.closest && e.target.closest('#failure-marker')) location.href = 'messages.html';
      });
    }

    let brush = null;
    const ovTime = (clientX) => {
      const r = overview.getBoundingClientRect(), g = plotGeometry();
      return (((clientX - r.left) / Math.max(1, r.width)) * g.w - g.x0) / g.plotW * m.end;
    };
    overview.addEventListener('mousedown', (e) => { brush = { t: ovTime(e.clientX), x: e.clientX }; e.preventDefault(); });
    window.addEventListener('mouseup', (e) => {
      if (!brush) return;
      const t = ovTime(e.clientX);
      if (Math.abs(e.clientX - brush.x) > 3) setWindow(Math.min(t, brush.t), Math.max(t, brush.t));
      else { const span = state.t1 - state.t0; setWindow(t - span / 2, t + span / 2); }
      brush = null;
    });

    document.addEventListener('keydown', (e) => {
      if (e.target && /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName)) return;
      const keys = { '+': () => zoom(0.5), '=': () => zoom(0.5), '-': () => zoom(2), '0': () => setWindow(0, m.end),
        f: showFailure, ArrowLeft: () => pan(-0.2), ArrowRight: () => pan(0.2) };
      if (keys[e.key]) { keys[e.key](); e.preventDefault(); }
    });

    for (const svg of [plot, overview, latency, explainPlot]) {
      svg.addEventListener('mousemove', (e) => {
        const t = e.target.closest && e.target.closest('[data-tip]');
        if (!t || drag) { tip.hidden = true; return; }
        tip.textContent = t.getAttribute('data-tip');
        tip.hidden = false;
        const x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
        const y = e.clientY + 16 + tip.offsetHeight > window.innerHeight ? e.clientY - tip.offsetHeight - 8 : e.clientY + 16;
        tip.style.left = Math.max(0, x) + 'px';
        tip.style.top = Math.max(0, y) + 'px';
      });
      svg.addEventListener('mouseleave', () => { tip.hidden = true; });
    }
    window.addEventListener('resize', schedule);
  }

  try {
    const data = JSON.parse(document.getElementById('timeline-data').textContent || '{}');
    m = Timeline.prepare(data);
    const initial = readHash() || [0, m.end];
    state.t0 = 0;
    state.t1 = m.end;
    wire();
    setWindow(initial[0], initial[1]);
    // #focus=failure opens the page on the failing point (a report can link to it that way).
    if (state.focus === 'failure') showFailure();
    if (state.selected !== null) select(state.selected);
    // Draw now rather than on the next frame, so that the page is complete once loaded.
    pending = false;
    render();
  } catch (e) {
    fail(e);
  }
})();
