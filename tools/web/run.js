// One run: every metric's curve (downsampled by the server, min and max kept), the
// per-layer gradient norms, params, config, tags, artifacts and generated samples.
'use strict';
(() => {
  const { api, el, showError, table, keyValueTable, lineChart, updateChart, chartControls, charts } = rnnlab;
  const $ = (id) => document.getElementById(id);
  const id = new URLSearchParams(location.search).get('id');
  let settings = { logY: false, smoothing: 0 };
  const mine = {};  // key -> chart

  function series(history) { return [{ label: history.key, steps: history.steps, values: history.values }]; }

  function drawCharts(histories) {
    const grads = histories.filter((h) => h.key.startsWith('grad_norm/'));
    // Curves first, then values logged once (test scores), each group by name.
    const ordered = histories.filter((h) => !h.key.startsWith('grad_norm/'))
      .sort((a, b) => (a.total > 1) !== (b.total > 1) ? (a.total > 1 ? -1 : 1) : a.key.localeCompare(b.key));
    for (const h of ordered) {
      const title = h.key + (h.downsampled ? ' (' + h.total + ' points, min/max per bucket)' : '');
      if (mine[h.key]) updateChart(mine[h.key], series(h), settings);
      else mine[h.key] = lineChart($('charts'), title, series(h), settings);
    }
    const gradSeries = grads.map((h) => ({ label: h.key.slice('grad_norm/'.length), steps: h.steps, values: h.values }));
    if (!gradSeries.length) {
      $('grad-charts').replaceChildren(el('p', 'No per-layer gradient norms logged.', 'muted'));
    } else if (mine['grad_norm/*']) {
      updateChart(mine['grad_norm/*'], gradSeries, settings);
    } else {
      $('grad-charts').replaceChildren();
      mine['grad_norm/*'] = lineChart($('grad-charts'), 'grad_norm per layer', gradSeries, settings);
    }
  }

  function drawDetails(show) {
    const box = $('details');
    box.replaceChildren();
    const run = show.run;
    $('title').textContent = run.name + ' (#' + run.id + ')';
    document.title = 'rnnlab: ' + run.name;
    box.append(el('h2', 'Run'), keyValueTable('field', run));
    if (Object.keys(show.params).length) box.append(el('h2', 'Params'), keyValueTable('param', show.params));
    if (show.metrics.length) {
      box.append(el('h2', 'Metric summary'),
        table(['key', 'last', 'last_step', 'min', 'min_step', 'max', 'max_step', 'count'], show.metrics));
    }
    const tags = Object.entries(show.tags);
    const samples = tags.filter(([k]) => k.startsWith('sample'));
    if (tags.length) box.append(el('h2', 'Tags'), keyValueTable('tag', show.tags));
    if (samples.length) {
      box.append(el('h2', 'Generated samples'));
      for (const [k, v] of samples) box.append(el('h3', k), el('pre', v, 'config'));
    }
    if (show.artifacts.length) box.append(el('h2', 'Artifacts'), table(['path', 'kind', 'step', 'created'], show.artifacts));
    box.append(el('h2', 'Config'), el('pre', JSON.stringify(show.config, null, 2), 'config'));
  }

  let histories = [];
  async function load() {
    try {
      const [show, curves] = await Promise.all([api('/api/v1/runs/' + encodeURIComponent(id)),
        api('/api/v1/runs/' + encodeURIComponent(id) + '/history', { points: 2000 })]);
      histories = curves.histories;
      drawDetails(show);
      drawCharts(histories);
      showError($('error'), null);
      return show.run.status;
    } catch (error) {
      showError($('error'), error);
      return 'error';
    }
  }

  settings = chartControls($('chart-controls'), (s) => { settings = s; drawCharts(histories); });
  window.rnnlabRunCharts = mine;
  void charts;
  async function tick() {
    const status = await load();
    if (status === 'running') setTimeout(tick, 2000);
  }
  if (!id) showError($('error'), 'no run: open /run.html?id=RUN');
  else tick();
})();
