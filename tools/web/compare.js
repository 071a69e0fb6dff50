// Compare: the runs' curves overlaid, one chart per metric, and the table of
// `rnnlab runs compare` (params that differ, metrics side by side).
'use strict';
(() => {
  const { api, el, showError, table, lineChart, updateChart, chartControls } = rnnlab;
  const $ = (id) => document.getElementById(id);
  const refs = (new URLSearchParams(location.search).get('runs') || '').split(',').filter(Boolean);
  let settings = { logY: false, smoothing: 0 };
  const byKey = {};  // metric -> [{label, steps, values}]
  const mine = {};

  function draw() {
    for (const [key, series] of Object.entries(byKey)) {
      if (mine[key]) updateChart(mine[key], series, settings);
      else mine[key] = lineChart($('charts'), key, series, settings);
    }
  }

  async function load() {
    try {
      const rows = await api('/api/v1/compare', { runs: refs.join(',') });
      // JSON objects come with sorted keys: the field name first, then the runs.
      const columns = ['field', ...(rows.length ? Object.keys(rows[0]).filter((c) => c !== 'field') : [])];
      $('table').replaceChildren(table(columns, rows));
      const all = await Promise.all(refs.map((ref) => api('/api/v1/runs/' + encodeURIComponent(ref) + '/history', { points: 1000 })));
      all.forEach((curves) => {
        const label = columns.find((c) => c.endsWith('(#' + curves.run_id + ')')) || '#' + curves.run_id;
        for (const h of curves.histories) {
          (byKey[h.key] = byKey[h.key] || []).push({ label, steps: h.steps, values: h.values });
        }
      });
      draw();
    } catch (error) {
      showError($('error'), error);
    }
  }
  settings = chartControls($('chart-controls'), (s) => { settings = s; draw(); });
  window.rnnlabCompareCharts = mine;
  if (refs.length < 2) showError($('error'), 'give two or more runs: /compare.html?runs=1,2');
  else load();
})();
