// Overview charts: per target, stacked bars of negative/neutral/positive mentions, the alert
// count as a line on its own axis, and spikes marked in red. Vega-Lite, served locally.
(function () {
  "use strict";
  const COLORS = { domain: ["negative", "neutral", "positive"], range: ["#c0392b", "#95a5a6", "#27ae60"] };
  // Vega's expressions are interpreted (vega-interpreter), not compiled with eval, so the page's
  // Content-Security-Policy can forbid 'unsafe-eval'.
  const EMBED_OPTS = { actions: false, renderer: "svg", ast: true, expr: window.vegaInterpreter.expressionInterpreter };

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function spec(target, rows, spikes, gran) {
    const long = [];
    for (const r of rows) for (const s of COLORS.domain) long.push({ bucket: r.bucket, sentiment: s, n: r[s] });
    const timeType = gran === "day" ? "temporal" : "ordinal";
    const x = gran === "day"
      ? { field: "bucket", type: "temporal", timeUnit: "utcyearmonthdate", title: null, axis: { format: "%d %b", labelOverlap: true } }
      : { field: "bucket", type: "ordinal", title: null };
    const xMid = gran === "day" ? Object.assign({}, x, { bandPosition: 0.5 }) : x;  // points centred on their day's bar
    return {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      width: "container", height: 180, autosize: { type: "fit-x", contains: "padding" },
      description: "Mentions of " + target + " by sentiment, alerts and spikes",
      layer: [
        { data: { values: long }, mark: { type: "bar", tooltip: true },
          encoding: { x: x, y: { field: "n", type: "quantitative", stack: "zero", title: "mentions" },
                      color: { field: "sentiment", type: "nominal", scale: COLORS, legend: { orient: "top", title: null } },
                      order: { field: "sentiment", sort: "ascending" } } },
        { data: { values: rows }, mark: { type: "line", point: true, color: "#1f5f99", tooltip: true },
          encoding: { x: xMid, y: { field: "alerts", type: "quantitative", title: "alerts", axis: { orient: "right", titleColor: "#1f5f99", tickMinStep: 1, format: "d" } } } },
        { data: { values: spikes.length ? spikes : [] },
          mark: { type: "point", shape: "triangle-down", size: 160, filled: true, color: "#d62728", yOffset: -4, tooltip: true },
          encoding: { x: xMid, y: { value: 0 }, tooltip: { field: "text", type: "nominal" } } }
      ],
      resolve: { scale: { y: "independent" } },
      usermeta: { timeType: timeType }
    };
  }

  async function main() {
    const box = document.getElementById("charts");
    if (!box) return;
    const q = new URLSearchParams();
    for (const k of ["lang", "platform", "granularity", "days"]) if (box.dataset[k]) q.set(k, box.dataset[k]);
    let data;
    try {
      const resp = await fetch("/api/overview?" + q.toString(), { credentials: "same-origin" });
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      data = await resp.json();
    } catch (err) {
      box.replaceChildren(el("p", { class: "error" }, "Could not load chart data: " + err.message));
      return;
    }
    const sp = document.getElementById("spikes");
    if (data.spikes.length && sp) {
      const ul = el("ul");
      for (const s of data.spikes) ul.appendChild(el("li", {}, s.text));
      sp.replaceChildren(el("div", { class: "spike-list" }), );
      sp.firstChild.append(el("strong", {}, "Spikes (" + data.spikes.length + ")"), ul);
    }
    box.replaceChildren();
    if (!data.targets.length) { box.appendChild(el("p", { class: "muted" }, "No data yet.")); return; }
    for (const t of data.targets) {
      const rows = data.rows.filter((r) => r.target === t);
      const spikes = data.spikes.filter((s) => s.target === t);
      const card = el("section", { class: "chart", "data-target": t });
      const head = el("h2", {}, t);
      const total = rows.reduce((a, r) => a + r.mentions, 0);
      const alerts = rows.reduce((a, r) => a + r.alerts, 0);
      const sub = el("p", { class: "muted" }, total + " mentions, " + alerts + " alerts, " + spikes.length + " spikes, " + data.start + " to " + data.end);
      const div = el("div", { class: "vis" });
      card.append(head, sub, div);
      box.appendChild(card);
      if (!rows.length) { div.appendChild(el("p", { class: "muted" }, "No mentions in this period.")); continue; }
      try {
        await vegaEmbed(div, spec(t, rows, spikes, data.granularity), EMBED_OPTS);
      } catch (err) {
        div.appendChild(el("p", { class: "error" }, "Chart failed: " + err.message));
      }
    }
    box.dataset.rendered = "1";
  }

  // The weekly report page: one row of daily stacked bars per target.
  async function reportChart() {
    const box = document.getElementById("report-chart");
    if (!box) return;
    const daily = JSON.parse(box.dataset.daily || "[]");
    const long = [];
    for (const d of daily) for (const s of COLORS.domain) long.push({ target: d.target, day: d.day, sentiment: s, n: d[s] });
    if (!long.some((r) => r.n > 0)) { box.appendChild(el("p", { class: "muted" }, "No mentions this week.")); return; }
    await vegaEmbed(box, {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      data: { values: long },
      facet: { row: { field: "target", type: "nominal", title: null } },
      spec: { width: 640, height: 110, mark: { type: "bar", tooltip: true },
              encoding: { x: { field: "day", type: "ordinal", title: null },
                          y: { field: "n", type: "quantitative", stack: "zero", title: "mentions" },
                          color: { field: "sentiment", type: "nominal", scale: COLORS, legend: { orient: "top", title: null } },
                          order: { field: "sentiment", sort: "ascending" } } },
      resolve: { scale: { y: "independent" } }
    }, EMBED_OPTS);
    box.dataset.rendered = "1";
  }

  function start() { main(); reportChart(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
