// A sweep: the pivot of `rnnlab runs pivot` as a heat map (mean ± std, n), and a
// parallel-coordinates view of each run's params against the metric, pruned and failed
// trials marked.
'use strict';
(() => {
  const { api, el, showError, table, statusCell, link, palette } = rnnlab;
  const $ = (id) => document.getElementById(id);
  const query = new URLSearchParams(location.search);
  for (const id of ['rows', 'cols', 'metric']) $(id).value = query.get(id) || '';
  if (query.get('goal')) $('goal').value = query.get('goal');

  function heat(cells, rowKeys, colKeys, goal) {
    const label = (cell, keys) => keys.map((k) => cell[k]).join(', ');
    const rowLabels = [...new Set(cells.map((c) => label(c, rowKeys)))];
    const colLabels = [...new Set(cells.map((c) => label(c, colKeys)))];
    const means = cells.map((c) => c.mean);
    const lo = Math.min(...means), hi = Math.max(...means);
    const t = el('table', null, 'heat');
    t.id = 'heat-table';
    const head = t.createTHead().insertRow();
    head.appendChild(el('th', rowKeys.join(', ') + (colKeys.length ? ' \\ ' + colKeys.join(', ') : '')));
    for (const c of colLabels) head.appendChild(el('th', colKeys.length ? c : $('metric').value));
    const body = t.createTBody();
    for (const r of rowLabels) {
      const tr = body.insertRow();
      tr.appendChild(el('th', r));
      for (const c of colLabels) {
        const td = tr.insertCell();
        td.className = 'cell';
        const cell = cells.find((x) => label(x, rowKeys) === r && label(x, colKeys) === c);
        if (!cell) { td.textContent = '-'; continue; }
        td.textContent = cell.mean.toPrecision(4) + ' ± ' + cell.std.toPrecision(2) + ' (n=' + cell.n + ')';
        td.title = 'min ' + cell.min + ', max ' + cell.max;
        const good = hi > lo ? (goal === 'min' ? (hi - cell.mean) : (cell.mean - lo)) / (hi - lo) : 1;
        td.style.backgroundColor = 'hsl(210, 70%, ' + (95 - 50 * good) + '%)';
        td.style.color = good > 0.6 ? '#fff' : '#1d2330';
      }
    }
    return t;
  }

  function parallel(runs, axes) {
    const canvas = $('parallel');
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const pad = 60, top = 40, w = canvas.width - 2 * pad, h = canvas.height - 2 * top;
    const x = (i) => pad + (axes.length > 1 ? (w * i) / (axes.length - 1) : w / 2);
    // Each axis maps its values to [0, 1]: numbers by range, text by sorted position.
    const scales = axes.map((a) => {
      const values = runs.map((r) => r[a]).filter((v) => v !== null && v !== undefined);
      if (values.every((v) => typeof v === 'number')) {
        const lo = Math.min(...values), hi = Math.max(...values);
        return { at: (v) => (hi > lo ? (v - lo) / (hi - lo) : 0.5), ticks: [[lo, 0], [hi, 1]] };
      }
      const names = [...new Set(values.map(String))].sort();
      const at = (v) => (names.length > 1 ? names.indexOf(String(v)) / (names.length - 1) : 0.5);
      return { at, ticks: names.map((n) => [n, at(n)]) };
    });
    ctx.font = '11px sans-serif';
    axes.forEach((a, i) => {
      ctx.strokeStyle = '#888'; ctx.setLineDash([]);
      ctx.beginPath(); ctx.moveTo(x(i), top); ctx.lineTo(x(i), top + h); ctx.stroke();
      ctx.fillStyle = '#1d2330';
      ctx.textAlign = i === 0 ? 'left' : i === axes.length - 1 ? 'right' : 'center';
      ctx.fillText(a, x(i), top - 20);
      ctx.textAlign = i === axes.length - 1 ? 'right' : 'left';
      const dx = i === axes.length - 1 ? -4 : 4;
      for (const [text, at] of scales[i].ticks) ctx.fillText(rnnlab.formatCell(text), x(i) + dx, top + h - at * h - 3);
    });
    runs.forEach((r, k) => {
      const bad = r.status === 'failed' || r.status === 'killed';
      ctx.strokeStyle = bad ? '#d62728' : palette[k % palette.length];
      ctx.setLineDash(r.status === 'pruned' ? [4, 4] : []);
      ctx.globalAlpha = 0.8;
      ctx.beginPath();
      axes.forEach((a, i) => {
        const v = r[a];
        const y = v === null || v === undefined ? top + h + 10 : top + h - scales[i].at(v) * h;
        i ? ctx.lineTo(x(i), y) : ctx.moveTo(x(i), y);
      });
      ctx.stroke();
      ctx.globalAlpha = 1;
    });
  }

  async function load() {
    const rows = $('rows').value.trim(), cols = $('cols').value.trim(), metric = $('metric').value.trim();
    const experiment = $('experiment').value, goal = $('goal').value;
    if (!rows || !metric) return;
    history.replaceState(null, '', '?' + new URLSearchParams({ experiment, rows, cols, metric, goal }));
    try {
      const cells = await api('/api/v1/pivot', { experiment, rows, cols, metric, goal });
      const rowKeys = rows.split(','), colKeys = cols ? cols.split(',') : [];
      $('heat').replaceChildren(heat(cells, rowKeys, colKeys, goal));
      const params = [...rowKeys, ...colKeys].map((k) => 'params.' + k.replace(/^params\./, ''));
      const value = 'metrics.' + metric + '.best';
      const runs = await api('/api/v1/runs', { experiment, goal, columns: [...params, value].join(',') });
      parallel(runs, [...params, value]);
      const shown = ['id', 'name', 'status', ...params, value];
      $('trials').replaceChildren(el('h2', 'Trials'), table(shown, runs, (td, column, run) => {
        if (column === 'status') statusCell(td, run.status);
        if (column === 'name') { td.textContent = ''; td.appendChild(link(run.name, '/run.html?id=' + run.id)); }
      }));
      showError($('error'), null);
    } catch (error) {
      showError($('error'), error);
    }
  }

  $('apply').addEventListener('click', load);
  api('/api/v1/experiments').then((names) => {
    for (const name of names) $('experiment').appendChild(el('option', name));
    if (query.get('experiment')) $('experiment').value = query.get('experiment');
    load();
  }).catch((error) => showError($('error'), error));
})();
