// The live layers drawn over the district map. Each layer keeps its Leaflet objects by entity id
// and updates them in place: a marker moves with setLatLng, and its icon is rebuilt only when
// what it shows (its signature) changed. Renders are batched to animation frames by the caller.

import { t, v, lang } from '/shared/i18n.js';
import { app, layer, get, pos, lineOf, ringOf, incidentPos, teamStatus, leveeName, clock } from './model.js';
import { esc, toLatLng, fmtChainage, subLine } from './util.js';
import { boardSections } from './patrol.js';
import { tracks } from './tracks.js';

const SEV_COLOUR = { general: '#d4a017', major: '#e06c00', critical: '#d0021b' };
const STATUS_COLOUR = {
  available: '#1e9e4a', assigned: '#2f6fdb', en_route: '#e0a000', on_scene: '#d0021b', off_duty: '#8a8f98',
};

/** The map layer toggles: key → {label key, default shown}. */
export const TOGGLES = [
  ['hazards', true], ['hazards_closed', false], ['teams', true], ['tracks', true], ['shelters', true],
  ['gauges', true], ['patrol', true], ['incidents', true], ['assets', true], ['evacuations', true],
  ['casualties', true], ['grid_cells', false], ['flood_zones', false],
];

const groups = {};
let L;
let map;
let canvas;

function entityAttr(layerName, id) {
  return `${layerName}:${id}`;
}

/** Markers of one layer, kept by id. */
class MarkerSet {
  constructor(group, layerName, { icon, sig, z = 0 }) {
    this.group = group;
    this.layerName = layerName;
    this.icon = icon;
    this.sig = sig;
    this.z = z;
    this.items = new Map(); // id → {marker, sig, ll}
  }

  /** entries: iterable of [id, entity, [lon, lat]]. */
  sync(entries) {
    const seen = new Set();
    for (const [id, e, p] of entries) {
      if (!p) continue;
      seen.add(id);
      const sig = this.sig(e) + '|' + lang();
      let item = this.items.get(id);
      if (!item) {
        const marker = new (flatMarkerClass())(toLatLng(p), { icon: this.icon(e, id), keyboard: false, riseOnHover: true, zIndexOffset: this.z });
        const ent = entityAttr(this.layerName, id);
        marker.on('add', () => {
          const el = marker.getElement();
          if (el) el.dataset.entity = ent;
        });
        marker.on('click', () => app.select(this.layerName, id, { fromMap: true }));
        marker.addTo(this.group);
        item = { marker, sig, p };
        this.items.set(id, item);
        continue;
      }
      if (item.p[0] !== p[0] || item.p[1] !== p[1]) {
        item.marker.setLatLng(toLatLng(p));
        item.p = p;
      }
      if (item.sig !== sig) {
        item.marker.setIcon(this.icon(e, id));
        item.sig = sig;
        const el = item.marker.getElement();
        if (el) el.dataset.entity = entityAttr(this.layerName, id);
      }
    }
    for (const [id, item] of this.items) {
      if (!seen.has(id)) {
        this.group.removeLayer(item.marker);
        this.items.delete(id);
      }
    }
  }

  element(id) {
    const item = this.items.get(id);
    return item ? item.marker.getElement() : null;
  }
}

/** Lines and polygons of one layer, kept by key. */
class PathSet {
  constructor(group, layerName, make) {
    this.group = group;
    this.layerName = layerName;
    this.make = make; // (latlngs, style) → L.Path
    this.items = new Map(); // key → {path, sig}
  }

