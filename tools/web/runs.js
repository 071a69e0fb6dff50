// The runs page: the filter box (the `rnnlab runs list --where` language, checked by the
// server), chosen columns, sortable headers, status colours, live refresh.
'use strict';
(() => {
  const { api, el, showError, table, statusCell, link } = rnnlab;
  const $ = (id) => document.getElementById(id);
  const query = new URLSearchParams(location.search);
  $('where').value = query.get('where') || '';
  $('columns').value = query.get('columns') || '';
  let sort = { column: null, descending: false };
  let rows = [];
  const selected = new Set();

  function render() {
    const box = $('runs');
    box.replaceChildren();
    if (!rows.length) { box.appendChild(el('p', 'No run matches.', 'muted')); return; }
    // JSON objects come with sorted keys: the list's own order first, then the asked fields.
    const fixed = ['id', 'experiment', 'name', 'status', 'start (UTC)', 'duration_s'];
    const asked = $('columns').value.split(',').map((c) => c.trim()).filter((c) => c in rows[0]);
    const rest = Object.keys(rows[0]).filter((c) => !fixed.includes(c) && !asked.includes(c));
    const columns = ['', ...fixed, ...asked, ...rest];
    let shown = rows.slice();
    if (sort.column) {
      shown.sort((a, b) => {
        const x = a[sort.column], y = b[sort.column];
        if (x === y) return 0;
        if (x === null) return 1;
        if (y === null) return -1;
        const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return sort.descending ? -order : order;
      });
    }
    const t = table(columns, shown, (td, column, row, i, tr) => {
      tr.dataset.runId = row.id;
      if (column === '') {
        td.textContent = '';
        const box = el('input');
        box.type = 'checkbox';
        box.checked = selected.has(row.id);
        box.addEventListener('change', () => { box.checked ? selected.add(row.id) : selected.delete(row.id); });
        td.appendChild(box);
      } else if (column === 'status') {
        statusCell(td, row.status);
      } else if (column === 'name' || column === 'id') {
        td.textContent = '';
        td.appendChild(link(row[column], '/run.html?id=' + encodeURIComponent(row.id)));
      }
    });
    t.id = 'runs-table';
    t.querySelectorAll('th').forEach((th, i) => {
      const column = columns[i];
      if (column === sort.column) th.textContent += sort.descending ? ' ▼' : ' ▲';
      th.addEventListener('click', () => {
        sort = { column, descending: sort.column === column ? !sort.descending : false };
        render();
      });
    });
    box.appendChild(t);
  }

  async function load() {
    try {
      rows = await api('/api/v1/runs', {
        where: $('where').value.trim(), columns: $('columns').value.trim(), experiment: $('experiment').value,
      });
      showError($('error'), null);
      $('count').textContent = rows.length + ' runs';
      render();
    } catch (error) {
      showError($('error'), error);
    }
  }

  function apply() {
    const next = new URLSearchParams();
    if ($('where').value.trim()) next.set('where', $('where').value.trim());
    if ($('columns').value.trim()) next.set('columns', $('columns').value.trim());
    history.replaceState(null, '', next.toString() ? '?' + next : location.pathname);
    load();
  }

  $('apply').addEventListener('click', apply);
  for (const id of ['where', 'columns']) {
    $(id).addEventListener('keydown', (e) => { if (e.key === 'Enter') apply(); });
  }
  $('experiment').addEventListener('change', load);
  $('compare').addEventListener('click', () => {
    if (selected.size >= 2) location.href = '/compare.html?runs=' + [...selected].join(',');
  });
  api('/api/v1/experiments').then((names) => {
    for (const name of names) $('experiment').appendChild(el('option', name));
  }).catch((error) => showError($('error'), error));
  // Live: refresh every 2 s while a run shown is running, else every 5 s (new runs appear).
  let last = Date.now();
  setInterval(() => {
    const due = rows.some((r) => r.status === 'running') ? 2000 : 5000;
    if ($('live').checked && Date.now() - last >= due) { last = Date.now(); load(); }
  }, 500);
  load();
})();
