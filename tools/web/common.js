// Shared by the pages: the API client, safe element building (text only, never HTML),
// and line charts with zoom, log scale and smoothing. Every value from the database goes
// through textContent.
'use strict';

const rnnlab = (() => {
  // A token given once as #token=T in the address is kept for this tab.
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get('token')) sessionStorage.setItem('rnnlab-token', hash.get('token'));

  async function api(path, params) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
    }
    const headers = {};
    const token = sessionStorage.getItem('rnnlab-token');
    if (token) headers.Authorization = 'Bearer ' + token;
    const res = await fetch(url, { headers });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || ('HTTP ' + res.status));
    return body;
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function showError(box, error) {
    box.textContent = error ? String(error.message || error) : '';
    box.classList.toggle('hidden', !error);
  }

  function formatCell(value) {
    if (value === null || value === undefined) return '-';
    if (typeof value === 'number' && !Number.isInteger(value)) return Number(value.toPrecision(6)).toString();
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  // A table of objects: columns in order, numbers right-aligned, optional cell hook.
  function table(columns, rows, decorate) {
    const t = el('table');
    const head = t.createTHead().insertRow();
    for (const c of columns) head.appendChild(el('th', c));
    const body = t.createTBody();
    for (const row of rows) {
      const tr = body.insertRow();
      columns.forEach((c, i) => {
        const td = tr.insertCell();
        td.textContent = formatCell(row[c]);
        if (typeof row[c] === 'number') td.className = 'num';
        if (decorate) decorate(td, c, row, i, tr);
      });
    }
    return t;
  }

  function keyValueTable(title, object) {
    return table([title, 'value'], Object.entries(object).map(([k, v]) => ({ [title]: k, value: v })));
  }

  const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

  // Exponential moving average as TensorBoard does it (debiased); 0 = off.
  function smooth(values, weight) {
    if (!weight) return values;
    let last = 0, n = 0;
    return values.map((v) => {
      if (v === null) return null;
      last = last * weight + (1 - weight) * v;
      n += 1;
      return last / (1 - Math.pow(weight, n));
    });
  }

  const charts = {};  // title -> Chart (read by the browser tests)

  // series: [{label, steps, values}]. Drag across the plot to zoom, double-click to reset.
  function lineChart(container, title, series, settings) {
    const box = el('div', null, 'chart');
    box.appendChild(el('h3', title));
    const frame = el('div', null, 'frame');  // Chart.js sizes the canvas to this
    const canvas = el('canvas');
    canvas.dataset.title = title;
    frame.appendChild(canvas);
    box.appendChild(frame);
    container.appendChild(box);
    if (typeof Chart === 'undefined') {
      box.appendChild(el('p', 'Chart.js is not installed (libjs-chart.js): no curve.', 'muted'));
      return null;
    }
    const chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false, parsing: false, normalized: true, responsive: true, maintainAspectRatio: false,
        elements: { point: { radius: 0 }, line: { borderWidth: 1.5 } },
        interaction: { mode: 'nearest', intersect: false },
        scales: { x: { type: 'linear', title: { display: true, text: 'step' } }, y: { type: 'linear' } },
        plugins: { legend: { display: series.length > 1 } },
      },
    });
    chart.rnnlabSeries = series;
    charts[title] = chart;
    updateChart(chart, series, settings);
    let from = null;
    canvas.addEventListener('mousedown', (e) => { from = e.offsetX; });
    canvas.addEventListener('mouseup', (e) => {
      if (from === null || Math.abs(e.offsetX - from) < 5) { from = null; return; }
      const a = chart.scales.x.getValueForPixel(Math.min(from, e.offsetX));
      const b = chart.scales.x.getValueForPixel(Math.max(from, e.offsetX));
      chart.options.scales.x.min = a;
      chart.options.scales.x.max = b;
      from = null;
      chart.update();
    });
    canvas.addEventListener('dblclick', () => {
      delete chart.options.scales.x.min;
      delete chart.options.scales.x.max;
      chart.update();
    });
    return chart;
  }

  function updateChart(chart, series, settings) {
    if (!chart) return;
    chart.rnnlabSeries = series;
    const s = settings || {};
    chart.options.scales.y.type = s.logY ? 'logarithmic' : 'linear';
    chart.data.datasets = series.map((one, i) => {
      const values = smooth(one.values, s.smoothing || 0);
      const data = [];
      one.steps.forEach((step, j) => {
        const y = values[j];
        if (y !== null && !(s.logY && y <= 0)) data.push({ x: step, y });
      });
      const color = palette[i % palette.length];
      // Short series (a test score logged once) get visible points.
      return { label: one.label, data, borderColor: color, backgroundColor: color, pointRadius: data.length <= 30 ? 3 : 0 };
    });
    chart.update();
  }

  // The log-scale and smoothing controls; onChange(settings) redraws.
  function chartControls(container, onChange) {
    const settings = { logY: false, smoothing: 0 };
    const log = el('input');
    log.type = 'checkbox';
    log.id = 'log-y';
    const logLabel = el('label', ' log scale');
    logLabel.prepend(log);
    const slider = el('input');
    slider.type = 'range'; slider.min = '0'; slider.max = '0.99'; slider.step = '0.01'; slider.value = '0';
    slider.id = 'smoothing';
    const smoothLabel = el('label', 'smoothing ');
    smoothLabel.appendChild(slider);
    const hint = el('span', 'drag across a chart to zoom, double-click to reset', 'muted');
    log.addEventListener('change', () => { settings.logY = log.checked; onChange(settings); });
    slider.addEventListener('input', () => { settings.smoothing = Number(slider.value); onChange(settings); });
    container.append(logLabel, smoothLabel, hint);
    return settings;
  }

  function statusCell(td, status) {
    td.className = 'status-' + String(status).replace(/[^a-z]/g, '');
  }

  function link(text, href) {
    const a = el('a', text);
    a.href = href;
    return a;
  }

  return { api, el, showError, table, keyValueTable, lineChart, updateChart, chartControls, charts,
           statusCell, link, formatCell, palette };
})();
