// campaigner dashboard: live figures without reloading. Polls the page's live.json once a second
// while the tab is visible (never two requests at once), writes each figure into the elements that
// name it (data-field="..."), replaces the charts (server-drawn SVG), and reloads the page when the
// campaign's state changes so that its actions match it. No library, no build step.
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  if (!root) { return; }
  var url = root.getAttribute("data-live");
  var busy = false;

  function apply(data) {
    var fields = data.fields || {};
    Object.keys(fields).forEach(function (name) {
      document.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) {
        if (el.textContent !== fields[name]) { el.textContent = fields[name]; }
      });
    });
    var values = data.values || {};
    Object.keys(values).forEach(function (name) {
      document.querySelectorAll('[data-value="' + name + '"]').forEach(function (el) { el.value = values[name]; });
    });
    var html = data.html || {};
    Object.keys(html).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { el.innerHTML = html[id]; }  // SVG drawn by the server, every label escaped there
    });
    var shown = root.getAttribute("data-state");
    if (data.state && shown && data.state !== shown) { window.location.reload(); }
  }

  function tick() {
    if (document.hidden || busy) { return; }
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.href = "/login"; return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (data) { if (data) { apply(data); } })
      .catch(function () { /* the daemon restarting: try again next second */ })
      .then(function () { busy = false; });
  }

  window.setInterval(tick, 1000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { tick(); } });
})();
