// A small map of the day's stops and the agent's position: Web Mercator maths, basemap tiles as plain
// <img> elements (when the server gives a tiles URL) and the points in an SVG drawn over them. No map
// library: a library would be most of the app's weight, for one static view. The points are drawn even
// without tiles (tiles off, or no network): they still say in which direction the next stop is.

const SVG = "http://www.w3.org/2000/svg";
const TILE = 256;
const MAX_ZOOM = 17;
const PAD = 22;   // pixels kept free around the points (a stop's disc must not be cut)

function project(lat, lon, zoom) {
  const scale = TILE * 2 ** zoom;
  const sin = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
  return {
    x: ((lon + 180) / 360) * scale,
    y: (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * scale,
  };
}

function fitZoom(points, width, height) {
  for (let zoom = MAX_ZOOM; zoom > 1; zoom -= 1) {
    const xy = points.map((p) => project(p.lat, p.lon, zoom));
    const w = Math.max(...xy.map((p) => p.x)) - Math.min(...xy.map((p) => p.x));
    const h = Math.max(...xy.map((p) => p.y)) - Math.min(...xy.map((p) => p.y));
    if (w <= width - 2 * PAD && h <= height - 2 * PAD) return zoom;
  }
  return 1;
}

function tileUrl(template, z, x, y) {
  return template.replace(/\{z\}/gi, z).replace(/\{x\}/gi, x).replace(/\{y\}/gi, y).replace(/\{s\}/g, "a");
}

function svgElement(name, attributes) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
  return el;
}

// stops: [{lat, lon, number, done}] in route order, position: {lat, lon} or null.
export function drawMap(container, { stops, position, tilesUrl }) {
  container.replaceChildren();
  const located = stops.filter((s) => Number.isFinite(s.lat) && Number.isFinite(s.lon));
  const points = [...located];
  if (position && Number.isFinite(position.lat) && Number.isFinite(position.lon)) points.push(position);
  const count = `${located.length} visite${located.length > 1 ? "s" : ""}`;
  container.setAttribute("aria-label", `Carte : ${count}${position ? " et votre position" : ""}`);
  if (points.length === 0) {
    const empty = document.createElement("p");
    empty.className = "map-empty";
    empty.textContent = "Aucune position à afficher.";
    container.append(empty);
    return;
  }
  const width = container.clientWidth || 328;
  const height = container.clientHeight || 200;
  const zoom = points.length === 1 ? 15 : fitZoom(points, width, height);
  const xy = points.map((p) => project(p.lat, p.lon, zoom));
  const cx = (Math.min(...xy.map((p) => p.x)) + Math.max(...xy.map((p) => p.x))) / 2;
  const cy = (Math.min(...xy.map((p) => p.y)) + Math.max(...xy.map((p) => p.y))) / 2;
  const left = cx - width / 2;
  const top = cy - height / 2;

  if (tilesUrl) {
    const layer = document.createElement("div");
    layer.className = "map-tiles";
    const last = 2 ** zoom - 1;
    for (let tx = Math.floor(left / TILE); tx <= Math.floor((left + width) / TILE); tx += 1) {
      for (let ty = Math.floor(top / TILE); ty <= Math.floor((top + height) / TILE); ty += 1) {
        if (tx < 0 || ty < 0 || tx > last || ty > last) continue;
        const img = document.createElement("img");
        img.alt = "";   // decorative: the points and the list say everything
        img.width = TILE;
        img.height = TILE;
        img.decoding = "async";
        img.style.left = `${Math.round(tx * TILE - left)}px`;
        img.style.top = `${Math.round(ty * TILE - top)}px`;
        img.addEventListener("error", () => img.remove());   // offline: the points stay readable
        img.src = tileUrl(tilesUrl, zoom, tx, ty);
        layer.append(img);
      }
    }
    container.append(layer);
    if (/openstreetmap\.org/.test(tilesUrl)) {
      const credit = document.createElement("small");
      credit.className = "map-credit";
      credit.textContent = "© contributeurs OpenStreetMap";
      container.append(credit);
    }
  }

  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, width, height, "aria-hidden": "true" });
  const at = (p) => {
    const q = project(p.lat, p.lon, zoom);
    return { x: q.x - left, y: q.y - top };
  };
  if (located.length > 1) {
    const route = located.map((s) => { const q = at(s); return `${q.x.toFixed(1)},${q.y.toFixed(1)}`; }).join(" ");
    svg.append(svgElement("polyline", { points: route, class: "map-route" }));
  }
  for (const stop of [...located].reverse()) {   // the next stops drawn last, on top
    const q = at(stop);
    const group = svgElement("g", { class: stop.done ? "map-stop done" : "map-stop" });
    group.append(svgElement("circle", { cx: q.x, cy: q.y, r: 11 }));
    const text = svgElement("text", { x: q.x, y: q.y + 4, "text-anchor": "middle" });
    text.textContent = String(stop.number);
    group.append(text);
    svg.append(group);
  }
  if (position) {
    const q = at(position);
    svg.append(svgElement("circle", { cx: q.x, cy: q.y, r: 8, class: "map-me" }));
  }
  container.append(svg);
}
