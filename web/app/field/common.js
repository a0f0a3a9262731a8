// What every part of the field app shares: the app's state, its constants, reading the layers
// (live, or the copy kept on the device), small DOM helpers, and commands and targets in words.
import { lang, t, v } from '/shared/i18n.js';
import { fmtChainage, entityPosition, pointAlong } from './geo.js';

export const APP = 'field';
// What each role subscribes to. Large layers that many events touch (the patrol board, the grid
// cells) would be re-read whole over a weak mobile link again and again: a team reads its own
// patrol sections by itself (patrol.js); only a grid worker takes the grid cells, which are theirs.
const LAYERS_TEAM = ['teams', 'assignments', 'hazards', 'shelters', 'evacuations', 'levees'];
const LAYERS_GRID = ['hazards', 'shelters', 'evacuations', 'levees', 'grid_cells'];
export const KEPT_LAYERS = [...new Set([...LAYERS_TEAM, ...LAYERS_GRID, 'patrol_sections'])];
export const layersFor = (auth) => (auth && auth.role === 'grid_worker' ? LAYERS_GRID : LAYERS_TEAM);
export const HAZARD_KINDS = ['piping', 'seepage', 'leak', 'slope_slide', 'bank_collapse', 'sinkhole', 'crack', 'overtopping', 'breach'];
export const SEVERITIES = ['general', 'major', 'critical'];
export const ASG_STEPS = ['proposed', 'accepted', 'en_route', 'on_scene', 'completed'];
export const ASG_BUTTONS = { accepted: 'asg-accept', en_route: 'asg-en-route', on_scene: 'asg-on-scene', completed: 'asg-done' };
export const ASG_LABELS = { accepted: 'asg.accept', en_route: 'asg.en_route', on_scene: 'asg.on_scene', completed: 'asg.done' };
export const CLOSED_HAZARD = new Set(['eliminated', 'false_alarm']);
export const ACTIVE_ASG = new Set(['proposed', 'accepted', 'en_route', 'on_scene']);
// Refusals by the server's rules: the command will not pass as it is. Every other failure
// (no connection, `unavailable`, `rate_limited`, a token not yet authenticated …) keeps it waiting.
export const REFUSAL_CODES = new Set([
  'malformed_json', 'invalid_number', 'invalid_message', 'missing_field', 'unknown_field', 'invalid_field',
  'invalid_coordinates', 'unknown_message', 'unknown_command', 'invalid_request_id', 'unsupported_frame',
  'frame_too_large', 'command_id_conflict', 'forbidden', 'not_found', 'already_exists', 'illegal_transition',
  'not_an_escalation', 'team_busy', 'team_off_duty', 'shelter_closed', 'over_capacity', 'occupancy_underflow',
  'insufficient_stock', 'over_population', 'no_active_order', 'exceeds_shipment', 'shelter_in_flood_area',
  'invalid_value',
]);
export const LS_AUTH = 'crest.field.auth';
export const LS_DARK = 'crest.field.dark';
export const LS_REPORT = 'crest.field.last_report';

export const $ = (sel, root = document) => root.querySelector(sel);
export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
// Separators and colons carry no words: a dot drawn by CSS, a colon that follows the language.
export const SEP = '<span class="sep" aria-hidden="true"></span>';
export const lbl = (key) => t(key) + (lang() === 'zh' ? '：' : ': ');
export const d = (s, cls = '') => `<span class="data${cls ? ' ' + cls : ''}">${esc(s)}</span>`;

export const app = {
  token: null,
  fp: '',
  conn: null,
  haveSnapshot: false,
  status: 'connecting',
  statusInfo: null,
  // The server said it cannot write its log (`status` message): shown, actions kept.
  serverStale: false,
  auth: null,
  cache: null, // {savedAt, layers: {name: Map}}
  fix: null,
  geoState: 'none',
  queue: [], // outbox items
  acked: [], // acknowledged commands the layers may not show yet ({command, seq, at})
  sending: new Set(),
  flushing: false,
  flushAgain: false,
  report: null, // {cmdId, created, kind, severity, state, error}
  reportKind: null,
  nearbyServer: null, // {at, point, shelters}
  map: null, // {map, L, group, …} once the small map is drawn
  manualPos: null, // a place tapped on the map for a report without a GPS fix
  pos: null, // the PositionSender
  patrol: null, // the PatrolWatch
  posToastAt: 0,
};


