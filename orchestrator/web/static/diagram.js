// The case's BPMN diagram (bpmn-js viewer) with the steps the case waits at highlighted,
// and the step a stuck case stopped after marked as the problem.
(function () {
  var el = document.getElementById('diagram');
  if (!el || !window.BpmnJS) { return; }
  var viewer = new window.BpmnJS({ container: el });
  fetch(el.dataset.xmlUrl, { credentials: 'same-origin' })
    .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get('canvas');
      canvas.zoom('fit-viewport');
      function mark(ids, marker) {
        (ids || '').split(',').filter(Boolean).forEach(function (id) {
          try { canvas.addMarker(id, marker); } catch (e) { /* not drawn */ }
        });
      }
      mark(el.dataset.current, 'current-step');
      mark(el.dataset.stuck, 'stuck-step');  // where a stuck case stopped: the step its incident names
      el.dataset.ready = 'true';
    })
    .catch(function () { el.textContent = el.dataset.error || 'The diagram could not be shown.'; });
}());