  /** entries: iterable of {key, id, latlngs, style, sig, tooltip?}. */
  sync(entries) {
    const seen = new Set();
    for (const en of entries) {
      seen.add(en.key);
      let item = this.items.get(en.key);
      if (!item) {
        const path = this.make(en.latlngs, en.style);
        const ent = entityAttr(this.layerName, en.id);
        path.on('add', () => {
          const el = path.getElement && path.getElement();
          if (el) el.setAttribute('data-entity', ent);
        });
        path.on('click', (ev) => {
          L.DomEvent.stopPropagation(ev);
          app.select(this.layerName, en.id, { fromMap: true });
        });
        if (en.tooltip) path.bindTooltip(en.tooltip, en.tooltipOptions || { sticky: true });
        path.addTo(this.group);
        item = { path, sig: en.sig, geo: en.geoSig };
        this.items.set(en.key, item);
        continue;
      }
      if (item.geo !== en.geoSig) {
        item.path.setLatLngs(en.latlngs);
        item.geo = en.geoSig;
      }
      if (item.sig !== en.sig) {
        item.path.setStyle(en.style);
        if (en.tooltip) {
          if (item.path.getTooltip()) item.path.setTooltipContent(en.tooltip);
          else item.path.bindTooltip(en.tooltip, en.tooltipOptions || { sticky: true });
        }
        item.sig = en.sig;
      }
    }
    for (const [key, item] of this.items) {
      if (!seen.has(key)) {
        this.group.removeLayer(item.path);
        this.items.delete(key);
      }
    }
  }
}

const sets = {};

/**
 * A marker placed with left/top instead of a 3D transform. Leaflet promotes every marker it
 * places with translate3d to a compositing layer of its own; with 1,800 markers (400 teams)
 * moving in a drill, compositing them cost more than everything else on the page.
 */
let FlatMarker = null;
function flatMarkerClass() {
  if (!FlatMarker) {
    FlatMarker = L.Marker.extend({
      _setPos(pos) {
        if (this._icon) {
          this._icon._leaflet_pos = pos;
          this._icon.style.left = `${pos.x}px`;
          this._icon.style.top = `${pos.y}px`;
        }
        this._zIndex = pos.y + this.options.zIndexOffset;
        this._resetZIndex();
      },
    });
  }
  return FlatMarker;
}

export function initLayers(m) {
  L = m.L;
  map = m.map;
  canvas = L.canvas({ padding: 0.2 });
  for (const [key] of TOGGLES) groups[key] = L.layerGroup();
  // Panes keep areas below lines below points, whatever order they were drawn in.
  map.createPane('crest-areas').style.zIndex = 380;
  map.createPane('crest-lines').style.zIndex = 390;
  // Tracks change many times a second in a drill: their own pane gives them their own SVG, so
  // redrawing them does not repaint the 700 stretches of the patrol board with them.
  map.createPane('crest-tracks').style.zIndex = 395;
  const area = (pane) => (ll, style) => L.polygon(ll, { pane, ...style });
  const line = (pane) => (ll, style) => L.polyline(ll, { pane, ...style });

  sets.hazards = new MarkerSet(groups.hazards, 'hazards', { icon: hazardIcon, sig: hazardSig, z: 600 });
  sets.hazardsClosed = new MarkerSet(groups.hazards_closed, 'hazards', { icon: hazardIcon, sig: hazardSig, z: 100 });
  sets.teams = new MarkerSet(groups.teams, 'teams', { icon: teamIcon, sig: teamSig, z: 300 });
  sets.shelters = new MarkerSet(groups.shelters, 'shelters', { icon: shelterIcon, sig: shelterSig, z: 200 });
  sets.gauges = new MarkerSet(groups.gauges, 'gauges', { icon: gaugeIcon, sig: gaugeSig, z: 400 });
  sets.incidents = new MarkerSet(groups.incidents, 'incidents', { icon: incidentIcon, sig: incidentSig, z: 700 });
  sets.assetPoints = new MarkerSet(groups.assets, 'protected_assets', { icon: assetIcon, sig: assetSig, z: 50 });
  sets.casualties = new MarkerSet(groups.casualties, 'casualties', { icon: casualtyIcon, sig: casualtySig, z: 500 });
  sets.assetLines = new PathSet(groups.assets, 'protected_assets', line('crest-lines'));
  sets.tracks = new PathSet(groups.tracks, 'teams', (ll, style) => L.polyline(ll, { pane: 'crest-tracks', interactive: false, smoothFactor: 2, ...style }));
  sets.patrol = new PathSet(groups.patrol, 'patrol_sections', line('crest-lines'));
  sets.evacuations = new PathSet(groups.evacuations, 'evacuations', area('crest-areas'));
  sets.gridCells = new PathSet(groups.grid_cells, 'grid_cells', (ll, style) => L.polygon(ll, { renderer: canvas, ...style }));
  sets.floodZones = new PathSet(groups.flood_zones, 'flood_zones', (ll, style) => L.polygon(ll, { pane: 'crest-areas', ...style }));

  map.on('zoomend', () => {
    const z = map.getZoom();
    map.getContainer().classList.toggle('zoom-near', z >= 13);
    map.getContainer().classList.toggle('zoom-far', z < 11);
    map.getContainer().classList.toggle('zoom-mid', z < 13);
  });
  map.fire('zoomend');
}

