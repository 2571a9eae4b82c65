// Hand-drawn SVG charts: horizontal bars (with an optional marker line) and a line with a band.
"use strict";
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// rows: [{label, value}] with value in [min, max]; marker: a value drawn as a dashed line.
function barChart(rows, {min = 0, max = 1, marker = null, width = 700} = {}) {
  const rowH = 24, left = 170, plot = width - left - 200;
  const root = svg("svg", {width, height: rows.length * rowH + 10, class: "chart"});
  const x = v => left + (v - min) / (max - min) * plot;
  rows.forEach((r, i) => {
    const y = i * rowH + 4, x0 = x(Math.max(min, 0)), x1 = x(r.value);
    root.append(svg("rect", {x: Math.min(x0, x1), y, width: Math.max(1, Math.abs(x1 - x0)),
      height: rowH - 8, class: r.value < 0 ? "bar neg" : "bar"}));
    const label = svg("text", {x: 4, y: y + 12}); label.textContent = r.label; root.append(label);
    const val = svg("text", {x: left + plot + 6, y: y + 12}); val.textContent = r.text ?? r.value;
    root.append(val);
  });
  if (marker !== null) root.append(svg("line", {x1: x(marker), x2: x(marker), y1: 0,
    y2: rows.length * rowH + 10, class: "marker"}));
  return root;
}

// history: [{x, y}], forecast: [{x, y, lower, upper}]; x is an index label.
function bandChart(history, forecast, {width = 620, height = 240} = {}) {
  const all = history.concat(forecast), pad = 40;
  const ys = all.flatMap(p => [p.y, p.lower ?? p.y, p.upper ?? p.y]);
  const lo = Math.min(...ys), hi = Math.max(...ys), n = all.length;
  const X = i => pad + i * (width - 2 * pad) / Math.max(1, n - 1);
  const Y = v => height - pad - (v - lo) / ((hi - lo) || 1) * (height - 2 * pad);
  const root = svg("svg", {width, height, class: "chart"});
  const start = history.length;
  const band = forecast.map((p, i) => `${X(start + i)},${Y(p.upper)}`)
    .concat(forecast.map((p, i) => `${X(start + i)},${Y(p.lower)}`).reverse());
  root.append(svg("polygon", {points: band.join(" "), class: "band"}));
  const line = (pts, off, cls) => root.append(svg("polyline", {class: cls,
    points: pts.map((p, i) => `${X(off + i)},${Y(p.y)}`).join(" ")}));
  line(history, 0, "history");
  line(forecast, start, "forecast");
  [[lo, "lo"], [hi, "hi"]].forEach(([v]) => {
    const t = svg("text", {x: 2, y: Y(v) + 4}); t.textContent = Math.round(v); root.append(t);
  });
  const first = svg("text", {x: X(0), y: height - 8}); first.textContent = all[0].x; root.append(first);
  const end = svg("text", {x: X(n - 1) - 40, y: height - 8}); end.textContent = all[n - 1].x;
  root.append(end);
  return root;
}
