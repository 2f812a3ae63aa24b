// Titanic Ops dashboard: draw the plotly figures embedded in the page, poll a running job.
"use strict";

function drawCharts() {
  if (!window.Plotly) return;
  document.querySelectorAll(".chart[data-figure]").forEach((element) => {
    const source = document.getElementById(element.dataset.figure);
    if (!source) return;
    const figure = JSON.parse(source.textContent);
    window.Plotly.newPlot(element, figure.data, figure.layout, {
      displaylogo: false,
      responsive: true,
      modeBarButtonsToRemove: ["lasso2d", "select2d"],
    });
  });
}

// Figures served as JSON after the page (the overview's charts): one fetch, then draw each.
function drawFetchedCharts() {
  const holders = document.querySelectorAll(".chart[data-figure-url]");
  if (!holders.length || !window.Plotly) return;
  fetch(holders[0].dataset.figureUrl, {
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  })
    .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
    .then((figures) => {
      holders.forEach((element) => {
        const figure = figures[element.dataset.figureKey];
        if (!figure) {
          element.querySelector("p").textContent = "Nothing to draw yet.";
          element.classList.replace("chart", "chart-empty"); // a slot, not a chart
          return;
        }
        element.textContent = "";
        window.Plotly.newPlot(element, figure.data, figure.layout, {
          displaylogo: false,
          responsive: true,
        });
      });
    })
    .catch(() => holders.forEach((element) => (element.textContent = "Charts unavailable.")));
}

function pollProgress(box) {
  const url = box.dataset.progressUrl;
  const runId = Number(box.dataset.run);
  const bar = box.querySelector("[data-progress-bar]");
  const text = box.querySelector("[data-progress-text]");
  const status = box.querySelector("[data-progress-status]");
  const phase = box.querySelector("[data-progress-phase]");
  const elapsed = box.querySelector("[data-progress-elapsed]");
  const tick = () => {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((payload) => {
        const active = payload.active;
        if (!active || active.id !== runId) {
          window.location.reload(); // the job ended: show its final state
          return;
        }
        bar.max = Math.max(active.total, 1);
        bar.value = active.done;
        text.textContent = `${active.done} / ${active.total} grid points (${active.percent}%)`;
        status.textContent = active.status;
        const now = payload.phase || {};
        if (phase) phase.textContent = now.phase || "";
        if (elapsed && now.elapsed_seconds != null) {
          elapsed.textContent = `${now.elapsed_seconds} s elapsed`;
        }
        status.className = `badge status-${active.status}`;
        window.setTimeout(tick, 3000);
      })
      .catch(() => window.setTimeout(tick, 10000));
  };
  window.setTimeout(tick, 3000);
}

window.addEventListener("load", () => {
  drawCharts();
  drawFetchedCharts();
  document.querySelectorAll("[data-progress-url]").forEach(pollProgress);
});