export function setLayerShown(key, shown) {
  const g = groups[key];
  if (!g) return;
  if (shown && !map.hasLayer(g)) g.addTo(map);
  if (!shown && map.hasLayer(g)) map.removeLayer(g);
}

// ---- icons ----------------------------------------------------------------------------------

const CLOSED = new Set(['eliminated', 'false_alarm']);

function hazardSig(h) {
  return [h.kind, h.severity, h.status, h.levee && h.levee.chainage, h.levee && h.levee.levee_id, leveeName(h.levee && h.levee.levee_id)].join('|');
}

function hazardIcon(h, id) {
  const lv = h.levee ? esc(leveeName(h.levee.levee_id)) : '';
  const ch = h.levee ? esc(h.levee.chainage || fmtChainage(h.levee.chainage_m)) : '';
  const label = h.levee ? `<div class="hz-label"><span class="lv data">${lv}</span> <span class="ch data">${ch}</span></div>` : '';
  return L.divIcon({
    className: 'mk mk-hazard',
    iconSize: [26, 26],
    iconAnchor: [13, 13],
    html: `<div class="hz sev-${esc(h.severity)} st-${esc(h.status)}${h.kind === 'breach' ? ' breach' : ''}" title="${esc(v('hazard_kind', h.kind))}"><span class="hz-glyph">${esc(t('glyph.hazard.' + h.kind))}</span></div>${label}`,
  });
}

function teamSig(tm) {
  return [teamStatus(tm), tm.kind, tm.headcount].join('|');
}

function teamIcon(tm, id) {
  const st = teamStatus(tm);
  return L.divIcon({
    className: 'mk mk-team',
    iconSize: [22, 22],
    iconAnchor: [11, 11],
    html: `<div class="tm st-${esc(st)} k-${esc(tm.kind)}" title="${esc(tm.name)}">${esc(t('glyph.team.' + tm.kind))}</div>`,
  });
}

function decile(x) {
  if (!Number.isFinite(x)) return 0;
  return Math.max(0, Math.min(10, Math.round(x * 10)));
}

function shelterSig(s) {
  return [s.open, s.occupancy, s.capacity, s.days_of_supply_left, s.flood_safe, s.in_breach_flood_area].join('|');
}

function shelterIcon(s, id) {
  const ratio = s.capacity ? s.occupancy / s.capacity : 0;
  const lvl = ratio >= 1 ? 'full' : ratio >= 0.9 ? 'high' : 'ok';
  const days = s.days_of_supply_left;
  const daysTxt = days === null || days === undefined ? '' : t('unit.days', { n: days >= 10 ? Math.round(days) : days.toFixed(1) });
  const supply = days !== null && days !== undefined && days < 1 ? ' low-supply' : '';
  const cls = `sh ${s.open ? 'open' : 'closed'}${s.in_breach_flood_area ? ' flood' : ''}${supply}`;
  return L.divIcon({
    className: 'mk mk-shelter',
    iconSize: [34, 34],
    iconAnchor: [17, 17],
    html: `<div class="${cls}" title="${esc(s.name)}"><span class="sh-glyph">${esc(t('glyph.shelter'))}</span><span class="sh-bar"><i class="fill-${decile(ratio)} ${lvl}"></i></span><span class="sh-days">${esc(daysTxt)}</span></div>`,
  });
}

export function gaugeStage(g) {
  const l = g.last && g.last.level_m;
  const th = g.thresholds || {};
  if (l === null || l === undefined) return 'none';
  if (l >= th.guaranteed_m) return 'guaranteed';
  if (l >= th.warning_m) return 'warning';
  if (l >= th.guard_m) return 'guard';
  return 'normal';
}

