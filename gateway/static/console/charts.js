// Hand-drawn SVG charts: horizontal bars (with an optional marker line) and a line with a band.
"use strict";
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// rows: [{label, value}] with value in [min, max]; marker: value(s) drawn as dashed lines.
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
  for (const m of [].concat(marker ?? [])) root.append(svg("line", {x1: x(m), x2: x(m), y1: 0,
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

// series: [{name, points: [{t (unix s), y}]}] over time on a fixed [min, max] scale; lines:
// [{value, label, cls}] drawn across (thresholds). One colour per series, named in a legend.
const COLOURS = ["#1d3557", "#e76f51", "#2a9d8f", "#8d5fd3", "#6c757d"];
function timeChart(series, {min = 0, max = 1, lines = [], width = 700, height = 260} = {}) {
  const pad = 44, right = 100, ts = series.flatMap(s => s.points.map(p => p.t));
  const t0 = Math.min(...ts), t1 = Math.max(...ts);
  const X = t => pad + (t1 > t0 ? (t - t0) / (t1 - t0) : 0.5) * (width - pad - right);
  const Y = v => height - pad - (v - min) / (max - min) * (height - 2 * pad);
  const root = svg("svg", {width, height, class: "chart time"});
  const text = (x, y, content, attrs = {}) => {
    const t = svg("text", {x, y, ...attrs}); t.textContent = content; root.append(t);
  };
  root.append(svg("line", {x1: pad, x2: pad, y1: Y(max), y2: Y(min), stroke: "#999"}));
  root.append(svg("line", {x1: pad, x2: width - right, y1: Y(min), y2: Y(min), stroke: "#999"}));
  text(4, Y(min) + 4, String(min)); text(4, Y(max) + 4, String(max));
  for (const line of lines) {
    root.append(svg("line", {x1: pad, x2: width - right, y1: Y(line.value), y2: Y(line.value),
                             class: `threshold ${line.cls || ""}`}));
    text(width - right + 4, Y(line.value) + 4, `${line.label} ${line.value}`);
  }
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const points = s.points.map(p => `${X(p.t)},${Y(p.y)}`).join(" ");
    root.append(svg("polyline", {points, class: "score", stroke: colour}));
    for (const p of s.points.slice(-1)) root.append(svg("circle", {cx: X(p.t), cy: Y(p.y), r: 3, fill: colour}));
    text(pad + 8 + i * 160, 14, `— ${s.name}`, {fill: colour});
  });
  const clock = t => new Date(t * 1000).toLocaleTimeString();
  if (ts.length) { text(pad, height - 12, clock(t0)); text(width - right - 60, height - 12, clock(t1)); }
  return root;
}
