// The dashboard pages' one script: filter the embedded datasets by the date range,
// compute every figure as the marts do (weblogs/dashboard/pages.py says how), and draw
// the charts (Vega-Lite) and tables. Text from the data is only ever set as textContent.
"use strict";

const DAY = 86400000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function report(message) {
  const box = document.getElementById("errors");
  box.hidden = false;
  box.textContent += message + "\n";
  console.error(message);
}
window.addEventListener("error", (e) => report("error: " + e.message));
window.addEventListener("unhandledrejection", (e) => report("error: " + e.reason));

function readJson(id) {
  return JSON.parse(document.getElementById(id).textContent);
}

function shift(day, days) {
  return new Date(Date.parse(day) + days * DAY).toISOString().slice(0, 10);
}

function dates(data) {
  const all = [];
  for (const rows of Object.values(data)) {
    for (const row of rows) if (row.session_date) all.push(row.session_date);
  }
  all.sort();
  return all.length ? [all[0], all[all.length - 1]] : [null, null];
}

function inRange(rows, from, to) {
  return rows.filter((r) => !r.session_date || (r.session_date >= from && r.session_date <= to));
}

function sum(rows, field) {
  return rows.reduce((total, r) => total + (Number(r[field]) || 0), 0);
}

// a * sum(num) / (b * sum(den)), rounded half up to 2 decimals in integer arithmetic.
function ratio(rows, m) {
  const [num, den] = m.ratio;
  const [a, b] = m.scale;
  const n = a * sum(rows, num) * 100;
  const d = b * sum(rows, den);
  return d === 0 ? null : Math.floor((2 * n + d) / (2 * d)) / 100;
}

function measure(rows, m) {
  if ("sum" in m) return sum(rows, m.sum);
  if ("cents" in m) return sum(rows, m.cents) / 100;
  if ("distinct" in m) return new Set(rows.map((r) => r[m.distinct])).size;
  if ("ratio" in m) return ratio(rows, m);
  throw new Error("unknown measure " + JSON.stringify(m));
}

function aggregate(rows, group, measures) {
  const groups = new Map();
  for (const row of rows) {
    const key = JSON.stringify(group.map((g) => row[g]));
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(row);
  }
  return [...groups.values()].map((members) => {
    const out = {};
    for (const g of group) out[g] = members[0][g];
    for (const [name, m] of Object.entries(measures)) out[name] = measure(members, m);
    return out;
  });
}

function show(value) {
  if (value === null || value === undefined) return "–";
  return Number.isInteger(value) ? value.toLocaleString("en-US") : value.toFixed(2);
}

function element(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function renderFigures(spec, data, range, previous) {
  const box = document.getElementById("figures");
  box.replaceChildren();
  for (const f of spec.figures) {
    const now = measure(inRange(data[f.dataset], ...range), f.measure);
    const before = measure(inRange(data[f.dataset], ...previous), f.measure);
    const card = element("div", undefined, { class: "figure", id: "figure-" + f.id });
    card.append(element("span", f.label, { class: "label" }));
    card.append(element("span", show(now), { class: "value", "data-value": String(now) }));
    card.append(element("span", "previous period: " + show(before), {
      class: "previous", "data-value": String(before),
    }));
    box.append(card);
  }
}

function compareRows(chart, data, range, previous) {
  const rows = [];
  for (const [period, [from, to]] of [["this period", range], ["previous period", previous]]) {
    const daily = aggregate(inRange(data[chart.dataset], from, to), ["session_date"], chart.measures);
    for (const row of daily) {
      const day = Math.round((Date.parse(row.session_date) - Date.parse(from)) / DAY);
      rows.push({ ...row, day: day + 1, period });
    }
  }
  return rows;
}

function chartSpec(chart, data, range, previous) {
  if (chart.compare) {
    const y = Object.keys(chart.measures)[0];
    return {
      data: { values: compareRows(chart, data, range, previous) },
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "day", type: "quantitative", title: "day of the period" },
        y: { field: y, type: "quantitative" },
        color: { field: "period", type: "nominal" },
      },
    };
  }
  let rows = aggregate(inRange(data[chart.dataset], ...range), chart.group, chart.measures);
  if (chart.limit) {
    const key = Object.keys(chart.measures)[0];
    rows = rows.sort((a, b) => b[key] - a[key]).slice(0, chart.limit);
  }
  return { ...chart.vl, data: { values: rows } };
}

