// The manager view: the pathway's diagram as a heatmap of open tasks (bpmn-js NavigatedViewer
// with overlays), the open tasks of a clicked step (pseudonymous), and the Chart.js charts.
(function () {
  'use strict';

  function json(id) {
    var el = document.getElementById(id);
    try { return el ? JSON.parse(el.textContent) : {}; } catch (e) { return {}; }
  }

  var T = json('manage-text');
  var lang = document.documentElement.lang || 'fi';
  var oneDecimal = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

  function node(tag, attrs, text) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { el.textContent = String(text); }
    return el;
  }

  // Dates the Finnish way (d.M.yyyy H.mm) in Helsinki time, as the rest of Polku shows them.
  function fidate(iso) {
    if (!iso) { return ''; }
    var parts = {};
    new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Helsinki', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: '2-digit', hourCycle: 'h23'
    }).formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
    return Number(parts.day) + '.' + Number(parts.month) + '.' + parts.year + ' ' +
      Number(parts.hour) + '.' + parts.minute;
  }

  // Heat: light to dark by the step's share of the busiest step's open tasks.
  function heat(open, max) {
    var share = max > 0 ? open / max : 0;
    var lightness = Math.round(90 - share * 52);  // 90 % … 38 %
    return { background: 'hsl(18, 85%, ' + lightness + '%)', ink: lightness < 60 ? '#fff' : '#1d2733',
             shape: 'hsl(18, 85%, ' + Math.round(96 - share * 30) + '%)' };  // light enough to read the name on
  }

  // -- the heatmap -------------------------------------------------------------------------
  var box = document.getElementById('heatmap');
  var list = document.getElementById('step-tasks');

  function showTasks(elementId, name) {
    if (!list) { return; }
    var url = box.dataset.tasksUrlTemplate.replace('ELEMENT_ID', encodeURIComponent(elementId));
    list.dataset.elementId = elementId;
    list.dataset.ready = 'false';
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (tasks) {
        if (list.dataset.elementId !== elementId) { return; }  // another step was clicked meanwhile
        list.textContent = '';
        list.appendChild(node('h3', {}, T.tasks_of + ': ' + (tasks.length ? tasks[0].step : name || elementId)));
        if (!tasks.length) {
          list.appendChild(node('p', { 'class': 'muted' }, T.none));
        } else {
          var wrap = node('div', { 'class': 'table-wrap' });
          var table = node('table', { 'class': 'step-tasks', 'data-element-id': elementId });
          var head = node('tr');
          [T.task, T.step, T.region, T.waiting_since, T.assignee, T.overdue_heading].forEach(function (h) {
            head.appendChild(node('th', { scope: 'col' }, h));
          });
          table.appendChild(node('thead')).appendChild(head);
          var body = table.appendChild(node('tbody'));
          tasks.forEach(function (t) {
            var tr = node('tr', t.overdue ? { 'class': 'overdue' } : {});
            [t.task, t.step, t.region, fidate(t.waiting_since), t.assignee || T.nobody,
              t.overdue ? T.yes : T.no].forEach(function (v) { tr.appendChild(node('td', {}, v)); });
            body.appendChild(tr);
          });
          wrap.appendChild(table);
          list.appendChild(wrap);
        }
        list.dataset.ready = 'true';
      })
      .catch(function () {
        list.textContent = '';
        list.appendChild(node('p', { 'class': 'flash error', role: 'alert' }, T.tasks_error));
      });
  }

  function overlay(step, max) {
    var colour = heat(step.open, max);
    var el = node('div', {
      'class': 'step-count', 'data-element-id': step.element_id, 'data-open': step.open,
      'data-overdue': step.overdue, role: 'button', tabindex: '0',
      title: step.open + ' ' + T.open + (step.overdue ? ', ' + step.overdue + ' ' + T.overdue : '') +
        (step.median_days_waiting !== null ? '; ' + T.median + ' ' + oneDecimal.format(step.median_days_waiting) : '')
    });
    el.style.background = colour.background;
    el.style.color = colour.ink;
    el.appendChild(node('span', { 'class': 'open-n' }, step.open));
    if (step.overdue) {
      el.appendChild(document.createTextNode(' · '));
      el.appendChild(node('span', { 'class': 'late-n' }, step.overdue + ' ' + T.overdue));
    }
    if (step.median_days_waiting !== null && step.median_days_waiting !== undefined) {
      el.appendChild(document.createTextNode(' · '));
      el.appendChild(node('span', { 'class': 'wait' }, oneDecimal.format(step.median_days_waiting) + ' ' + T.days));
    }
    var open = function () { showTasks(step.element_id); };
    el.addEventListener('click', open);
    el.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); }
    });
    return { el: el, colour: colour };
  }

  if (box && window.BpmnJS) {
    var viewer = new window.BpmnJS({ container: box });
    fetch(box.dataset.xmlUrl, { credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        viewer.get('canvas').zoom('fit-viewport');
        return fetch(box.dataset.overviewUrl, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (overview) {
        var registry = viewer.get('elementRegistry');
        var overlays = viewer.get('overlays');
        var steps = (overview.steps || []).filter(function (s) { return s.open > 0 && registry.get(s.element_id); });
        var max = steps.reduce(function (m, s) { return Math.max(m, s.open); }, 0);
        steps.forEach(function (step) {
          var o = overlay(step, max);
          overlays.add(step.element_id, 'step-count', { position: { top: -12, right: 12 }, html: o.el });
          var shape = registry.getGraphics(step.element_id);
          var visual = shape && shape.querySelector('.djs-visual > :first-child');
          if (visual) { visual.style.fill = o.colour.shape; }  // the step itself, as a heat cell
        });
        var counted = {};
        steps.forEach(function (s) { counted[s.element_id] = true; });
        viewer.get('eventBus').on('element.click', function (e) {
          var id = e.element && e.element.businessObject && e.element.businessObject.id;
          if (id && e.element.type !== 'label' && (counted[id] || /Task$/.test(e.element.type))) {
            showTasks(id, e.element.businessObject.name);
          }
        });
        box.dataset.ready = 'true';
      })
      .catch(function () { box.textContent = T.error || 'The diagram could not be shown.'; });
  }

  // -- the charts ---------------------------------------------------------------------------
  var data = json('chart-data');
  if (window.Chart && data.flow && document.getElementById('flow-chart')) {
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.locale = lang;
    var common = { responsive: true, maintainAspectRatio: false, animation: false,
                   scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } };
    new window.Chart(document.getElementById('flow-chart'), {
      type: 'bar',
      data: { labels: data.flow.labels, datasets: [
        { label: data.flow.started_label, data: data.flow.started, backgroundColor: '#0b5cad' },
        { label: data.flow.closed_label, data: data.flow.closed, backgroundColor: '#1f7a3a' }
      ] },
      options: common
    });
    if (!document.getElementById('outcomes-chart')) { return; }  // nothing closed in the period
    new window.Chart(document.getElementById('outcomes-chart'), {
      type: 'bar',
      data: { labels: data.outcomes.labels, datasets: [
        { label: data.outcomes.label, data: data.outcomes.counts, backgroundColor: '#e06c00' }
      ] },
      options: Object.assign({}, common, { indexAxis: 'y', plugins: { legend: { display: false } },
                                           scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } })
    });
  }
}());
