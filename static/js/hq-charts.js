// HQ dashboard charts: each <canvas data-chart='{"type":..,"labels":..,"series":..}'> is drawn
// with the vendored Chart.js. The numbers are also in the table beside each chart, which
// is what screen readers and no-JS browsers get; the canvas itself is aria-hidden.
(function () {
  "use strict";
  var COLOURS = ["#b4232c", "#1f6f8b", "#e3a008", "#5b8c2a", "#6b4c9a", "#8a8a8a"];

  function draw(canvas) {
    if (!window.Chart || canvas.getAttribute("data-drawn") === "1") { return; }
    var spec;
    try { spec = JSON.parse(canvas.getAttribute("data-chart")); } catch (e) { return; }
    var existing = window.Chart.getChart(canvas);
    if (existing) { existing.destroy(); }
    var line = spec.type === "line";
    new window.Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (s, i) {
          return { label: s.label, data: s.data, borderColor: COLOURS[i % COLOURS.length],
                   backgroundColor: COLOURS[i % COLOURS.length], fill: false, tension: 0.2,
                   pointRadius: line && spec.labels.length > 40 ? 0 : 3 };
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        indexAxis: line ? "x" : "y",
        plugins: { legend: { display: spec.series.length > 1 } },
        scales: { x: { ticks: { maxRotation: 0, autoSkip: true } } }
      }
    });
    canvas.setAttribute("data-drawn", "1");
  }

  function drawAll() { document.querySelectorAll("canvas[data-chart]").forEach(draw); }
  // Loaded on demand by mall.js (data-load-scripts), often after the page is ready.
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", drawAll); } else { drawAll(); }
  document.addEventListener("htmx:afterSettle", drawAll);
})();
