// The base map: the district's own layers (public, `GET /api/v1/map/{name}`) drawn with Leaflet.
// Command posts often reach no tile server, so these layers are the whole background: the
// district outline, towns, the river and its water, levees, railway and roads, village names.

import * as L from '/vendor/leaflet/leaflet-src.esm.js';

const STYLES = {
  district: { color: '#5b6b7a', weight: 2, fill: true, fillColor: '#eef1ec', fillOpacity: 0.6, dashArray: '6 4' },
  towns: { color: '#8a97a3', weight: 1, fill: true, fillColor: '#f7f8f4', fillOpacity: 0.25 },
  water: { color: '#5b9bd5', weight: 1, fill: true, fillColor: '#9cc3e6', fillOpacity: 0.75 },
  rivers: { color: '#3d7fc1', weight: 3 },
  roads: { color: '#c9a86a', weight: 2 },
  railways: { color: '#444', weight: 3, dashArray: '8 6' },
};

const BASE_LAYERS = ['district', 'towns', 'water', 'rivers', 'roads', 'railways'];

async function layerJson(name) {
  const r = await fetch(`/api/v1/map/${name}`, { headers: { Accept: 'application/geo+json' } });
  if (!r.ok) return null;
  return r.json();
}

/**
 * Draws the base map in `element`. Returns `{map, L, bounds, panes}`.
 * Options: `minimal` (field app: no village labels), `zoomControl`.
 */
export async function baseMap(element, { minimal = false, zoomControl = true } = {}) {
  const map = L.map(element, {
    zoomControl,
    attributionControl: false,
    preferCanvas: false,
    zoomSnap: 0.25,
    worldCopyJump: false,
  });
  map.createPane('base');
  map.getPane('base').style.zIndex = 250;
  map.createPane('areas');
  map.getPane('areas').style.zIndex = 350;
  map.createPane('lines');
  map.getPane('lines').style.zIndex = 420;
  map.createPane('labels');
  map.getPane('labels').style.zIndex = 380;
  map.getPane('labels').style.pointerEvents = 'none';

  const loaded = await Promise.all(BASE_LAYERS.map((n) => layerJson(n).catch(() => null)));
  let bounds = null;
  loaded.forEach((fc, i) => {
    if (!fc) return;
    const name = BASE_LAYERS[i];
    const layer = L.geoJSON(fc, { pane: 'base', style: () => STYLES[name], interactive: false });
    layer.addTo(map);
    if (name === 'district') bounds = layer.getBounds();
  });
  if (!minimal) {
    const [towns, villages] = await Promise.all([
      layerJson('towns').catch(() => null),
      layerJson('villages').catch(() => null),
    ]);
    const labels = L.layerGroup([], { pane: 'labels' });
    for (const f of towns?.features || []) {
      const c = L.geoJSON(f).getBounds().getCenter();
      labels.addLayer(
        L.marker(c, {
          pane: 'labels',
          interactive: false,
          keyboard: false,
          icon: L.divIcon({ className: 'map-label town-label data', html: escapeHtml(f.properties.name), iconSize: null }),
        }),
      );
    }
    const villageLabels = L.layerGroup([], { pane: 'labels' });
    for (const f of villages?.features || []) {
      const [lon, lat] = f.geometry.coordinates;
      villageLabels.addLayer(
        L.marker([lat, lon], {
          pane: 'labels',
          interactive: false,
          keyboard: false,
          icon: L.divIcon({ className: 'map-label village-label data', html: escapeHtml(f.properties.name), iconSize: null }),
        }),
      );
    }
    labels.addTo(map);
    const showVillages = () => {
      if (map.getZoom() >= 12.5) villageLabels.addTo(map);
      else villageLabels.remove();
    };
    map.on('zoomend', showVillages);
    showVillages();
  }
  if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [10, 10] });
  else map.setView([27.6, 113.1], 11);
  return { map, L, bounds };
}

/** `[lon, lat]` (GeoJSON order, as on the wire) to Leaflet's `[lat, lon]`. */
export function ll(p) {
  return [p[1], p[0]];
}

export function escapeHtml(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

export { L };
