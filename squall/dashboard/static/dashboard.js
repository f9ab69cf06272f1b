// Draws the dashboard's charts with uPlot and refreshes the page from its JSON every few seconds.
// The server renders every table; this script only swaps in the fragments it sends.
"use strict";

(function () {
  const body = document.body;
  const source = body.dataset.source;
  const refreshMs = Math.max(1, Number(body.dataset.refreshS) || 5) * 1000;
  const initial = JSON.parse(document.getElementById("dashboard-data").textContent);

  // Each chart's lines: [key in the data's "series", legend label, colour].
  const CHARTS = {
    activity: {
      kind: "count",
      lines: [["invocations", "Invocations", "#2563eb"], ["errors", "Errors", "#dc2626"], ["throttles", "Throttles", "#d97706"]],
    },
    duration: { kind: "ms", lines: [["p50_ms", "p50", "#059669"], ["p99_ms", "p99", "#7c3aed"]] },
    cold_starts: { kind: "count", lines: [["cold_starts", "Cold starts", "#0891b2"]] },
    cost: { kind: "usd", lines: [["cost_usd", "Cost", "#4b5563"]] },
  };

  // The uPlot instance of each chart by name; tests read their data here.
  const charts = {};
  window.squallCharts = charts;
  const appliedMarkup = Object.assign({}, initial.html || {});

  function format(kind, value) {
    if (value === null || value === undefined) return "–";
    if (kind === "ms") {
      if (value >= 1000) return (value / 1000).toFixed(2) + " s";
      if (value === 0) return "0 ms";
      let decimals = 0;
      if (value < 1) decimals = 2;
      else if (value < 100) decimals = 1;
      return value.toFixed(decimals) + " ms";
    }
    if (kind === "usd") {
      if (value === 0) return "$0";
      // Single invocations cost fractions of a micro-dollar, which fixed decimals would show as $0.00.
      if (value >= 0.01) return "$" + value.toFixed(2);
      // Three significant digits in plain decimals, as `squall cost` writes them.
      return "$" + value.toFixed(Math.min(20, 2 - Math.floor(Math.log10(value))));
    }
    return Number.isInteger(value) ? String(value) : value.toFixed(1);
  }

  // UTC in 24-hour form, as the tables print it, with the date once the window spans days.
  function timeLabel(seconds, spanSeconds) {
    const text = new Date(seconds * 1000).toISOString();
    return spanSeconds > 86400 ? text.slice(5, 10) + " " + text.slice(11, 16) : text.slice(11, 16);
  }

  function columns(name, series) {
    return [series.time].concat(CHARTS[name].lines.map(([key]) => series[key]));
  }

  function chartWidth(plot) {
    return Math.max(240, Math.floor(plot.clientWidth));
  }

  function createChart(figure, series) {
    const name = figure.dataset.chart;
    const spec = CHARTS[name];
    if (!spec) return;
    const plot = figure.querySelector(".plot");
    const options = {
      width: chartWidth(plot),
      height: 180,
      // The tables print UTC, so the legend's times are UTC too.
      tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
      scales: { y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] } },
      axes: [
        { space: 80, values: (u, ticks) => ticks.map((tick) => timeLabel(tick, u.scales.x.max - u.scales.x.min)) },
        {
          // Wide enough for the longest label, such as "$0.0000600", at about 7 px a character.
          size: (u, values) => Math.max(48, 18 + 7 * Math.max(0, ...(values || []).map((text) => String(text).length))),
          values: (u, ticks) => ticks.map((tick) => format(spec.kind, tick)),
        },
      ],
      series: [{}].concat(
        spec.lines.map(([, label, colour]) => ({
          label: label,
          stroke: colour,
          width: 2,
          // Percentiles are null in buckets without invocations; points keep a lone value visible.
          points: { show: spec.kind === "ms", size: 5 },
          value: (u, value) => format(spec.kind, value),
        })),
      ),
    };
    charts[name] = new uPlot(options, columns(name, series), plot);
  }

  function apply(data) {
    for (const [name, chart] of Object.entries(charts)) chart.setData(columns(name, data.series));

    // Swapping a fragment closes its <details>; reopen the logs the reader had open.
    const open = new Set(Array.from(document.querySelectorAll("details[open][data-request-id]"), (item) => item.dataset.requestId));
    for (const [name, markup] of Object.entries(data.html || {})) {
      const element = document.querySelector(`[data-fragment="${name}"]`);
      if (!element || appliedMarkup[name] === markup) continue;
      element.innerHTML = markup;
      appliedMarkup[name] = markup;
    }
    for (const item of document.querySelectorAll("details[data-request-id]")) {
      if (open.has(item.dataset.requestId)) item.open = true;
    }
  }

  function showStatus(text, failed) {
    const element = document.getElementById("updated");
    element.textContent = text;
    element.classList.toggle("failed", failed);
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toISOString().slice(11, 19);
  }

  async function refresh() {
    // A hidden tab skips its refreshes; the next visible one catches up.
    if (!document.hidden) {
      try {
        // fetch sends the sign-in cookie by default, because the data is on the page's own origin.
        const response = await fetch(source, { headers: { accept: "application/json" }, cache: "no-store" });
        if (response.status === 401) {
          // The session expired or the token changed. Reloading shows the sign-in form, which leads back to this page.
          window.location.reload();
          return;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        const data = await response.json();
        apply(data);
        showStatus("updated " + clock(data.generated_at) + " UTC", false);
      } catch (error) {
        showStatus("refresh failed (" + error.message + "), retrying in " + refreshMs / 1000 + " s", true);
      }
    }
    // Chained timeouts, so a slow response never overlaps the next request.
    window.setTimeout(refresh, refreshMs);
  }

  for (const figure of document.querySelectorAll("figure[data-chart]")) createChart(figure, initial.series);
  window.addEventListener("resize", () => {
    for (const chart of Object.values(charts)) chart.setSize({ width: chartWidth(chart.root.parentElement), height: 180 });
  });
  window.setTimeout(refresh, refreshMs);
})();