function renderCharts(spec, data, range, previous) {
  const box = document.getElementById("charts");
  box.replaceChildren();
  return Promise.all(spec.charts.map((chart, i) => {
    const holder = element("figure", undefined, { class: "chart", id: "chart-" + i });
    holder.append(element("figcaption", chart.title));
    const target = element("div");
    holder.append(target);
    box.append(holder);
    const drawn = chartSpec(chart, data, range, previous);
    if (drawn.data.values.length === 0) {
      target.append(element("p", "no rows in this range", { class: "empty" }));
      return null;
    }
    const vl = {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      width: 560, height: 220,
      ...drawn,
    };
    return vegaEmbed(target, vl, { actions: false, renderer: "svg" });
  }));
}

function renderTables(spec, data, range) {
  const box = document.getElementById("tables-shown");
  box.replaceChildren();
  for (const t of spec.tables) {
    const rows0 = inRange(data[t.dataset], ...range);
    const columns = t.columns || [...t.group, ...Object.keys(t.measures)];
    let rows = t.columns ? rows0.slice() : aggregate(rows0, t.group, t.measures);
    if (t.sort) rows.sort((a, b) => (a[t.sort] < b[t.sort] ? 1 : a[t.sort] > b[t.sort] ? -1 : 0));
    if (t.limit) rows = rows.slice(0, t.limit);
    const table = element("table");
    table.append(element("caption", t.title));
    const head = element("tr");
    for (const c of columns) head.append(element("th", c));
    table.append(head);
    for (const row of rows) {
      const tr = element("tr");
      for (const c of columns) tr.append(element("td", typeof row[c] === "number" ? show(row[c]) : String(row[c] ?? "–")));
      table.append(tr);
    }
    box.append(table);
  }
}

// A real calendar day as YYYY-MM-DD (2026-13-99 matches the pattern but is no day).
function isDay(text) {
  if (!DATE.test(text)) return false;
  const at = Date.parse(text);
  return !Number.isNaN(at) && new Date(at).toISOString().slice(0, 10) === text;
}

function chosenRange(bounds) {
  const params = new URLSearchParams(window.location.search);
  let from = params.get("from");
  let to = params.get("to");
  const note = [];
  if (from !== null && !isDay(from)) { note.push("ignored from=" + from); from = null; }
  if (to !== null && !isDay(to)) { note.push("ignored to=" + to); to = null; }
  from = from || bounds[0];
  to = to || bounds[1];
  if (from > to) [from, to] = [to, from];
  document.getElementById("range-note").textContent = note.join("; ");
  return [from, to];
}

async function main() {
  const spec = readJson("spec");
  const data = readJson("data");
  const bounds = spec.bounds || dates(data);
  if (!bounds[0]) {
    document.getElementById("range-note").textContent = "no sessions in the marts yet";
    document.body.dataset.rendered = "true";
    return;
  }
  const range = chosenRange(bounds);
  const length = Math.round((Date.parse(range[1]) - Date.parse(range[0])) / DAY) + 1;
  const previous = [shift(range[0], -length), shift(range[0], -1)];
  for (const [id, value] of [["from", range[0]], ["to", range[1]]]) {
    const input = document.getElementById(id);
    input.value = value;
    input.min = bounds[0];
    input.max = bounds[1];
  }
  renderFigures(spec, data, range, previous);
  renderTables(spec, data, range);
  await renderCharts(spec, data, range, previous);
  document.body.dataset.rendered = "true";
}

main().catch((e) => report("error: " + (e && e.stack ? e.stack : e)));
