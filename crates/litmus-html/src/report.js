// The grid and the drill-down of a litmus report. The data is the JSON in
// #data (see litmus-html's data.rs); everything is built with DOM calls and
// textContent, so no text from a sample is ever parsed as HTML.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('data').textContent);
  var S = D.strings;
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'cls') e.className = attrs[k];
        else e.setAttribute(k, attrs[k]);
      }
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  function color(v) {
    v = Math.max(0, Math.min(100, v));
    return 'hsl(' + (v * 1.2).toFixed(0) + ',70%,' + (78 - v * 0.06).toFixed(0) + '%)';
  }
  function fmt(v, d) { return v == null ? '–' : v.toFixed(d == null ? 1 : d); }
  function ms(v) { return v == null ? '–' : v >= 1000 ? (v / 1000).toFixed(2) + ' s' : v.toFixed(0) + ' ms'; }

  // Per-row facts for the filters.
  var rows = D.rows.map(function (r, i) {
    var cells = D.cells[i];
    var means = [], fail = false, err = false, worst = 101;
    cells.forEach(function (c) {
      if (!c) return;
      if (c.m != null) { means.push(c.m); worst = Math.min(worst, c.m); }
      if (c.p < c.n) fail = true;
      if (c.e) { err = true; fail = true; }
    });
    var spread = means.length > 1 ? Math.max.apply(null, means) - Math.min.apply(null, means) : 0;
    return { i: i, name: r.name, lname: r.name.toLowerCase(), tags: r.tags, fail: fail, err: err,
             spread: spread, worst: worst, texts: null, tr: null };
  });
  function texts(row) {
    if (row.texts == null) {
      var parts = [];
      D.cells[row.i].forEach(function (c) {
        if (!c) return;
        c.s.forEach(function (k) {
          var s = D.samples[k];
          if (s.pr != null) parts.push(S[s.pr]);
          if (s.r != null) parts.push(S[s.r]);
        });
      });
      row.texts = parts.join('\n').toLowerCase();
    }
    return row.texts;
  }

  // The table.
  var table = $('grid-table');
  var head = el('tr', null, [el('th', { cls: 'eval', text: 'eval (' + D.rows.length + ')' })]);
  D.cols.forEach(function (c) {
    var th = el('th', { title: (c.run ? 'run ' + c.run + ': ' : '') + c.label, cls: c.run ? 'run-' + c.run : '' });
    th.textContent = (c.run ? c.run + ' · ' : '') + c.label;
    head.appendChild(th);
  });
  table.appendChild(el('thead', null, [head]));
  var body = el('tbody');
  rows.forEach(function (row) {
    var th = el('th', { cls: 'eval', 'data-row': row.i, title: 'all configurations of ' + row.name });
    th.appendChild(document.createTextNode(row.name));
    th.appendChild(el('span', { cls: 'tagl', text: row.tags.map(function (t) { return D.tags[t]; }).join(' ') }));
    var tr = el('tr', { 'data-row': row.i }, [th]);
    D.cells[row.i].forEach(function (c, j) {
      var td;
      if (!c) {
        td = el('td', { cls: 'none', title: 'not run' });
      } else {
        td = el('td', { cls: 'cell' + (c.e ? ' err' : ''), 'data-row': row.i, 'data-col': j });
        td.textContent = (c.m == null ? '–' : c.m.toFixed(0)) + (c.e ? '⚠' : '');
        if (c.m != null) td.style.background = color(c.m);
        td.title = D.cols[j].label + ': ' + fmt(c.m) + ' over ' + c.n + ' sample' + (c.n === 1 ? '' : 's') +
          ', ' + c.p + ' passed' + (c.e ? ', ' + c.e + ' errored' : '');
      }
      tr.appendChild(td);
    });
    row.tr = tr;
    body.appendChild(tr);
  });
  table.appendChild(body);

  // Filters.
  function apply() {
    var fFail = $('f-fail').checked, fErr = $('f-err').checked, fDiff = $('f-diff').checked;
    var pts = parseFloat($('f-diff-pts').value) || 0;
    var tag = $('f-tag').value, q = $('f-q').value.trim().toLowerCase();
    var tagIdx = tag ? D.tags.indexOf(tag) : -1;
    var shown = 0;
    rows.forEach(function (row) {
      var ok = (!fFail || row.fail) && (!fErr || row.err) && (!fDiff || row.spread >= pts) &&
        (tagIdx < 0 || row.tags.indexOf(tagIdx) >= 0) &&
        (!q || row.lname.indexOf(q) >= 0 || (q.length >= 2 && texts(row).indexOf(q) >= 0));
      row.tr.hidden = !ok;
      if (ok) shown++;
    });
    $('grid-count').textContent = shown + ' of ' + rows.length + ' evals';
  }
  function sort() {
    var how = $('f-sort').value;
    var sorted = rows.slice();
    if (how === 'worst') sorted.sort(function (a, b) { return a.worst - b.worst || a.i - b.i; });
    else if (how === 'spread') sorted.sort(function (a, b) { return b.spread - a.spread || a.i - b.i; });
    sorted.forEach(function (row) { body.appendChild(row.tr); });
  }
  ['f-fail', 'f-err', 'f-diff', 'f-tag'].forEach(function (id) { $(id).addEventListener('change', apply); });
  $('f-diff-pts').addEventListener('input', apply);
  $('f-q').addEventListener('input', apply);
  $('f-sort').addEventListener('change', sort);
  apply();

  // Drill-down.
  var drill = $('drill'), drillBody = $('drill-body'), selected = null;
  function block(title, text, open, cls) {
    if (text == null || text === '') return null;
    var d = el('details', open ? { open: '' } : null, [el('summary', { text: title }), el('pre', { cls: cls || '', text: text })]);
    return d;
  }
  function sampleView(s) {
    var line = el('div', { cls: 'line' });
    line.appendChild(el('span', { text: (s.rep ? 'repeat ' + s.rep + ' · ' : '') + 'sample ' + s.i }));
    var sc = el('span', { cls: 'score', text: s.v == null ? 'error' : fmt(s.v) });
    if (s.v != null) sc.style.background = color(s.v);
    line.appendChild(sc);
    line.appendChild(el('span', { cls: s.ok ? 'good' : 'bad', text: s.v == null ? 'not scored' : s.ok ? 'passed' : 'failed' }));
    var tok = function (n) { return n == null ? 'unknown' : n; };
    line.appendChild(el('span', { text: tok(s.u[0]) + ' prompt + ' + tok(s.u[1]) + ' generated tokens' }));
    line.appendChild(el('span', { text: 'prompt ' + ms(s.t[0]) + ' · generation ' + ms(s.t[1]) + ' · TTFT ' + ms(s.t[2]) + ' · total ' + ms(s.t[3]) }));
    if (s.c) line.appendChild(el('span', { text: 'from cache' }));
    var box = el('div', { cls: 'sample' }, [line]);
    if (s.parts && s.parts.length) {
      var t = el('table', { cls: 'parts' });
      var r1 = el('tr'), r2 = el('tr');
      s.parts.forEach(function (p) { r1.appendChild(el('td', { text: p[0] })); r2.appendChild(el('td', { text: fmt(p[1]) })); });
      t.appendChild(r1); t.appendChild(r2);
      box.appendChild(el('div', { cls: 'note', text: 'score parts' }));
      box.appendChild(t);
    }
    if (s.err != null) box.appendChild(el('pre', { cls: 'error', text: S[s.err] }));
    [block('prompt, as sent', s.pr != null ? S[s.pr] : null, false),
     block('response', s.r != null ? S[s.r] : null, true),
     block('extracted code (as the sandbox scores it)', s.x != null ? S[s.x] : null, false),
     block('sandbox / judge output', s.d != null ? S[s.d] : null, s.v != null && !s.ok, 'error')
    ].forEach(function (b) { if (b) box.appendChild(b); });
    (s.ex || []).forEach(function (x, k) {
      box.appendChild(block('exchange ' + (k + 1) + ': prompt', S[x[0]], false));
      box.appendChild(block('exchange ' + (k + 1) + ': response', S[x[1]], false));
    });
    return box;
  }
  function cellView(r, j) {
    var c = D.cells[r][j];
    var col = D.cols[j];
    var wrap = el('div', { cls: 'drill-cell' });
    wrap.appendChild(el('h3', { text: (col.run ? 'run ' + col.run + ' · ' : '') + col.label }));
    if (!c) { wrap.appendChild(el('p', { cls: 'note', text: 'not run under this configuration' })); return wrap; }
    wrap.appendChild(el('p', { cls: 'note', text: 'mean ' + fmt(c.m) + ' over ' + c.n + ' scored, ' + c.p + ' passed' + (c.e ? ', ' + c.e + ' errored' : '') }));
    c.s.forEach(function (k) { wrap.appendChild(sampleView(D.samples[k])); });
    return wrap;
  }
  function open(r, j) {
    if (selected) selected.classList.remove('sel');
    drillBody.textContent = '';
    var row = D.rows[r];
    drillBody.appendChild(el('h2', { text: row.name }));
    drillBody.appendChild(el('p', { cls: 'note', text: 'tags: ' + (row.tags.map(function (t) { return D.tags[t]; }).join(', ') || 'none') }));
    if (j == null) {
      D.cols.forEach(function (_, k) { drillBody.appendChild(cellView(r, k)); });
      selected = null;
    } else {
      drillBody.appendChild(cellView(r, j));
      selected = table.querySelector('td[data-row="' + r + '"][data-col="' + j + '"]');
      if (selected) selected.classList.add('sel');
    }
    drill.hidden = false;
    drill.scrollTop = 0;
  }
  function close() {
    drill.hidden = true;
    if (selected) selected.classList.remove('sel');
    selected = null;
  }
  table.addEventListener('click', function (ev) {
    var t = ev.target.closest('td.cell, th.eval[data-row]');
    if (!t) return;
    var r = +t.getAttribute('data-row');
    open(r, t.tagName === 'TD' ? +t.getAttribute('data-col') : null);
  });
  $('drill-close').addEventListener('click', close);
  document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') close(); });
})();
