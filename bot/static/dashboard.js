/* Staff dashboard charts: Chart.js (vendored, no CDN) drawing the figures embedded in the page. */
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var palette = { zalo: "#0068ff", facebook: "#7b3fe4", web: "#1f7a3d", console: "#b54708" };
  var common = { responsive: true, maintainAspectRatio: false, animation: false,
                 plugins: { legend: { position: "bottom" } } };
  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) { canvas.chart = new Chart(canvas, config); canvas.dataset.drawn = "1"; }
  }
  draw("chart-messages", {
    type: "bar",
    data: {
      labels: data.messages.map(function (r) { return r.day.slice(5); }),
      datasets: data.channels.map(function (c) {
        return { label: c, backgroundColor: palette[c] || "#6b7785",
                 data: data.messages.map(function (r) { return r[c] || 0; }) };
      })
    },
    options: Object.assign({}, common, { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } })
  });
  draw("chart-dossiers", {
    type: "bar",
    data: {
      labels: data.dossiers.map(function (p) { return p.code; }),
      datasets: [{ label: "Hồ sơ", backgroundColor: "#0b5cad", data: data.dossiers.map(function (p) { return p.count; }) }]
    },
    options: Object.assign({}, common, { indexAxis: "y", plugins: { legend: { display: false } } })
  });
  var groups = [["opening_hours", "Trong giờ"], ["outside_hours", "Ngoài giờ"], ["all", "Tất cả"]];
  function minutes(v) { return v === null ? null : Math.round(v / 6) / 10; }
  draw("chart-response", {
    type: "bar",
    data: {
      labels: groups.map(function (g) { return g[1]; }),
      datasets: [
        { label: "Trung vị", backgroundColor: "#1f7a3d", data: groups.map(function (g) { return minutes(data.response[g[0]].median); }) },
        { label: "P90", backgroundColor: "#b54708", data: groups.map(function (g) { return minutes(data.response[g[0]].p90); }) }
      ]
    },
    options: Object.assign({}, common, { scales: { y: { beginAtZero: true } } })
  });
  draw("chart-dossiers-day", {
    type: "line",
    data: {
      labels: data.dossiers_per_day.map(function (r) { return r.day.slice(5); }),
      datasets: [{ label: "Hồ sơ", borderColor: "#0b5cad", backgroundColor: "#0b5cad",
                   data: data.dossiers_per_day.map(function (r) { return r.count; }) }]
    },
    options: Object.assign({}, common, { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } })
  });
}());