function gaugeSig(g) {
  return [g.last && g.last.level_m, g.thresholds && g.thresholds.guaranteed_m].join('|');
}

function gaugeIcon(g, id) {
  const l = g.last && g.last.level_m;
  const th = g.thresholds || {};
  const lo = (th.guard_m ?? 0) - 3;
  const hi = (th.guaranteed_m ?? 10) + 1;
  const frac = l === null || l === undefined ? 0 : (l - lo) / (hi - lo);
  const val = l === null || l === undefined ? '—' : t('unit.level', { n: l.toFixed(2) });
  return L.divIcon({
    className: 'mk mk-gauge',
    iconSize: [30, 40],
    iconAnchor: [15, 20],
    html: `<div class="ga stage-${gaugeStage(g)}" title="${esc(g.name)}"><span class="ga-tube"><i class="lvl-${decile(frac)}"></i></span><span class="ga-val">${esc(val)}</span></div>`,
  });
}

function incidentSig(i) {
  return [i.headcount_on_scene, i.open, i.stage].join('|');
}

function incidentIcon(i, id) {
  const n = i.headcount_on_scene || 0;
  return L.divIcon({
    className: 'mk mk-incident',
    iconSize: [40, 24],
    iconAnchor: [20, 34],
    html: `<div class="inc" title="${esc(i.name)}"><span class="inc-flag">${esc(t('glyph.incident'))}</span><span class="inc-hc">${esc(t('unit.people', { n }))}</span></div>`,
  });
}

function assetSig(a) {
  return [a.kind, a.priority].join('|');
}

function assetIcon(a, id) {
  return L.divIcon({
    className: 'mk mk-asset',
    iconSize: [20, 20],
    iconAnchor: [10, 10],
    html: `<div class="pa k-${esc(a.kind)} p${esc(a.priority)}" title="${esc(a.name)}">${esc(t('glyph.asset.' + a.kind))}</div>`,
  });
}

function casualtySig(c) {
  return [c.kind, c.count, c.still_trapped].join('|');
}

function casualtyIcon(c, id) {
  const n = c.kind === 'trapped' ? c.still_trapped ?? c.count : c.count;
  return L.divIcon({
    className: 'mk mk-casualty',
    iconSize: [22, 22],
    iconAnchor: [11, 11],
    html: `<div class="ca k-${esc(c.kind)}${n === 0 ? ' done' : ''}" title="${esc(v('casualty_kind', c.kind))}">${esc(String(n))}</div>`,
  });
}

// ---- sync ----------------------------------------------------------------------------------

function* pointsOf(layerName, filter, where = pos) {
  for (const [id, e] of layer(layerName)) {
    if (filter && !filter(e)) continue;
    yield [id, e, where(e)];
  }
}

const ll = (coords) => coords.map(toLatLng);

/** Redraw the layers whose names are in `dirty` (a Set; '*' for all). */
export function renderLayers(dirty) {
  if (!map) return;
  const all = dirty.has('*');
  const d = (n) => all || dirty.has(n);
  if (d('hazards') || d('levees')) {
    sets.hazards.sync(pointsOf('hazards', (h) => !CLOSED.has(h.status)));
    sets.hazardsClosed.sync(pointsOf('hazards', (h) => CLOSED.has(h.status)));
  }
  if (d('teams') || d('assignments')) {
    sets.teams.sync(pointsOf('teams'));
  }
  if (d('teams') || d('tracks')) syncTracks();
  if (d('shelters')) sets.shelters.sync(pointsOf('shelters'));
  if (d('gauges')) sets.gauges.sync(pointsOf('gauges'));
  if (d('incidents') || d('hazards')) sets.incidents.sync(pointsOf('incidents', (i) => i.open !== false && !i.closed_at, incidentPos));
  if (d('casualties')) sets.casualties.sync(pointsOf('casualties'));
  if (d('protected_assets')) syncAssets();
  if (d('evacuations')) syncEvacuations();
  if (d('grid_cells') || d('evacuations')) syncGridCells();
  if (d('flood_zones') || d('hazards') || d('incidents')) syncFloodZones();
  if (d('patrol_sections') || d('levees') || d('patrol') || d('clock')) syncPatrol();
  markSelected();
}