// The clock of the token's space: a drill's scenario runs in its own time (2019 in July's
// replay), the live space in the server's; patrols, shifts and "5 min ago" are on that clock.
export function spaceNow() {
  return app.conn && typeof app.conn.nowMs === 'function' ? app.conn.nowMs() : Date.now();
}

export function shownStatus() {
  if (app.status === 'closed') return 'closed';
  if (navigator.onLine === false) return 'offline';
  // Connected, but the server cannot record anything right now.
  if (app.serverStale && (app.status === 'open' || app.status === 'resynced')) return 'stale';
  return app.status;
}

export function connReady() {
  // The browser's word counts too: a socket that outlived the network must not swallow actions.
  return !!app.conn && (app.status === 'open' || app.status === 'resynced') && navigator.onLine !== false;
}

export function layer(name) {
  if (name === 'patrol_sections' && app.patrol && app.patrol.sections.size) return app.patrol.sections;
  if (app.conn && app.haveSnapshot && app.conn.state && app.conn.state.layers[name]) return app.conn.state.layers[name];
  return (app.cache && app.cache.layers[name]) || new Map();
}

export function usingCache() {
  return !(app.conn && app.haveSnapshot) && !!app.cache;
}

export function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { const e = new Error('timeout'); e.code = 'timeout'; reject(e); }, ms);
    promise.then((x) => { clearTimeout(timer); resolve(x); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

export function errFields(err) {
  return { code: err.code || '', message: err.message_en || err.message || '', message_zh: err.message_zh || '' };
}

export function errText(err) {
  if (!err) return '';
  const f = err.message_zh !== undefined || err.message_en !== undefined ? errFields(err) : err;
  return (lang() === 'zh' ? f.message_zh || f.message : f.message || f.message_zh) || f.code || '';
}

export function waiting() { return app.queue.filter((i) => i.state === 'waiting'); }

/**
 * Commands acknowledged but not yet visible in the layer they change (the connection re-reads a
 * layer a moment after its events): drawing them as done until then keeps a second tap from
 * sending the same step again under a new id.
 */
export function ackedNotSeen(layerName) {
  const seen = (app.conn && app.conn.state && app.conn.state.layerSeq && app.conn.state.layerSeq[layerName]) || 0;
  app.acked = (app.acked || []).filter((a) => Date.now() - a.at < 60000);
  return app.acked.filter((a) => a.seq > seen).map((a) => ({ command: a.command }));
}


export function describe(c) {
  switch (c.type) {
    case 'report_hazard': return t('q.report_hazard', { kind: v('hazard_kind', c.kind), severity: v('severity', c.severity) });
    case 'check_in': return t('q.check_in', { count: c.count, shelter: entityName('shelters', c.shelter_id) });
    case 'check_out': return t('q.check_out', { count: c.count, shelter: entityName('shelters', c.shelter_id) });
    case 'advance_assignment': return t('q.advance_assignment', { id: c.assignment_id, state: v('assignment_state', c.to) });
    case 'cancel_assignment': return t('q.cancel_assignment', { id: c.assignment_id });
    case 'set_team_duty': return t(c.on_duty ? 'q.duty_on' : 'q.duty_off');
    case 'check_in_patrol_point': return t('q.check_in_patrol_point', { point: pointName(c.section_id, c.point_id) });
    case 'report_cell_status': return t('q.report_cell_status', { cell: entityName('grid_cells', c.cell_id), status: v('cell_status', c.status) });
    case 'record_self_evacuation': return t('q.record_self_evacuation', { count: c.count, cell: entityName('grid_cells', c.cell_id) });
    default: return t('q.other', { type: c.type });
  }
}

function entityName(layerName, id) {
  const e = layer(layerName).get(id);
  return (e && e.name) || id;
}

function pointName(sectionId, pointId) {
  const s = layer('patrol_sections').get(sectionId);
  const p = s && (s.points || []).find((x) => x.id === pointId);
  return (p && (p.name || fmtChainage(p.chainage_m))) || pointId;
}

export function targetText(target) {
  if (!target) return '';
  switch (target.kind) {
    case 'hazard': {
      const h = layer('hazards').get(target.hazard_id);
      const where = h && h.levee ? ` ${h.levee.levee_id} ${h.levee.chainage}` : '';
      return `${t('asg.t.hazard')} ${target.hazard_id}${h ? ' ' + v('hazard_kind', h.kind) : ''}${where}`;
    }
    case 'patrol_stretch': return `${t('asg.t.patrol_stretch')} ${target.levee_id} ${fmtChainage(target.from_m)}–${fmtChainage(target.to_m)}`;
    case 'evacuation_zone': return `${t('asg.t.evacuation_zone')} ${entityName('evacuations', target.evacuation_id)}`;
    case 'shelter': return `${t('asg.t.shelter')} ${entityName('shelters', target.shelter_id)}`;
    case 'trapped': return `${t('asg.t.trapped')} ${target.casualty_id}`;
    default: return target.kind || '';
  }
}

export function targetPosition(target) {
  if (!target) return null;
  if (target.kind === 'hazard') return entityPosition(layer('hazards').get(target.hazard_id));
  if (target.kind === 'shelter') return entityPosition(layer('shelters').get(target.shelter_id));
  if (target.kind === 'patrol_stretch') {
    const lv = layer('levees').get(target.levee_id);
    return lv ? pointAlong(lv.line, (target.from_m + target.to_m) / 2, lv.chainage_origin_m || 0) : null;
  }
  return null;
}


// Set innerHTML only when it changed, so that a render never replaces a button under a finger.
export function setHtml(el, html) {
  if (!el) return;
  if (el._html !== html) { el.innerHTML = html; el._html = html; }
}

export function fmtDist(m) {
  if (!Number.isFinite(m)) return '';
  if (m < 1000) return t('unit.m', { n: Math.round(m) });
  return t('unit.km', { n: (m / 1000).toFixed(m < 10000 ? 1 : 0) });
}

export function targetHtml(target) {
  if (!target) return '';
  const label = `<span>${esc(t('asg.t.' + target.kind))}</span>`;
  switch (target.kind) {
    case 'hazard': {
      const h = layer('hazards').get(target.hazard_id);
      const kind = h ? ` <span>${esc(v('hazard_kind', h.kind))}</span> <span>${esc(v('severity', h.severity))}</span>` : '';
      const where = h && h.levee ? ` ${d(`${h.levee.levee_id} ${h.levee.chainage}`)} <span>${esc(v('bank_side', h.levee.side))}</span>` : '';
      return `${label} ${d(target.hazard_id)}${kind}${where}`;
    }
    case 'patrol_stretch': {
      const lv = layer('levees').get(target.levee_id);
      return `${label} ${d(lv ? lv.name : target.levee_id)} ${d(`${fmtChainage(target.from_m)}–${fmtChainage(target.to_m)}`)}`;
    }
    case 'evacuation_zone': return `${label} ${d(entityName('evacuations', target.evacuation_id))}`;
    case 'shelter': return `${label} ${d(entityName('shelters', target.shelter_id))}`;
    case 'trapped': return `${label} ${d(target.casualty_id)}`;
    default: return d(target.kind);
  }
}

// People of an order's cell still to move: at risk minus those who left (each way counted once).
export function cellRemaining(c) {
  const left = c.left && typeof c.left === 'object'
    ? Object.values(c.left).reduce((a, n) => a + (Number(n) || 0), 0) : Number(c.left) || 0;
  return Math.max(0, (c.at_risk || 0) - left);
}

// A wet finger taps twice: the same action within a second is taken once.
const lastTap = {};
export function firstTap(key) {
  const now = Date.now();
  if (now - (lastTap[key] || 0) < 1000) return false;
  lastTap[key] = now;
  return true;
}

// Which token the kept data belongs to, without keeping the token twice.
export function fingerprint(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  return h.toString(16);
}

let toastTimer = null;
export function toast(text, kind = '') {
  const el = $('#toast');
  if (!el) return;
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}
