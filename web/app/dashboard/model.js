// What the dashboard reads: the live state or, during an after-action review, the review's state,
// and the few derived facts every panel needs (positions, names, the space's clock). Entities
// arrive from the WebSocket snapshot (fields as in protocol §3) or re-read over HTTP as GeoJSON
// features (geometry apart): the accessors here accept both.

import { fmtChainage, centroid } from './util.js';

export const LAYERS = [
  'levees', 'hazards', 'teams', 'assignments', 'shelters', 'gauges', 'response', 'evacuations',
  'grid_cells', 'patrol_sections', 'alerts', 'protected_assets', 'incidents', 'casualties',
  'flood_zones', 'journal',
];

export const app = {
  conn: null,
  map: null, // {map, L, bounds}
  reviewing: false,
  district: { id: null, name: '' },
  selected: null, // {layer, id}
  /** Hooks other modules fill in. */
  select: () => {},
  invalidate: () => {},
};

const EMPTY = new Map();

/** The state shown now: the review's while reviewing, else the live one. */
export function src() {
  if (app.reviewing && app.conn && app.conn.reviewState) return app.conn.reviewState;
  return app.conn ? app.conn.state : null;
}

/** The entities of a layer: a Map(id → entity). */
export function layer(name) {
  const s = src();
  const l = s && s.layers && s.layers[name];
  return l || EMPTY;
}

export function get(layerName, id) {
  return id === null || id === undefined ? undefined : layer(layerName).get(id);
}

function geomCoords(e, type) {
  const g = e && e.geometry;
  if (!g || !g.coordinates) return null;
  if (type && g.type !== type) return null;
  return g.coordinates;
}

/** A point entity's [lon, lat], or null. */
export function pos(e) {
  if (!e) return null;
  if (Array.isArray(e.position)) return e.position;
  if (e.fix && Array.isArray(e.fix.position)) return e.fix.position;
  if (e.place && e.place.shape === 'point' && Array.isArray(e.place.position)) return e.place.position;
  if (e.post && Array.isArray(e.post.position)) return e.post.position;
  return geomCoords(e, 'Point');
}

/** A line entity's [[lon, lat]…] (levees, linear assets). */
export function lineOf(e) {
  if (!e) return null;
  if (Array.isArray(e.line)) return e.line;
  if (e.place && e.place.shape === 'line') {
    const c = e.place.course;
    if (c && Array.isArray(c.line)) return c.line;
    if (Array.isArray(c)) return c;
  }
  if (e.course && Array.isArray(e.course.line)) return e.course.line;
  return geomCoords(e, 'LineString');
}

/** A polygon entity's outer ring (grid cells, evacuation zones, flood zones). */
export function ringOf(e) {
  if (!e) return null;
  if (Array.isArray(e.ring)) return e.ring;
  if (Array.isArray(e.zone)) return e.zone;
  const c = geomCoords(e, 'Polygon');
  return c ? c[0] : null;
}

/** Where an incident is: its command post, else its hazard. */
export function incidentPos(inc) {
  if (!inc) return null;
  if (inc.post && inc.post.position) return inc.post.position;
  const p = geomCoords(inc, 'Point');
  if (p) return p;
  return pos(get('hazards', inc.hazard_id));
}

/** A point to focus on for any entity. */
export function focusPoint(layerName, e) {
  if (!e) return null;
  if (layerName === 'incidents') return incidentPos(e);
  if (layerName === 'alerts') return focusPoint(e.layer, get(e.layer, e.subject_id));
  const p = pos(e);
  if (p) return p;
  const r = ringOf(e);
  if (r) return centroid(r);
  const l = lineOf(e);
  if (l) return l[Math.floor(l.length / 2)];
  return null;
}

export function leveeName(id) {
  const l = get('levees', id);
  return l ? l.name : id || '';
}

/** "湘江东岸大堤朱亨段 K51+762" for a hazard on a levee. */
export function hazardPlace(h) {
  if (!h || !h.levee) return '';
  const ch = h.levee.chainage || fmtChainage(h.levee.chainage_m);
  return `${leveeName(h.levee.levee_id)} ${ch}`.trim();
}

/** The display title of an entity (data, not a label). */
export function entityName(layerName, id) {
  const e = get(layerName, id);
  if (!e) return id || '';
  switch (layerName) {
    case 'hazards': return `${id} ${hazardPlace(e)}`.trim();
    case 'response': return e.jurisdiction === app.district.id ? app.district.name || id : e.jurisdiction;
    default: return e.name || id;
  }
}

export function teamStatus(tm) {
  if (!tm) return 'off_duty';
  if (tm.status) return tm.status;
  if (tm.on_duty === false) return 'off_duty';
  const a = tm.assignment && get('assignments', tm.assignment);
  if (!a) return 'available';
  return ({ proposed: 'assigned', accepted: 'assigned', en_route: 'en_route', on_scene: 'on_scene' })[a.state] || 'available';
}

/** The district response level now (or null). */
export function districtResponse() {
  const r = layer('response');
  if (app.district.id && r.get(app.district.id)) return r.get(app.district.id);
  let best = null;
  for (const e of r.values()) if (!best) best = e;
  return best;
}

// ---- the space's clock ------------------------------------------------------------------------
// A drill's clock is its scenario's, which can run many times faster than real time: the
// dashboard follows the times the server tells it (event times, `now_ms` of patrol answers) and
// runs between them at the rate it last saw.

const clockState = { base: Date.now(), at: Date.now(), rate: 1, samples: [], drill: false };

export const clock = {
  /** A drill's clock runs at the drill's speed, measured here; the live space's is real time. */
  setDrill(isDrill) {
    clockState.drill = !!isDrill;
    if (!isDrill) clockState.rate = 1;
  },
  /** Tell the clock a moment of the server's (ms), seen now. */
  sync(serverMs) {
    if (typeof serverMs !== 'number' || !Number.isFinite(serverMs)) return;
    const real = Date.now();
    const s = clockState.samples;
    s.push([real, serverMs]);
    while (s.length > 2 && real - s[0][0] > 60000) s.shift();
    if (clockState.drill && s.length >= 2 && real - s[0][0] > 3000) {
      const rate = (serverMs - s[0][1]) / (real - s[0][0]);
      clockState.rate = Math.max(1, Math.min(100000, rate));
    }
    // Never run backwards because of one late event.
    if (serverMs > clock.now() || Math.abs(serverMs - clock.now()) > 60000 * clockState.rate) {
      clockState.base = serverMs;
      clockState.at = real;
    }
  },
  /** How many server milliseconds pass per real millisecond (a drill's speed; 1 live). */
  rate() {
    if (app.reviewing && app.reviewSpeed) return app.reviewSpeed();
    return clockState.rate;
  },
  /** The live space's clock now. */
  liveNow() {
    const since = Date.now() - clockState.at;
    // A drill can be paused: between the server's words its clock is not run ahead more than 5 s.
    return clockState.base + (clockState.drill ? Math.min(since, 5000) : since) * clockState.rate;
  },
  /** The moment shown: the review's clock while reviewing. */
  now() {
    if (app.reviewing && app.reviewClock) return app.reviewClock();
    return clock.liveNow();
  },
};