function syncTracks() {
  const teams = layer('teams');
  const entries = [];
  for (const [id, pts] of tracks.all()) {
    if (pts.length < 2) continue;
    const tm = teams.get(id);
    if (!tm) continue;
    const st = teamStatus(tm);
    const last = pts[pts.length - 1];
    entries.push({
      key: id, id, latlngs: ll(pts), geoSig: `${pts.length}|${last[0]}|${last[1]}|${pts[0][0]}`,
      sig: st, style: { color: STATUS_COLOUR[st] || '#555', weight: 2, opacity: 0.55, dashArray: '3 4' },
    });
  }
  sets.tracks.sync(entries);
}

function syncAssets() {
  const points = [];
  const lines = [];
  for (const [id, a] of layer('protected_assets')) {
    const p = pos(a);
    if (p) { points.push([id, a, p]); continue; }
    const line = lineOf(a);
    if (line) {
      lines.push({
        key: id, id, latlngs: ll(line), geoSig: line.length + '|' + line[0],
        sig: `${a.priority}|${lang()}`, tooltip: esc(a.name),
        style: { color: '#7b2cbf', weight: a.priority === 1 ? 5 : 3, opacity: 0.75 },
      });
    }
  }
  sets.assetPoints.sync(points);
  sets.assetLines.sync(lines);
}

function syncEvacuations() {
  const entries = [];
  for (const [id, ev] of layer('evacuations')) {
    if (ev.status === 'lifted') continue;
    const ring = ringOf(ev);
    if (!ring) continue;
    const remaining = ev.remaining ?? Math.max(0, (ev.population || 0) - (ev.evacuated || 0));
    entries.push({
      key: id, id, latlngs: ll(ring), geoSig: ring.length + '|' + ring[0],
      sig: `${remaining}|${ev.population}|${lang()}`,
      style: { color: '#ff7a00', weight: 2, fillColor: '#ffb347', fillOpacity: 0.18, dashArray: '6 4' },
      tooltip: `<span class="data">${esc(ev.name)}</span><br>${esc(t('evac.remaining_of', { n: remaining, total: ev.population ?? 0 }))}`,
      tooltipOptions: { permanent: true, direction: 'center', className: 'evac-label' },
    });
  }
  sets.evacuations.sync(entries);
}

const CELL_COLOUR = { notified: '#e0c000', evacuating: '#ff7a00', clear: '#1e9e4a' };

function syncGridCells() {
  if (!map.hasLayer(groups.grid_cells) && sets.gridCells.items.size === 0) return; // drawn when first shown
  const entries = [];
  for (const [id, c] of layer('grid_cells')) {
    const ring = ringOf(c);
    if (!ring) continue;
    const st = c.report && c.report.status;
    entries.push({
      key: id, id, latlngs: ll(ring), geoSig: ring.length + '|' + ring[0],
      sig: `${st}|${lang()}`,
      style: { color: '#5b6472', weight: 0.7, fillColor: CELL_COLOUR[st] || '#9aa5b1', fillOpacity: st ? 0.3 : 0.06 },
      tooltip: `<span class="data">${esc(c.name || id)}</span><br>${esc(t('cell.population', { n: c.population ?? 0 }))}`,
    });
  }
  sets.gridCells.sync(entries);
}

export function refreshGridCells() {
  syncGridCells();
}

function breachedLevees() {
  const out = new Set();
  for (const h of layer('hazards').values()) {
    if (h.kind === 'breach' && !CLOSED.has(h.status) && h.levee) out.add(h.levee.levee_id);
  }
  for (const i of layer('incidents').values()) {
    if (i.open === false || i.closed_at) continue;
    const h = get('hazards', i.hazard_id);
    if (h && h.levee) out.add(h.levee.levee_id);
  }
  return out;
}

function syncFloodZones() {
  const breached = breachedLevees();
  const entries = [];
  for (const [id, z] of layer('flood_zones')) {
    const ring = ringOf(z);
    if (!ring) continue;
    const hot = breached.has(z.levee_id);
    entries.push({
      key: id, id, latlngs: ll(ring), geoSig: ring.length + '|' + ring[0],
      sig: `${hot}|${lang()}`,
      style: { color: hot ? '#d0021b' : '#3a7bd5', weight: 1, fillColor: hot ? '#d0021b' : '#3a7bd5', fillOpacity: hot ? 0.22 : 0.07 },
      tooltip: `<span class="data">${esc(z.name || id)}</span>${hot ? '<br>' + esc(t('flood.breached')) : ''}`,
    });
  }
  sets.floodZones.sync(entries);
}

