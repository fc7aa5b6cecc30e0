// Small SVG charts for the explorer, drawn here (no library): a line over days, bars, a pie, a layered graph.
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#3d5afe", "#00a389", "#ff8f00", "#d81b60", "#8e24aa", "#546e7a", "#43a047", "#f4511e"];

  function el(tag, attrs = {}, text) {
    const node = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function svg(width, height, label) {
    return el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  }

  function niceMax(value) {
    if (value <= 0) return 1;
    const step = 10 ** Math.floor(Math.log10(value));
    return Math.ceil(value / step) * step;
  }

  // points: [{label, value}] in order; one line with dots, the y axis from 0.
  function line(points, { label = "", unit = "" } = {}) {
    const width = 360, height = 180, left = 40, bottom = 28, top = 10, right = 10;
    const root = svg(width, height, label);
    const max = niceMax(Math.max(0, ...points.map((p) => p.value)));
    const x = (i) => left + (points.length <= 1 ? (width - left - right) / 2 : (i * (width - left - right)) / (points.length - 1));
    const y = (v) => height - bottom - (v / max) * (height - bottom - top);
    root.append(el("line", { class: "axis", x1: left, y1: y(0), x2: width - right, y2: y(0) }));
    root.append(el("line", { class: "axis", x1: left, y1: top, x2: left, y2: y(0) }));
    root.append(el("text", { x: left - 4, y: top + 8, "text-anchor": "end" }, max + unit));
    root.append(el("text", { x: left - 4, y: y(0), "text-anchor": "end" }, "0"));
    if (points.length) {
      root.append(el("polyline", { class: "series", points: points.map((p, i) => `${x(i)},${y(p.value)}`).join(" ") }));
      points.forEach((p, i) => {
        const dot = el("circle", { cx: x(i), cy: y(p.value), r: 3, fill: COLORS[0] });
        dot.append(el("title", {}, `${p.label}: ${p.value}${unit}`));
        root.append(dot);
      });
      root.append(el("text", { x: x(0), y: height - 8, "text-anchor": "start" }, points[0].label));
      if (points.length > 1) root.append(el("text", { x: x(points.length - 1), y: height - 8, "text-anchor": "end" }, points[points.length - 1].label));
    }
    return root;
  }

  // bars: [{label, value}], horizontal, labelled.
  function bars(items, { label = "", unit = "" } = {}) {
    const rowHeight = 26, width = 360, labelWidth = 130;
    const height = Math.max(1, items.length) * rowHeight + 6;
    const root = svg(width, height, label);
    const max = Math.max(1, ...items.map((item) => item.value));
    items.forEach((item, i) => {
      const top = 3 + i * rowHeight;
      const length = ((width - labelWidth - 50) * item.value) / max;
      root.append(el("text", { x: labelWidth - 6, y: top + 16, "text-anchor": "end" }, item.label.length > 20 ? item.label.slice(0, 19) + "…" : item.label));
      const bar = el("rect", { class: "bar", x: labelWidth, y: top + 4, width: Math.max(1, length), height: rowHeight - 10 });
      bar.append(el("title", {}, `${item.label}: ${item.value}${unit}`));
      root.append(bar);
      root.append(el("text", { x: labelWidth + length + 5, y: top + 16 }, item.value + unit));
    });
    return root;
  }

  // slices: [{label, value}] as a pie, with a legend returned alongside.
  function pie(slices, { label = "" } = {}) {
    const size = 160, r = 70, c = size / 2;
    const root = svg(size, size, label);
    root.setAttribute("class", "pie");
    const total = slices.reduce((sum, s) => sum + s.value, 0) || 1;
    let angle = -Math.PI / 2;
    slices.forEach((slice, i) => {
      const sweep = (2 * Math.PI * slice.value) / total;
      let shape;
      if (sweep >= 2 * Math.PI - 1e-9) {
        shape = el("circle", { cx: c, cy: c, r, fill: COLORS[i % COLORS.length] });
      } else {
        const [x1, y1] = [c + r * Math.cos(angle), c + r * Math.sin(angle)];
        const [x2, y2] = [c + r * Math.cos(angle + sweep), c + r * Math.sin(angle + sweep)];
        shape = el("path", { d: `M${c},${c} L${x1},${y1} A${r},${r} 0 ${sweep > Math.PI ? 1 : 0} 1 ${x2},${y2} Z`, fill: COLORS[i % COLORS.length] });
      }
      shape.append(el("title", {}, `${slice.label}: ${((100 * slice.value) / total).toFixed(1)}%`));
      root.append(shape);
      angle += sweep;
    });
    const legend = document.createElement("div");
    legend.className = "legend";
    slices.forEach((slice, i) => {
      const entry = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = COLORS[i % COLORS.length];
      entry.append(swatch, `${slice.label} ${((100 * slice.value) / total).toFixed(1)}%`);
      legend.append(entry);
    });
    return [root, legend];
  }

  // nodes: [{id, label, kind, layer, href}], edges: [[fromId, toId]]; layers left to right.
  function graph(nodes, edges, { label = "" } = {}) {
    const layers = [...new Set(nodes.map((n) => n.layer))].sort((a, b) => a - b);
    const boxW = 150, boxH = 34, gapX = 60, gapY = 14;
    const columns = layers.map((layer) => nodes.filter((n) => n.layer === layer));
    const rows = Math.max(1, ...columns.map((col) => col.length));
    const width = layers.length * boxW + (layers.length - 1) * gapX + 8;
    const height = rows * (boxH + gapY) + 8;
    const root = svg(width, height, label);
    const at = new Map();
    columns.forEach((col, ci) => {
      const offset = ((rows - col.length) * (boxH + gapY)) / 2;
      col.forEach((n, ri) => at.set(n.id, { x: 4 + ci * (boxW + gapX), y: 4 + offset + ri * (boxH + gapY) }));
    });
    for (const [from, to] of edges) {
      const a = at.get(from), b = at.get(to);
      if (!a || !b) continue;
      const [x1, y1, x2, y2] = [a.x + boxW, a.y + boxH / 2, b.x, b.y + boxH / 2];
      root.append(el("path", { class: "edge", d: `M${x1},${y1} C${x1 + gapX / 2},${y1} ${x2 - gapX / 2},${y2} ${x2},${y2}` }));
    }
    for (const n of nodes) {
      const { x, y } = at.get(n.id);
      const group = el("g", { class: `node ${n.kind}` });
      group.append(el("rect", { x, y, width: boxW, height: boxH }));
      group.append(el("text", { x: x + 8, y: y + 14, "font-size": 10, fill: "#6b7385" }, n.kind));
      group.append(el("text", { x: x + 8, y: y + 27 }, n.label.length > 22 ? n.label.slice(0, 21) + "…" : n.label));
      group.append(el("title", {}, n.label));
      if (n.href) {
        const link = el("a", { href: n.href });
        link.append(group);
        root.append(link);
      } else {
        root.append(group);
      }
    }
    return root;
  }

  return { line, bars, pie, graph, COLORS };
})();