/** Colour of a stretch by how much of its interval has gone since its last pass. */
export function stretchClass(st) {
  if (!st.required) return 'none';
  if (st.gap) return 'gap';
  if (st.ratio >= 0.75) return 'due';
  if (st.ratio >= 0.4) return 'mid';
  return 'fresh';
}

const PATROL_STYLE = {
  none: { color: '#8a8f98', weight: 3, opacity: 0.5, dashArray: null },
  fresh: { color: '#1e9e4a', weight: 5, opacity: 0.9, dashArray: null },
  mid: { color: '#9ccc3c', weight: 5, opacity: 0.9, dashArray: null },
  due: { color: '#f0a500', weight: 6, opacity: 0.95, dashArray: null },
  gap: { color: '#d0021b', weight: 8, opacity: 1, dashArray: '10 6' },
};

function syncPatrol() {
  const levees = layer('levees');
  const entries = [];
  for (const sec of boardSections()) {
    const lv = levees.get(sec.levee_id);
    const line = lineOf(lv);
    if (!line) continue;
    const origin = lv.chainage_origin_m || 0;
    for (let i = 0; i < sec.stretches.length; i++) {
      const st = sec.stretches[i];
      const cls = stretchClass(st);
      const coords = subLine(line, st.from_m - origin, st.to_m - origin);
      if (coords.length < 2) continue;
      entries.push({
        key: `${sec.id}#${i}`, id: sec.id, latlngs: ll(coords), geoSig: `${st.from_m}|${st.to_m}|${line.length}`,
        sig: `${cls}|${lang()}`, style: PATROL_STYLE[cls],
        tooltip: `<span class="data">${esc(sec.name || sec.id)}</span><br><span class="data">${esc(fmtChainage(st.from_m))}–${esc(fmtChainage(st.to_m))}</span><br>${esc(t('patrol.state.' + cls))}`,
      });
    }
  }
  sets.patrol.sync(entries);
}

// ---- selection -------------------------------------------------------------------------------

let lastSelectedEl = null;

function markSelected() {
  const s = app.selected;
  let elx = null;
  if (s) {
    const set = { hazards: [sets.hazards, sets.hazardsClosed], teams: [sets.teams], shelters: [sets.shelters], gauges: [sets.gauges], incidents: [sets.incidents], protected_assets: [sets.assetPoints], casualties: [sets.casualties] }[s.layer];
    if (set) for (const ms of set) elx = elx || ms.element(s.id);
  }
  if (lastSelectedEl && lastSelectedEl !== elx) lastSelectedEl.classList.remove('selected');
  if (elx) elx.classList.add('selected');
  lastSelectedEl = elx;
}

export function refreshSelection() {
  markSelected();
}

/** Fly to an entity. */
export function focusOn(layerName, e) {
  if (!e) return;
  const ring = ringOf(e);
  if (ring && layerName !== 'alerts') {
    map.fitBounds(L.latLngBounds(ll(ring)), { maxZoom: 15, padding: [40, 40] });
    return;
  }
  if (layerName === 'patrol_sections') {
    const lv = get('levees', e.levee_id);
    const line = lineOf(lv);
    if (line) {
      const origin = lv.chainage_origin_m || 0;
      const c = subLine(line, e.from_m - origin, e.to_m - origin);
      if (c.length >= 2) { map.fitBounds(L.latLngBounds(ll(c)), { maxZoom: 16, padding: [60, 60] }); return; }
    }
  }
  const line = pos(e) ? null : lineOf(e);
  if (line) {
    map.fitBounds(L.latLngBounds(ll(line)), { maxZoom: 14, padding: [40, 40] });
    return;
  }
  const p = layerName === 'incidents' ? incidentPos(e) : pos(e);
  if (p) map.setView(toLatLng(p), Math.max(map.getZoom(), 14), { animate: true });
}
