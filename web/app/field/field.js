// The field app: a rescue or patrol team's tablet (or a grid worker's phone) on the levee.
//
// Hooks for tests (besides those of web-plan.md): `body[data-sw]` (`ready` once the service worker
// controls the page), `#gps[data-state]` (`none`, `fix`, `denied`, `unsupported`),
// `#report-result[data-state]` (`queued`, `sending`, `acked`, `placed`, `off_levee`, `refused`)
// with `data-hazard-id`, `#assignment[data-state][data-assignment-id]` and `#asg-decline`,
// `#duty-toggle[data-on-duty]`, `#patrol li[data-point-id][data-section-id][data-passed]`
// (`data-pending` while the check-in waits) with `.point-checkin`, `#nearby li[data-kind]
// [data-entity]`, `#checkout-send`, `#checkin-msg[data-kind]`, `#queue-list li[data-id]
// [data-state][data-type]`, `#refused-list li[data-code]` with `.retry` and `.discard`,
// `#grid-cells li[data-cell-id]` with `.cell-status[data-status]`, `.cell-remaining`,
// `.cell-note`, `.cell-report-send`, `.self-count`, `.self-note`, `.self-evac-send`;
// `#offline-banner`, `#exercise-banner`, `#stale-banner[data-kind]` (`stale`, `closed`), `#sign-out`.
//
// Everything the user does becomes a command with its id the moment they tap; the command is put
// in the device's outbox (IndexedDB) before it is sent and leaves it only when the server
// acknowledged that id. The page renders from the connection's live state, or — without a
// network after a reload — from the copy of the layers the device kept.
import { initI18n, lang, setLang, onLangChange, addStrings, t, v, applyI18n, fmtTime, fmtAgo, fmtNumber } from '/shared/i18n.js';
import { signIn, forgetToken } from '/shared/token.js';
import { Connection } from '/shared/client.js';
import { FIELD_STRINGS } from './strings.js';
import { outbox, kv, newCommandId } from './store.js';
import { distanceM, fmtChainage, entityPosition, pointAlong } from './geo.js';
import { PositionSender, toFix } from './position.js';
import { PatrolWatch, overdueStretches } from './patrol.js';

const APP = 'field';
// What each role subscribes to. Large layers that many events touch (the patrol board, the grid
// cells) would be re-read whole over a weak mobile link again and again: a team reads its own
// patrol sections by itself (patrol.js); only a grid worker takes the grid cells, which are theirs.
const LAYERS_TEAM = ['teams', 'assignments', 'hazards', 'shelters', 'evacuations', 'levees'];
const LAYERS_GRID = ['hazards', 'shelters', 'evacuations', 'levees', 'grid_cells'];
const KEPT_LAYERS = [...new Set([...LAYERS_TEAM, ...LAYERS_GRID, 'patrol_sections'])];
const layersFor = (auth) => (auth && auth.role === 'grid_worker' ? LAYERS_GRID : LAYERS_TEAM);
const HAZARD_KINDS = ['piping', 'seepage', 'leak', 'slope_slide', 'bank_collapse', 'sinkhole', 'crack', 'overtopping', 'breach'];
const SEVERITIES = ['general', 'major', 'critical'];
const ASG_STEPS = ['proposed', 'accepted', 'en_route', 'on_scene', 'completed'];
const ASG_BUTTONS = { accepted: 'asg-accept', en_route: 'asg-en-route', on_scene: 'asg-on-scene', completed: 'asg-done' };
const ASG_LABELS = { accepted: 'asg.accept', en_route: 'asg.en_route', on_scene: 'asg.on_scene', completed: 'asg.done' };
const CLOSED_HAZARD = new Set(['eliminated', 'false_alarm']);
const ACTIVE_ASG = new Set(['proposed', 'accepted', 'en_route', 'on_scene']);
// Refusals by the server's rules: the command will not pass as it is. Every other failure
// (no connection, `unavailable`, `rate_limited`, a token not yet authenticated …) keeps it waiting.
const REFUSAL_CODES = new Set([
  'malformed_json', 'invalid_number', 'invalid_message', 'missing_field', 'unknown_field', 'invalid_field',
  'invalid_coordinates', 'unknown_message', 'unknown_command', 'invalid_request_id', 'unsupported_frame',
  'frame_too_large', 'command_id_conflict', 'forbidden', 'not_found', 'already_exists', 'illegal_transition',
  'not_an_escalation', 'team_busy', 'team_off_duty', 'shelter_closed', 'over_capacity', 'occupancy_underflow',
  'insufficient_stock', 'over_population', 'no_active_order', 'exceeds_shipment', 'shelter_in_flood_area',
  'invalid_value',
]);
const LS_AUTH = 'crest.field.auth';
const LS_DARK = 'crest.field.dark';
const LS_REPORT = 'crest.field.last_report';

const $ = (sel, root = document) => root.querySelector(sel);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
// Separators and colons carry no words: a dot drawn by CSS, a colon that follows the language.
const SEP = '<span class="sep" aria-hidden="true"></span>';
const lbl = (key) => t(key) + (lang() === 'zh' ? '：' : ': ');
const d = (s, cls = '') => `<span class="data${cls ? ' ' + cls : ''}">${esc(s)}</span>`;

const app = {
  token: null,
  fp: '',
  conn: null,
  haveSnapshot: false,
  status: 'connecting',
  statusInfo: null,
  auth: null,
  cache: null, // {savedAt, layers: {name: Map}}
  fix: null,
  geoState: 'none',
  queue: [], // outbox items
  sending: new Set(),
  flushing: false,
  flushAgain: false,
  report: null, // {cmdId, created, kind, severity, state, error}
  reportKind: null,
  nearbyServer: null, // {at, point, shelters}
  map: null,
};

// ---------------------------------------------------------------- start

addStrings(FIELD_STRINGS);

boot().catch((err) => {
  // The page must never die silently on the levee: say what happened.
  console.warn('field app start failed', err);
  toast(String(err && err.message || err));
});

async function boot() {
  applyDark(readDark());
  try { await initI18n(); } catch (err) { console.warn('vocabulary unavailable', err); }
  wireStatic();
  applyI18n();
  renderChrome();
  registerServiceWorker();

  // A token kept on the device opens the app at once, also without a network (a reload on the
  // levee must not depend on the server); the sign-in overlay only when none is kept.
  app.token = await signIn(APP);
  app.fp = fingerprint(app.token);
  app.auth = readAuth();
  app.report = readReport();
  await loadCache();
  await reloadQueue();

  app.pos = new PositionSender({
    send: (fix) => {
      const cmd = { type: 'update_position', team_id: app.auth.team, position: fix.position, time_ms: fix.time_ms, accuracy_m: fix.accuracy_m };
      // In a drill the server's clock is the scenario's: a fix stamped with today's time would be
      // "from the future" there, so the server stamps it (fixes are sent fresh, never late).
      if (app.auth.exercise) delete cmd.time_ms;
      return app.conn.command(cmd, newCommandId()).then((ack) => { app.patrol.soon(); return ack; });
    },
    ready: connReady,
    enabled: () => !!(app.auth && app.auth.role === 'field' && app.auth.team),
    onRefused: (err) => {
      // Said once in a while, not on every fix: a device clock far off would refuse them all.
      if (Date.now() - (app.posToastAt || 0) < 300000) return;
      app.posToastAt = Date.now();
      toast(t('toast.position_refused', { msg: errText(err) }));
    },
  });
  app.patrol = new PatrolWatch({
    conn: () => app.conn,
    team: () => app.auth && app.auth.role === 'field' && app.auth.team,
    now: spaceNow,
    ready: connReady,
    onChange: () => { scheduleRender(); scheduleCacheSave(); },
  });
  startGeolocation();

  // The connection itself closes its socket when the browser goes offline and reconnects when it
  // is back (shared/client.js); the page only has to show it at once.
  // `app.status` mirrors the connection; what is shown also listens to the browser at once.
  window.addEventListener('online', () => {
    renderAll();
    if (connReady()) { flush(); app.pos.pump(); } // the socket survived: nothing to wait for
  });
  window.addEventListener('offline', () => { renderAll(); });
  onLangChange(() => { applyI18n(); renderAll(); });
  setInterval(() => renderAll(), 30000); // "5 min ago" moves on
  document.addEventListener('visibilitychange', () => { if (!document.hidden) { renderAll(); flush(); } });

  startConnection();
  renderAll();
  initMap();
}

// ---------------------------------------------------------------- connection

function startConnection() {
  let me = null;
  const mine = () => app.conn === me;
  const layers = layersFor(app.auth);
  me = new Connection({
    token: app.token,
    app: APP,
    layers,
    viewport: null,
    onSnapshot: () => { if (!mine()) return; app.haveSnapshot = true; onData(layers); },
    onEvent: (ev) => { if (mine()) onServerEvent(ev); },
    onStatus: (status, info) => { if (mine()) onStatus(status, info); },
    onError: (err) => { if (mine()) console.warn('server error', err && (err.code || err.message)); },
  });
  app.conn = me;
  me.onChange((names) => { if (mine()) onData(names); });
  app.status = 'connecting';
  renderChrome();
  me.connect();
}

// The clock of the token's space: a drill's scenario runs in its own time (2019 in July's
// replay), the live space in the server's; patrols, shifts and "5 min ago" are on that clock.
function spaceNow() {
  return app.conn && typeof app.conn.nowMs === 'function' ? app.conn.nowMs() : Date.now();
}

function shownStatus() {
  if (app.status === 'closed') return 'closed';
  return navigator.onLine === false ? 'offline' : app.status;
}

function connReady() {
  // The browser's word counts too: a socket that outlived the network must not swallow actions.
  return !!app.conn && (app.status === 'open' || app.status === 'resynced') && navigator.onLine !== false;
}

function onStatus(status, info) {
  app.status = status;
  app.statusInfo = info || null;
  if (info && info.auth) {
    const before = layersFor(app.auth).join();
    app.auth = info.auth;
    localStorage.setItem(LS_AUTH, JSON.stringify({ fp: app.fp, auth: info.auth }));
    if (layersFor(info.auth).join() !== before && app.conn) {
      // First sign-in of a grid worker: subscribe to what this role needs.
      const old = app.conn;
      app.conn = null;
      old.close();
      startConnection();
      return;
    }
  }
  if (status === 'open' || status === 'resynced') {
    flush();
    if (app.pos) app.pos.pump();
    if (app.patrol) app.patrol.refresh();
    refreshNearby(true);
  }
  renderAll();
}

function onData(names) {
  scheduleRender();
  scheduleCacheSave();
  if (names.includes('shelters')) refreshNearby(false);
}

function onServerEvent(ev) {
  if (!ev || !app.auth) return;
  if (ev.type === 'team_moved' && ev.team_id === app.auth.team && ev.on_levee) app.patrol.soon();
  if (ev.type === 'assignment_created' && ev.assignment && ev.assignment.team_id === app.auth.team) {
    toast(t('toast.new_assignment', { what: targetText(ev.assignment.target) }));
    if (navigator.vibrate) { try { navigator.vibrate([200, 100, 200]); } catch { /* not allowed */ } }
  }
}

// ---------------------------------------------------------------- layers: live or kept

function layer(name) {
  if (name === 'patrol_sections' && app.patrol && app.patrol.sections.size) return app.patrol.sections;
  if (app.conn && app.haveSnapshot && app.conn.state && app.conn.state.layers[name]) return app.conn.state.layers[name];
  return (app.cache && app.cache.layers[name]) || new Map();
}

function usingCache() {
  return !(app.conn && app.haveSnapshot) && !!app.cache;
}

async function loadCache() {
  try {
    const c = await kv.get('layers');
    if (!c || c.fp !== app.fp) return;
    const layers = {};
    for (const [name, list] of Object.entries(c.layers || {})) {
      layers[name] = new Map(list.map((e) => [e.id ?? e.jurisdiction, e]));
    }
    app.cache = { savedAt: c.savedAt, layers };
  } catch (err) { console.warn('no kept layers', err); }
}

let cacheTimer = null;
let cacheSavedOnce = false;
function scheduleCacheSave() {
  if (cacheTimer) return;
  // The first copy at once (a reload without network may come any moment), then at most every 2 s.
  cacheTimer = setTimeout(async () => {
    cacheTimer = null;
    cacheSavedOnce = true;
    if (!(app.conn && app.haveSnapshot)) return;
    const layers = {};
    for (const name of KEPT_LAYERS) {
      const m = name === 'patrol_sections' ? null : app.conn.state.layers[name];
      if (m) layers[name] = [...m.values()];
      else if (app.cache && app.cache.layers[name]) layers[name] = [...app.cache.layers[name].values()];
    }
    if (app.patrol && app.patrol.sections.size) layers.patrol_sections = app.patrol.mine();
    const savedAt = Date.now();
    try {
      await kv.set('layers', { fp: app.fp, savedAt, layers });
      app.cache = { savedAt, layers: Object.fromEntries(Object.entries(layers).map(([n, l]) => [n, new Map(l.map((e) => [e.id ?? e.jurisdiction, e]))])) };
    } catch (err) { console.warn('could not keep layers', err); }
  }, cacheSavedOnce ? 2000 : 0);
}

// ---------------------------------------------------------------- the outbox

async function reloadQueue() {
  try { app.queue = await outbox.all(); } catch (err) { console.warn('outbox unreadable', err); }
  renderQueue();
}

// A tap: the command gets its id now, is stored, then sent when the connection can take it.
async function enqueue(command, id = newCommandId()) {
  const item = { id, command, created: Date.now(), state: 'waiting' };
  await outbox.add(item);
  await reloadQueue();
  renderAll();
  if (!connReady()) toast(t('toast.queued'));
  flush();
  return id;
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { const e = new Error('timeout'); e.code = 'timeout'; reject(e); }, ms);
    promise.then((x) => { clearTimeout(timer); resolve(x); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

let retryTimer = null;
async function flush() {
  if (app.flushing) { app.flushAgain = true; return; }
  app.flushing = true;
  try {
    do {
      app.flushAgain = false;
      const items = (await outbox.all()).filter((i) => i.state === 'waiting');
      for (const item of items) {
        if (!connReady()) return;
        const conn = app.conn;
        app.sending.add(item.id);
        renderQueue();
        try {
          const ack = await withTimeout(conn.command(item.command, item.id), 30000);
          await outbox.remove(item.id);
          onAcked(item, ack || {});
        } catch (err) {
          if (err && REFUSAL_CODES.has(err.code)) {
            const refused = { ...item, state: 'refused', refused_at: Date.now(), error: errFields(err) };
            await outbox.put(refused);
            onRefused(item, err);
          } else {
            // Not refused: keep it (same id) for the next chance.
            if (connReady() && !retryTimer) retryTimer = setTimeout(() => { retryTimer = null; flush(); }, 5000);
            return;
          }
        } finally {
          app.sending.delete(item.id);
          await reloadQueue();
        }
      }
    } while (app.flushAgain);
  } finally {
    app.flushing = false;
    renderAll();
  }
}

function errFields(err) {
  return { code: err.code || '', message: err.message_en || err.message || '', message_zh: err.message_zh || '' };
}

function errText(err) {
  if (!err) return '';
  const f = err.message_zh !== undefined || err.message_en !== undefined ? errFields(err) : err;
  return (lang() === 'zh' ? f.message_zh || f.message : f.message || f.message_zh) || f.code || '';
}

function onAcked(item, ack) {
  const c = item.command;
  if (app.report && app.report.cmdId === item.id) {
    app.report.created = ack.created || app.report.created || null;
    app.report.state = 'acked';
    saveReport();
  }
  if (c.type === 'check_in_patrol_point' && app.patrol) app.patrol.checkedIn(c.section_id, c.point_id, c.time_ms || spaceNow());
  if (c.type !== 'report_hazard') toast(t('toast.acked', { what: describe(c) }));
  if (c.type === 'check_in' || c.type === 'check_out') checkinMsg(t('toast.acked', { what: describe(c) }), 'ok');
}

function onRefused(item, err) {
  if (app.report && app.report.cmdId === item.id) {
    app.report.state = 'refused';
    app.report.error = errFields(err);
    saveReport();
  }
  toast(t('toast.refused', { what: `${describe(item.command)} — ${errText(err)}` }), 'bad');
  if (item.command.type === 'check_in' || item.command.type === 'check_out') checkinMsg(errText(err), 'bad');
}

async function discard(id) {
  await outbox.remove(id);
  await reloadQueue();
  renderAll();
}

async function retry(id) {
  const item = await outbox.get(id);
  if (!item) return;
  // A refused command was not recorded by the server: the same id may be sent again.
  await outbox.put({ id: item.id, command: item.command, created: item.created, state: 'waiting' });
  await reloadQueue();
  flush();
}

function waiting() { return app.queue.filter((i) => i.state === 'waiting'); }

// ---------------------------------------------------------------- what a command is, in words

function describe(c) {
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

function targetText(target) {
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

function targetPosition(target) {
  if (!target) return null;
  if (target.kind === 'hazard') return entityPosition(layer('hazards').get(target.hazard_id));
  if (target.kind === 'shelter') return entityPosition(layer('shelters').get(target.shelter_id));
  if (target.kind === 'patrol_stretch') {
    const lv = layer('levees').get(target.levee_id);
    return lv ? pointAlong(lv.line, (target.from_m + target.to_m) / 2, lv.chainage_origin_m || 0) : null;
  }
  return null;
}

// ---------------------------------------------------------------- geolocation

function startGeolocation() {
  if (!('geolocation' in navigator)) { app.geoState = 'unsupported'; renderGps(); return; }
  navigator.geolocation.watchPosition((p) => {
    const fix = toFix(p);
    app.fix = fix;
    app.geoState = 'fix';
    app.pos.newFix(fix);
    renderGps();
    refreshNearby(false);
    scheduleRender();
  }, (err) => {
    if (err.code === 1) app.geoState = 'denied'; // PERMISSION_DENIED
    else if (!app.fix) app.geoState = 'none';
    renderGps();
  }, { enableHighAccuracy: true, maximumAge: 0, timeout: 60000 });
}

// ---------------------------------------------------------------- rendering

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; renderAll(); });
}

function renderAll() {
  renderChrome();
  renderReportChoices();
  renderGps();
  renderTeam();
  renderPatrol();
  renderGrid();
  renderNearby();
  renderCheckin();
  renderQueue();
  renderReportResult();
  renderMap();
}

// Set innerHTML only when it changed, so that a render never replaces a button under a finger.
function setHtml(el, html) {
  if (!el) return;
  if (el._html !== html) { el.innerHTML = html; el._html = html; }
}

function fmtDist(m) {
  if (!Number.isFinite(m)) return '';
  if (m < 1000) return t('unit.m', { n: Math.round(m) });
  return t('unit.km', { n: (m / 1000).toFixed(m < 10000 ? 1 : 0) });
}

function renderChrome() {
  const shown = shownStatus();
  const cs = $('#conn-state');
  if (cs) {
    cs.dataset.state = shown;
    cs.textContent = t(`conn.${shown}`);
  }
  const lw = $('#lang-switch');
  if (lw) lw.textContent = t('lang.other');
  const dk = $('#dark-switch');
  if (dk) {
    const dark = document.body.classList.contains('dark');
    dk.textContent = t(dark ? 'dark.to_light' : 'dark.to_dark');
    dk.setAttribute('aria-pressed', String(dark));
  }
  const off = $('#offline-banner');
  if (off) off.hidden = shown !== 'offline';
  const ex = $('#exercise-banner');
  if (ex) {
    const exercise = app.auth && app.auth.exercise;
    ex.hidden = !exercise;
    $('#exercise-title').textContent = exercise ? exercise.title || exercise.drill_id || '' : '';
  }
  const stale = $('#stale-banner');
  if (stale) {
    if (app.status === 'closed') {
      stale.hidden = false;
      stale.dataset.kind = 'closed';
      setHtml(stale, `<span>${esc(t('banner.closed'))}</span> <button id="signin-again" class="btn" type="button">${esc(t('banner.signin_again'))}</button>`);
    } else if (usingCache()) {
      stale.hidden = false;
      stale.dataset.kind = 'stale';
      setHtml(stale, `<span>${esc(t('banner.stale', { time: fmtTime(app.cache.savedAt) }))}</span>`);
    } else {
      stale.hidden = true;
    }
  }
  renderWho();
}

function renderWho() {
  const el = $('#whoami');
  if (!el) return;
  const a = app.auth;
  if (!a) { setHtml(el, ''); return; }
  let html = '';
  if (a.role === 'grid_worker') {
    const cell = [...layer('grid_cells').values()].find((c) => c.grid_worker_id === a.grid_worker);
    html = `<span class="who-role">${esc(t('who.grid'))}</span> ${d(a.grid_worker)}${cell && cell.grid_worker ? ' ' + d(cell.grid_worker) : ''}`;
  } else {
    const team = a.team ? layer('teams').get(a.team) : null;
    html = `<span class="who-role">${esc(t('who.field'))}</span> ${d(a.team || '')}${team ? ' ' + d(team.name) : ''}`;
  }
  if (a.name) html += ` <span class="who-device">${d(a.name)}</span>`;
  setHtml(el, html);
}

function renderGps() {
  const nofix = $('#report-nofix');
  if (nofix) {
    // Without a fix the place can be tapped on the map (GPS refused, or not yet under a roof).
    nofix.hidden = !!app.fix;
    const key = app.manualPos ? 'report.manual_set' : (app.map ? 'report.nofix_map' : 'report.nofix');
    setHtml(nofix, `<span>${esc(t(key))}</span>${!app.manualPos && app.map ? ` <button id="report-pick" class="btn" type="button">${esc(t('report.pick'))}</button>` : ''}`);
  }
  const el = $('#gps');
  if (!el) return;
  el.dataset.state = app.geoState;
  if (app.fix) {
    const [lon, lat] = app.fix.position;
    setHtml(el, `<span>${esc(t('gps.fix'))}</span> ${d('±' + fmtNumber(Math.round(app.fix.accuracy_m)))} `
      + `<span>${esc(fmtAgo(app.fix.time_ms, Date.now()))}</span> ${d(`${lat.toFixed(5)}, ${lon.toFixed(5)}`, 'coords')}`);
  } else if (app.geoState === 'denied') setHtml(el, `<span>${esc(t('gps.unavailable'))}</span>`);
  else if (app.geoState === 'unsupported') setHtml(el, `<span>${esc(t('gps.unsupported'))}</span>`);
  else setHtml(el, `<span>${esc(t('gps.none'))}</span>`);
}

// -- my team and assignment

function myTeam() {
  return app.auth && app.auth.team ? layer('teams').get(app.auth.team) : null;
}

function myAssignment(team) {
  if (!app.auth || !app.auth.team) return null;
  const asgs = layer('assignments');
  if (team && team.assignment && asgs.get(team.assignment)) return asgs.get(team.assignment);
  let best = null;
  for (const a of asgs.values()) {
    if (a.team_id === app.auth.team && ACTIVE_ASG.has(a.state) && (!best || a.id > best.id)) best = a;
  }
  return best;
}

// The state the assignment will have once the waiting commands are through.
function pendingAssignmentState(asg) {
  let state = asg.state;
  let pending = false;
  for (const i of waiting()) {
    const c = i.command;
    if (c.assignment_id !== asg.id) continue;
    if (c.type === 'advance_assignment' && ASG_STEPS.indexOf(c.to) > ASG_STEPS.indexOf(state)) { state = c.to; pending = true; }
    if (c.type === 'cancel_assignment') { state = 'cancelled'; pending = true; }
  }
  return { state, pending };
}

function pendingDuty(team) {
  let duty = team ? team.on_duty : null;
  let pending = false;
  for (const i of waiting()) {
    if (i.command.type === 'set_team_duty') { duty = i.command.on_duty; pending = true; }
  }
  return { duty, pending };
}

function renderTeam() {
  const el = $('#my-team');
  const asgEl = $('#assignment');
  const card = $('#team-card');
  if (!el || !asgEl) return;
  const a = app.auth;
  if (a && a.role === 'grid_worker') { card.hidden = true; return; }
  card.hidden = false;
  if (a && !a.team) { el.dataset.status = 'none'; setHtml(el, `<p>${esc(t('team.none'))}</p>`); setHtml(asgEl, ''); return; }
  const team = myTeam();
  if (!team) {
    el.dataset.status = 'unknown';
    setHtml(el, `<p class="muted">${esc(t('team.unknown'))}</p>`);
    setHtml(asgEl, '');
    return;
  }
  el.dataset.status = team.status || 'unknown';
  const duty = pendingDuty(team);
  const caps = (team.capabilities || []).map((c) => `<span class="chip">${esc(v('capability', c))}</span>`).join('');
  const fix = team.fix ? t('team.last_fix', { ago: fmtAgo(team.fix.time_ms, spaceNow()) }) : t('team.no_fix');
  setHtml(el, `
    <div class="team-head">
      <div class="team-name">${d(team.name)} ${d(team.id, 'muted')}</div>
      <div class="team-status status-${esc(team.status)}"><span>${esc(v('team_status', team.status))}</span></div>
    </div>
    <div class="team-meta"><span>${esc(v('team_kind', team.kind))}</span> ${SEP}<span>${esc(t('team.people', { n: team.headcount }))}</span>
      ${SEP}<span>${esc(v('travel_mode', team.travel_mode))}</span> ${SEP}<span>${esc(fix)}</span></div>
    <div class="chips">${caps}</div>
    <button id="duty-toggle" class="btn big ${duty.duty ? '' : 'primary'}" type="button" data-on-duty="${duty.duty ? 'true' : 'false'}">
      ${esc(t(duty.duty ? 'team.go_off' : 'team.go_on'))}${duty.pending ? ` <small>${esc(t('asg.pending'))}</small>` : ''}</button>`);

  const asg = myAssignment(team);
  if (!asg) {
    asgEl.dataset.state = 'none';
    delete asgEl.dataset.assignmentId;
    setHtml(asgEl, `<h3>${esc(t('asg.title'))}</h3><p class="muted">${esc(t('asg.none'))}</p>`);
    return;
  }
  const eff = pendingAssignmentState(asg);
  asgEl.dataset.state = asg.state;
  asgEl.dataset.assignmentId = asg.id;
  const idx = ASG_STEPS.indexOf(eff.state);
  const buttons = ['accepted', 'en_route', 'on_scene', 'completed'].map((s) => {
    const si = ASG_STEPS.indexOf(s);
    const done = idx >= si;
    const next = si === idx + 1;
    const disabled = done || eff.state === 'cancelled';
    return `<button id="${ASG_BUTTONS[s]}" class="btn big step-btn${done ? ' done' : ''}${next ? ' next primary' : ''}" type="button"
      data-to="${s}" data-done="${done}" ${disabled ? 'disabled' : ''}>${esc(t(ASG_LABELS[s]))}</button>`;
  }).join('');
  const pos = targetPosition(asg.target);
  const dist = pos && app.fix ? `<span class="dist">${esc(t('asg.distance', { d: fmtDist(distanceM(app.fix.position, pos)) }))}</span>` : '';
  const note = asg.note ? `<p class="asg-note"><span>${esc(lbl('asg.note'))}</span> ${d(asg.note)}</p>` : '';
  const decline = eff.state === 'proposed'
    ? `<button id="asg-decline" class="btn big danger-outline" type="button">${esc(t('asg.decline'))}</button>` : '';
  setHtml(asgEl, `
    <h3>${esc(t('asg.title'))} ${d(asg.id, 'muted')}</h3>
    <p class="asg-target">${targetHtml(asg.target)} ${dist}</p>
    <p class="asg-state"><span>${esc(lbl('asg.state'))}</span> <strong>${esc(v('assignment_state', eff.state))}</strong>
      ${eff.pending ? `<span class="pending">${esc(t('asg.pending'))}</span>` : ''}</p>
    ${note}
    <div class="steps">${buttons}</div>
    ${decline}`);
}

function targetHtml(target) {
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

// -- patrol

function myShifts() {
  return app.patrol ? app.patrol.shifts(layer('patrol_sections')) : { current: [], next: null };
}

function pendingCheckins() {
  const set = new Set();
  for (const i of waiting()) if (i.command.type === 'check_in_patrol_point') set.add(`${i.command.section_id}/${i.command.point_id}`);
  return set;
}

function renderPatrol() {
  const el = $('#patrol');
  const card = $('#patrol-card');
  if (!el) return;
  const a = app.auth;
  if (a && a.role === 'grid_worker') { card.hidden = true; return; }
  card.hidden = false;
  const now = spaceNow();
  const { current, next } = myShifts();
  if (!current.length) {
    el.dataset.sections = '';
    setHtml(el, `<p class="muted">${esc(t('patrol.none'))}</p>`
      + (next ? `<p>${esc(t('patrol.next', { from: fmtTime(next.shift.from_ms) }))} ${d(next.section.name || next.section.id)}</p>` : ''));
    return;
  }
  el.dataset.sections = current.map((c) => c.section.id).join(' ');
  const pend = pendingCheckins();
  const html = current.map(({ section: s, shift }) => {
    const intervalMs = s.interval_min ? s.interval_min * 60000 : null;
    // A point is passed for this round when passed since the shift began and within the interval.
    const since = Math.max(shift.from_ms, intervalMs ? now - intervalMs : shift.from_ms);
    const points = [...(s.points || [])].sort((x, y) => x.chainage_m - y.chainage_m);
    let todo = 0;
    const items = points.map((p) => {
      const pending = pend.has(`${s.id}/${p.id}`);
      const passed = !!(p.last_pass && p.last_pass.at >= since) || pending;
      if (!passed) todo++;
      const last = p.last_pass ? t('patrol.last', { ago: fmtAgo(p.last_pass.at, now) }) : t('patrol.never');
      return `<li data-point-id="${esc(p.id)}" data-section-id="${esc(s.id)}" data-passed="${passed}"${pending ? ' data-pending="true"' : ''} class="point${passed ? ' passed' : ''}">
        <div class="pt-main"><span class="pt-state">${esc(t(passed ? 'patrol.passed' : 'patrol.todo'))}</span>
          ${d(fmtChainage(p.chainage_m), 'pt-chainage')} ${p.name ? d(p.name, 'pt-name') : ''}
          ${p.kind === 'structure' ? `<span class="chip">${esc(v('patrol_point_kind', p.kind))}</span>` : ''}
          <small class="pt-last">${esc(last)}${pending ? SEP + esc(t('asg.pending')) : ''}</small></div>
        <button class="btn point-checkin${passed ? '' : ' primary'}" type="button" data-section-id="${esc(s.id)}" data-point-id="${esc(p.id)}">${esc(t('patrol.checkin'))}</button>
      </li>`;
    }).join('');
    const gaps = overdueStretches(s, now);
    const lv = layer('levees').get(s.levee_id);
    return `<div class="section" data-section-id="${esc(s.id)}">
      <h3>${d(s.name || s.id)}</h3>
      <p class="muted"><span>${esc(t('patrol.section_of'))}</span> ${d(lv ? lv.name : s.levee_id)} ${d(`${fmtChainage(s.from_m)}–${fmtChainage(s.to_m)}`)}
        ${SEP}<span>${esc(t('patrol.shift', { from: fmtTime(shift.from_ms), until: fmtTime(shift.until_ms) }))}</span>
        ${SEP}<span>${esc(s.interval_min ? t('patrol.interval', { n: s.interval_min }) : t('patrol.not_required'))}</span></p>
      <p class="patrol-summary${todo ? ' todo' : ''}"><span>${esc(todo ? t('patrol.remaining', { n: todo }) : t('patrol.all_passed'))}</span>
        ${gaps ? `<span class="gap">${esc(t('patrol.gaps', { n: gaps }))}</span>` : ''}</p>
      <ul class="points">${items}</ul></div>`;
  }).join('');
  setHtml(el, html);
}

// -- grid worker's cells

function myCells() {
  const gw = app.auth && app.auth.grid_worker;
  if (!gw) return [];
  return [...layer('grid_cells').values()].filter((c) => c.grid_worker_id === gw).sort((a, b) => a.id.localeCompare(b.id));
}

function renderGrid() {
  const card = $('#grid-card');
  const list = $('#grid-cells');
  if (!card || !list) return;
  const isGw = !!(app.auth && app.auth.role === 'grid_worker');
  card.hidden = !isGw;
  if (!isGw) return;
  const cells = myCells();
  if (!cells.length) { list.innerHTML = `<li class="muted">${esc(t('grid.none'))}</li>`; list._cells = ''; return; }
  const ids = cells.map((c) => c.id).join(' ');
  if (list._cells !== ids || list._lang !== lang()) {
    // Forms are built once per set of cells (and language), so typing is never interrupted.
    const keep = {};
    for (const li of list.querySelectorAll('li[data-cell-id]')) {
      keep[li.dataset.cellId] = {
        status: li.querySelector('.cell-status[aria-pressed="true"]')?.dataset.status,
        remaining: li.querySelector('.cell-remaining')?.value, note: li.querySelector('.cell-note')?.value,
        count: li.querySelector('.self-count')?.value, selfNote: li.querySelector('.self-note')?.value,
      };
    }
    list.innerHTML = cells.map((c) => cellCard(c)).join('');
    list._cells = ids;
    list._lang = lang();
    for (const [id, k] of Object.entries(keep)) {
      const li = list.querySelector(`li[data-cell-id="${CSS.escape(id)}"]`);
      if (!li) continue;
      if (k.status) li.querySelector(`.cell-status[data-status="${k.status}"]`)?.setAttribute('aria-pressed', 'true');
      if (k.remaining) li.querySelector('.cell-remaining').value = k.remaining;
      if (k.note) li.querySelector('.cell-note').value = k.note;
      if (k.count) li.querySelector('.self-count').value = k.count;
      if (k.selfNote) li.querySelector('.self-note').value = k.selfNote;
    }
  }
  for (const c of cells) {
    const li = list.querySelector(`li[data-cell-id="${CSS.escape(c.id)}"]`);
    if (li) setHtml(li.querySelector('.cell-info'), cellInfo(c));
  }
}

function cellOrders(cellId) {
  const out = [];
  for (const ev of layer('evacuations').values()) {
    if (ev.status !== 'active') continue;
    const cell = (ev.cells || []).find((x) => x.cell_id === cellId);
    if (cell) out.push({ ev, cell });
  }
  return out;
}

// People of an order's cell still to move: at risk minus those who left (each way counted once).
function cellRemaining(c) {
  const left = c.left && typeof c.left === 'object'
    ? Object.values(c.left).reduce((a, n) => a + (Number(n) || 0), 0) : Number(c.left) || 0;
  return Math.max(0, (c.at_risk || 0) - left);
}

function cellInfo(c) {
  const r = c.report;
  const pendingN = waiting().filter((i) => i.command.cell_id === c.id).length;
  const orders = cellOrders(c.id).map(({ ev, cell }) => `<div class="cell-order"><span>${esc(t('grid.order'))}</span> ${d(ev.name || ev.id)}
    ${SEP}<span>${esc(t('checkin.remaining'))}</span> ${d(fmtNumber(cellRemaining(cell)))}</div>`).join('');
  return `<div class="cell-meta"><span>${esc(t('grid.population'))}</span> ${d(fmtNumber(c.population))}
      ${c.village_name ? SEP + d(c.village_name) : ''}${c.town_name ? SEP + d(c.town_name) : ''}</div>
    ${orders}
    <div class="cell-last"><span>${esc(lbl('grid.last'))}</span>
      ${r ? `<strong class="status-${esc(r.status)}">${esc(v('cell_status', r.status))}</strong>
        ${r.people_remaining != null ? d(fmtNumber(r.people_remaining)) : ''} <span>${esc(fmtAgo(r.at, spaceNow()))}</span>
        ${r.note ? d(r.note) : ''}` : `<span>${esc(t('grid.never'))}</span>`}
      ${pendingN ? `<span class="pending">${esc(t('asg.pending'))}</span>` : ''}</div>`;
}

function cellCard(c) {
  const statuses = ['notified', 'evacuating', 'clear'].map((s) => `<button class="btn big cell-status" type="button" data-status="${s}" aria-pressed="false">${esc(v('cell_status', s))}</button>`).join('');
  return `<li data-cell-id="${esc(c.id)}" class="cell">
    <h3>${d(c.name || c.id)} ${d(c.id, 'muted')}</h3>
    <div class="cell-info"></div>
    <div class="form">
      <span class="field-label">${esc(t('grid.status'))}</span>
      <div class="choice-grid three">${statuses}</div>
      <label class="field-label"><span>${esc(t('grid.remaining'))}</span>
        <input class="cell-remaining" type="number" inputmode="numeric" min="0" step="1"></label>
      <label class="field-label"><span>${esc(t('grid.note'))}</span>
        <input class="cell-note" type="text" maxlength="500"></label>
      <button class="btn big primary cell-report-send" type="button">${esc(t('grid.send'))}</button>
      <h4>${esc(t('grid.self'))}</h4>
      <label class="field-label"><span>${esc(t('grid.self_count'))}</span>
        <input class="self-count" type="number" inputmode="numeric" min="1" step="1"></label>
      <label class="field-label"><span>${esc(t('grid.self_note'))}</span>
        <input class="self-note" type="text" maxlength="500"></label>
      <button class="btn big self-evac-send" type="button">${esc(t('grid.self_send'))}</button>
      <p class="form-msg" hidden></p>
    </div></li>`;
}

// -- nearby

let nearbyBusy = false;
async function refreshNearby(force) {
  if (!app.fix || !connReady() || nearbyBusy) return;
  const last = app.nearbyServer;
  if (!force && last && Date.now() - last.at < 15000 && distanceM(last.point, app.fix.position) < 100) return;
  nearbyBusy = true;
  const point = app.fix.position;
  try {
    const r = await withTimeout(app.conn.query({ type: 'nearest_shelters', point, limit: 5 }), 15000);
    app.nearbyServer = { at: Date.now(), point, shelters: (r && r.shelters) || [] };
    renderNearby();
  } catch (err) {
    console.warn('nearest_shelters', err && (err.code || err.message));
  } finally { nearbyBusy = false; }
}

function renderNearby() {
  const el = $('#nearby');
  const src = $('#nearby-source');
  if (!el) return;
  if (!app.fix) {
    setHtml(el, `<li class="muted">${esc(t('nearby.nofix'))}</li>`);
    setHtml(src, '');
    return;
  }
  const here = app.fix.position;
  const hazards = [...layer('hazards').values()].filter((h) => !CLOSED_HAZARD.has(h.status) && h.position)
    .map((h) => ({ h, dist: distanceM(here, h.position) })).sort((a, b) => a.dist - b.dist).slice(0, 5);
  let shelters;
  const server = app.nearbyServer && connReady() && distanceM(app.nearbyServer.point, here) < 500 ? app.nearbyServer : null;
  if (server) {
    const sl = layer('shelters');
    shelters = server.shelters.map((s) => ({ s: sl.get(s.shelter_id) || { id: s.shelter_id, name: s.shelter_id }, dist: distanceM(here, s.position), free: s.free_places }));
  } else {
    shelters = [...layer('shelters').values()].filter((s) => s.open && s.position && (s.free_places ?? 1) > 0)
      .map((s) => ({ s, dist: distanceM(here, s.position), free: s.free_places })).sort((a, b) => a.dist - b.dist).slice(0, 5);
  }
  setHtml(src, `<span>${esc(t(server ? 'nearby.server' : 'nearby.local'))}</span>`);
  const rows = [
    ...hazards.map(({ h, dist }) => ({ dist, html: `<li data-kind="hazard" data-entity="hazards:${esc(h.id)}" class="near hazard sev-${esc(h.severity)}">
      <span class="near-kind">${esc(t('nearby.hazard'))}</span>
      <span class="near-what"><strong>${esc(v('hazard_kind', h.kind))}</strong> <span>${esc(v('severity', h.severity))}</span> <span>${esc(v('hazard_status', h.status))}</span>
        ${h.levee ? d(`${h.levee.levee_id} ${h.levee.chainage}`) : ''} ${d(h.id, 'muted')}</span>
      <span class="near-dist">${esc(fmtDist(dist))}</span></li>` })),
    ...shelters.map(({ s, dist, free }) => ({ dist, html: `<li data-kind="shelter" data-entity="shelters:${esc(s.id)}" class="near shelter">
      <span class="near-kind">${esc(t('nearby.shelter'))}</span>
      <span class="near-what"><strong>${d(s.name)}</strong> <span>${esc(t('nearby.free'))}</span> ${d(fmtNumber(free ?? 0))}</span>
      <span class="near-dist">${esc(fmtDist(dist))}</span></li>` })),
  ].sort((a, b) => a.dist - b.dist);
  setHtml(el, rows.length ? rows.map((r) => r.html).join('') : `<li class="muted">${esc(t('nearby.none'))}</li>`);
}

// -- check-in

function setOptions(select, options, keepValue) {
  // options: [{value, label, disabled?, kind?}]; rebuilt only when they changed.
  const sig = JSON.stringify(options);
  if (select._sig === sig) return;
  const prev = keepValue ?? select.value;
  select.innerHTML = options.map((o) => `<option value="${esc(o.value)}"${o.disabled ? ' disabled' : ''}${o.kind ? ` data-kind="${esc(o.kind)}"` : ''}>${esc(o.label)}</option>`).join('');
  select._sig = sig;
  if (options.some((o) => o.value === prev && !o.disabled)) select.value = prev;
}

function renderCheckin() {
  const card = $('#checkin-card');
  if (!card) return;
  if (app.auth && app.auth.role === 'grid_worker') { card.hidden = true; return; }
  card.hidden = false;
  const here = app.fix && app.fix.position;

  // The order first: the main case is a check-in against it, so the newest active order is
  // preselected until the user chooses.
  const orders = [...layer('evacuations').values()].filter((e) => e.status === 'active').sort((a, b) => String(a.id).localeCompare(String(b.id)));
  const orderSel = $('#checkin-order');
  const orderOpts = [{ value: '', label: t('checkin.no_order') },
    ...orders.map((e) => ({ value: e.id, label: `${e.name || e.id} · ${t('checkin.remaining')} ${fmtNumber(e.remaining ?? Math.max(0, e.population - e.evacuated))}` }))];
  const defaultOrder = !orderSel._touched && orders.length ? orders[orders.length - 1].id : undefined;
  setOptions(orderSel, orderOpts, defaultOrder);
  if (defaultOrder && !orderSel._touched) orderSel.value = defaultOrder;
  const order = orders.find((e) => e.id === orderSel.value);

  // Then the shelters: the order's own first, then the nearest; the first is preselected until
  // the user chooses one.
  const targets = new Set((order && order.target_shelters) || []);
  const shelters = [...layer('shelters').values()].filter((s) => s.open)
    .map((s) => ({ s, dist: here && s.position ? distanceM(here, s.position) : Infinity }))
    .sort((a, b) => (targets.has(b.s.id) - targets.has(a.s.id)) || (a.dist - b.dist) || String(a.s.name).localeCompare(String(b.s.name)));
  const sel = $('#checkin-shelter');
  const shelterOpts = shelters.length
    ? shelters.map(({ s, dist }) => ({ value: s.id, label: `${s.name} · ${t('checkin.free')} ${fmtNumber(s.free_places ?? Math.max(0, s.capacity - s.occupancy))}${Number.isFinite(dist) ? ' · ' + fmtDist(dist) : ''}` }))
    : [{ value: '', label: t('checkin.no_shelter') }];
  setOptions(sel, shelterOpts, sel._touched ? undefined : (shelters[0] && shelters[0].s.id));

  const fromSel = $('#checkin-from');
  const fromOpts = [{ value: '', label: t('checkin.from_any') }];
  if (order) {
    const villages = new Map();
    for (const c of order.cells || []) {
      if (c.village && !villages.has(c.village)) villages.set(c.village, c.village_name || c.village);
    }
    for (const [id, name] of villages) fromOpts.push({ value: id, label: `${t('checkin.village')} · ${name}`, kind: 'village' });
    for (const c of order.cells || []) {
      const cell = layer('grid_cells').get(c.cell_id);
      const name = (cell && cell.name) || [c.village_name, c.cell_id].filter(Boolean).join(' ');
      fromOpts.push({ value: c.cell_id, label: `${t('checkin.cell')} · ${name} · ${t('checkin.remaining')} ${fmtNumber(cellRemaining(c))}`, kind: 'cell' });
    }
  }
  setOptions(fromSel, fromOpts);
  fromSel.disabled = !order;
}

function checkinMsg(text, kind) {
  const el = $('#checkin-msg');
  if (!el) return;
  el.hidden = !text;
  el.textContent = text || '';
  el.dataset.kind = kind || '';
}

function readCount(input) {
  const n = Number(input.value);
  return Number.isInteger(n) && n >= 1 && n <= 10000000 ? n : null;
}

// A wet finger taps twice: the same action within a second is taken once.
const lastTap = {};
function firstTap(key) {
  const now = Date.now();
  if (now - (lastTap[key] || 0) < 1000) return false;
  lastTap[key] = now;
  return true;
}

async function sendCheckin(out) {
  if (!firstTap(out ? 'checkout' : 'checkin')) return;
  const shelter = $('#checkin-shelter').value;
  const count = readCount($('#checkin-count'));
  if (!shelter) { checkinMsg(t('checkin.choose_shelter'), 'bad'); return; }
  if (!count) { checkinMsg(t('checkin.bad_count'), 'bad'); return; }
  let cmd;
  if (out) cmd = { type: 'check_out', shelter_id: shelter, count };
  else {
    cmd = { type: 'check_in', shelter_id: shelter, count };
    const order = $('#checkin-order').value;
    if (order) {
      cmd.evacuation_id = order;
      const opt = $('#checkin-from').selectedOptions[0];
      const from = $('#checkin-from').value;
      if (from) {
        if (opt && opt.dataset.kind === 'village') cmd.from_village = from; else cmd.from_cell = from;
      }
    }
  }
  checkinMsg('', '');
  await enqueue(cmd);
  $('#checkin-count').value = '1';
}

// -- the outbox on screen

function renderQueue() {
  const w = waiting();
  const refused = app.queue.filter((i) => i.state === 'refused');
  const qc = $('#queue-count');
  if (qc) { qc.dataset.count = String(w.length); qc.textContent = String(w.length); }
  const pill = $('#queue-pill');
  if (pill) pill.classList.toggle('has-items', w.length > 0);
  const list = $('#queue-list');
  if (list) {
    setHtml(list, w.length ? w.map((i) => `<li data-id="${esc(i.id)}" data-state="${app.sending.has(i.id) ? 'sending' : 'waiting'}" data-type="${esc(i.command.type)}">
      <span class="q-what">${esc(describe(i.command))}</span>
      <small class="q-when"><span>${esc(t(app.sending.has(i.id) ? 'queue.sending' : 'queue.waiting'))}</span> ${SEP}<span>${esc(t('queue.saved_at', { time: fmtTime(i.created) }))}</span></small>
      </li>`).join('') : `<li class="muted empty">${esc(t('queue.empty'))}</li>`);
  }
  const rl = $('#refused-list');
  if (rl) {
    $('#refused-title').hidden = !refused.length;
    setHtml(rl, refused.map((i) => `<li data-id="${esc(i.id)}" data-state="refused" data-code="${esc(i.error && i.error.code)}">
      <span class="q-what">${esc(describe(i.command))}</span>
      <span class="q-error">${d(errText(i.error))}</span>
      <span class="q-actions"><button class="btn retry" type="button" data-id="${esc(i.id)}">${esc(t('queue.retry'))}</button>
      <button class="btn discard" type="button" data-id="${esc(i.id)}">${esc(t('queue.discard'))}</button></span></li>`).join(''));
  }
}

// -- the report

function renderReportChoices() {
  setHtml($('#kind-choices'), HAZARD_KINDS.map((k) => `<button class="btn big kind-choice${app.reportKind === k ? ' chosen' : ''}" type="button" data-kind="${k}">${esc(v('hazard_kind', k))}</button>`).join(''));
  setHtml($('#severity-choices'), SEVERITIES.map((s) => `<button class="btn big severity-choice sev-${s}" type="button" data-severity="${s}">${esc(v('severity', s))}</button>`).join(''));
  const ck = $('#report-chosen-kind');
  if (ck) ck.textContent = app.reportKind ? t('report.chosen', { kind: v('hazard_kind', app.reportKind) }) : '';
}

function openReport() {
  app.reportKind = null;
  $('#report-panel').hidden = false;
  $('#report-step-kind').hidden = false;
  $('#report-step-severity').hidden = true;
  $('#report-hazard').setAttribute('aria-expanded', 'true');
  renderReportChoices();
  renderGps();
}

function closeReport() {
  app.reportKind = null;
  $('#report-panel').hidden = true;
  $('#report-hazard').setAttribute('aria-expanded', 'false');
}

async function chooseSeverity(severity) {
  if (!app.reportKind) return;
  const position = app.fix ? app.fix.position : app.manualPos;
  if (!position) { toast(t(app.map ? 'report.nofix_map' : 'report.nofix'), 'bad'); return; }
  const cmd = { type: 'report_hazard', kind: app.reportKind, severity, position };
  app.manualPos = null;
  if (app.map && app.map.pick) { app.map.pick.remove(); app.map.pick = null; }
  const note = $('#report-note').value.trim();
  if (note) cmd.description = note;
  closeReport();
  $('#report-note').value = '';
  // The report's id is known before it is stored, so that its ack finds the result panel.
  const id = newCommandId();
  app.report = { cmdId: id, created: null, kind: cmd.kind, severity, state: 'queued', at: Date.now() };
  saveReport();
  await enqueue(cmd, id);
}

function readReport() {
  try {
    const r = JSON.parse(localStorage.getItem(LS_REPORT) || 'null');
    return r && r.fp === fingerprint(app.token) ? r : null;
  } catch { return null; }
}

function saveReport() {
  if (app.report) localStorage.setItem(LS_REPORT, JSON.stringify({ ...app.report, fp: app.fp }));
}

function renderReportResult() {
  const el = $('#report-result');
  if (!el) return;
  const r = app.report;
  if (!r || r.dismissed) { el.hidden = true; el.dataset.state = 'none'; return; }
  el.hidden = false;
  const inQueue = app.queue.find((i) => i.id === r.cmdId);
  let state = r.state;
  if (inQueue && inQueue.state === 'waiting') state = app.sending.has(r.cmdId) ? 'sending' : 'queued';
  const what = `<span>${esc(v('hazard_kind', r.kind))}</span> <span>${esc(v('severity', r.severity))}</span>`;
  let body;
  if (state === 'refused') {
    body = `<strong>${esc(t('report.r_refused'))}</strong> ${what} ${d(errText(r.error))}`;
  } else if (r.created) {
    const h = layer('hazards').get(r.created);
    if (h) {
      state = h.levee ? 'placed' : 'off_levee';
      const lv = h.levee ? layer('levees').get(h.levee.levee_id) : null;
      const where = h.levee
        ? `<div class="where">${d(`${h.levee.levee_id} ${h.levee.chainage}`, 'chainage')} <span class="side">${esc(v('bank_side', h.levee.side))}</span>${lv ? ' ' + d(lv.name, 'levee-name') : ''}</div>`
        : `<div class="where"><span>${esc(t('report.r_offlevee'))}</span></div>`;
      body = `<strong>${esc(t('report.r_placed'))}</strong> ${d(h.id)} ${what}${where}`;
      el.dataset.hazardId = h.id;
    } else {
      state = 'acked';
      body = `<strong>${esc(t('report.r_acked'))}</strong> ${d(r.created)} ${what}`;
    }
  } else if (state === 'sending') body = `<strong>${esc(t('report.r_sending'))}</strong> ${what}`;
  else body = `<strong>${esc(t('report.r_queued'))}</strong> ${what}`;
  el.dataset.state = state;
  setHtml(el, `<div class="rr-body">${body}</div><button id="report-dismiss" class="btn" type="button">${esc(t('report.dismiss'))}</button>`);
}

// ---------------------------------------------------------------- the map (small, optional)

async function initMap() {
  const el = $('#map');
  if (!el) return;
  try {
    const { baseMap } = await import('/shared/map.js');
    // No zoom buttons: fingers pinch, and the buttons' +/− would be the only words not in the language.
    const m = await baseMap(el, { minimal: true, zoomControl: false });
    app.map = { ...m, group: m.L.layerGroup().addTo(m.map), centred: false, sig: '', pick: null };
    m.map.on('click', (e) => {
      if ($('#report-panel').hidden || app.fix) return;
      const pos = [Math.round(e.latlng.lng * 1e6) / 1e6, Math.round(e.latlng.lat * 1e6) / 1e6];
      app.manualPos = pos;
      if (app.map.pick) app.map.pick.remove();
      app.map.pick = m.L.circleMarker([pos[1], pos[0]], { radius: 11, className: 'mk-pick', weight: 3 }).addTo(m.map);
      renderGps();
      $('#report-card').scrollIntoView({ behavior: 'smooth', block: 'start' });
    });
    renderMap();
    renderGps();
  } catch (err) {
    console.warn('map unavailable', err);
    el.classList.add('unavailable');
    el.innerHTML = `<p class="muted" data-i18n="map.unavailable">${esc(t('map.unavailable'))}</p>`;
  }
}

function renderMap() {
  const m = app.map;
  if (!m) return;
  const { L, group, map } = m;
  const here = app.fix && app.fix.position;
  const hazards = [...layer('hazards').values()].filter((h) => !CLOSED_HAZARD.has(h.status) && h.position);
  const shelters = [...layer('shelters').values()].filter((s) => s.open && s.position);
  const levees = layer('levees');
  if (!m.levees && levees.size) {
    // The levees are what the crews walk: drawn once, above the base map, brown.
    m.levees = L.layerGroup().addTo(map);
    for (const lv of levees.values()) {
      if (Array.isArray(lv.line)) L.polyline(lv.line.map(([x, y]) => [y, x]), { className: 'mk-levee', weight: 4, interactive: false }).addTo(m.levees);
    }
  }
  const sig = JSON.stringify([here, hazards.map((h) => [h.id, h.severity, h.status]), shelters.map((s) => s.id)]);
  if (sig === m.sig) return;
  m.sig = sig;
  group.clearLayers();
  const add = (marker, entity) => {
    marker.addTo(group);
    const e = marker.getElement && marker.getElement();
    if (e) e.setAttribute('data-entity', entity);
  };
  for (const s of shelters) {
    add(L.circleMarker([s.position[1], s.position[0]], { radius: 7, className: 'mk-shelter', weight: 2 }).bindTooltip(esc(s.name)), `shelters:${s.id}`);
  }
  for (const h of hazards) {
    add(L.circleMarker([h.position[1], h.position[0]], { radius: 9, className: `mk-hazard sev-${h.severity}`, weight: 2 })
      .bindTooltip(esc(`${v('hazard_kind', h.kind)} ${h.levee ? h.levee.chainage : ''}`)), `hazards:${h.id}`);
  }
  if (here) {
    add(L.circleMarker([here[1], here[0]], { radius: 10, className: 'mk-me', weight: 3 }).bindTooltip(esc(t('map.me'))), 'me');
    if (!m.centred) { map.setView([here[1], here[0]], 14); m.centred = true; }
  }
}

// ---------------------------------------------------------------- static wiring

function wireStatic() {
  $('#lang-switch').addEventListener('click', () => setLang(lang() === 'zh' ? 'en' : 'zh'));
  $('#dark-switch').addEventListener('click', () => {
    const dark = !document.body.classList.contains('dark');
    localStorage.setItem(LS_DARK, dark ? '1' : '0');
    applyDark(dark);
    renderChrome();
  });
  $('#sign-out').addEventListener('click', () => {
    const n = waiting().length;
    if (n && !confirm(t('who.signout_confirm', { n }))) return;
    forgetToken(APP);
    localStorage.removeItem(LS_AUTH);
    location.reload();
  });
  $('#stale-banner').addEventListener('click', (e) => {
    if (!e.target.closest('#signin-again')) return;
    // The outbox stays: what waits is sent once a valid token of the team signs in.
    forgetToken(APP);
    localStorage.removeItem(LS_AUTH);
    location.reload();
  });
  $('#queue-pill').addEventListener('click', () => $('#queue-card').scrollIntoView({ behavior: 'smooth' }));

  $('#report-hazard').addEventListener('click', () => { if ($('#report-panel').hidden) openReport(); else closeReport(); });
  $('#report-cancel').addEventListener('click', closeReport);
  $('#report-nofix').addEventListener('click', (e) => {
    if (e.target.closest('#report-pick')) $('#map-card').scrollIntoView({ behavior: 'smooth', block: 'center' });
  });
  $('#report-back').addEventListener('click', () => { app.reportKind = null; $('#report-step-kind').hidden = false; $('#report-step-severity').hidden = true; renderReportChoices(); });
  $('#kind-choices').addEventListener('click', (e) => {
    const b = e.target.closest('.kind-choice');
    if (!b) return;
    app.reportKind = b.dataset.kind;
    $('#report-step-kind').hidden = true;
    $('#report-step-severity').hidden = false;
    renderReportChoices();
  });
  $('#severity-choices').addEventListener('click', (e) => {
    const b = e.target.closest('.severity-choice');
    if (b) chooseSeverity(b.dataset.severity);
  });
  $('#report-result').addEventListener('click', (e) => {
    if (e.target.closest('#report-dismiss') && app.report) { app.report.dismissed = true; saveReport(); renderReportResult(); }
  });

  $('#my-team').addEventListener('click', (e) => {
    const b = e.target.closest('#duty-toggle');
    if (!b || !app.auth || !app.auth.team || !firstTap(`duty:${b.dataset.onDuty}`)) return;
    enqueue({ type: 'set_team_duty', team_id: app.auth.team, on_duty: b.dataset.onDuty !== 'true' });
  });
  $('#assignment').addEventListener('click', async (e) => {
    const asgId = $('#assignment').dataset.assignmentId;
    if (!asgId) return;
    const asg = layer('assignments').get(asgId);
    if (!asg) return;
    if (e.target.closest('#asg-decline')) {
      if (!confirm(t('asg.decline_confirm'))) return;
      await enqueue({ type: 'cancel_assignment', assignment_id: asgId });
      return;
    }
    const b = e.target.closest('button[data-to]');
    if (!b || b.disabled || !firstTap(`asg:${asgId}:${b.dataset.to}`)) return;
    // One tap: a later step taken directly also sends the steps before it, in order.
    const from = ASG_STEPS.indexOf(pendingAssignmentState(asg).state);
    const to = ASG_STEPS.indexOf(b.dataset.to);
    for (let i = from + 1; i <= to; i++) {
      await enqueue({ type: 'advance_assignment', assignment_id: asgId, to: ASG_STEPS[i] });
    }
  });
  $('#patrol').addEventListener('click', (e) => {
    const b = e.target.closest('.point-checkin');
    if (!b || !app.auth || !app.auth.team || !firstTap(`pt:${b.dataset.pointId}`)) return;
    const cmd = { type: 'check_in_patrol_point', section_id: b.dataset.sectionId, point_id: b.dataset.pointId, team_id: app.auth.team };
    // The moment of the tap, not of the send: a check-in made offline is sent later but happened
    // now. (In a drill the server's clock is the scenario's: it stamps the check-in itself.)
    if (!(app.auth.exercise)) cmd.time_ms = Date.now();
    enqueue(cmd);
  });

  $('#checkin-order').addEventListener('change', () => { $('#checkin-order')._touched = true; renderCheckin(); });
  $('#checkin-shelter').addEventListener('change', () => { $('#checkin-shelter')._touched = true; });
  $('#checkin-minus').addEventListener('click', () => { const i = $('#checkin-count'); i.value = String(Math.max(1, (parseInt(i.value, 10) || 1) - 1)); });
  $('#checkin-plus').addEventListener('click', () => { const i = $('#checkin-count'); i.value = String((parseInt(i.value, 10) || 0) + 1); });
  $('#checkin-send').addEventListener('click', () => sendCheckin(false));
  $('#checkout-send').addEventListener('click', () => sendCheckin(true));

  $('#grid-cells').addEventListener('click', (e) => {
    const li = e.target.closest('li[data-cell-id]');
    if (!li) return;
    const cellId = li.dataset.cellId;
    const msg = li.querySelector('.form-msg');
    const say = (text, kind) => { msg.hidden = !text; msg.textContent = text; msg.dataset.kind = kind || ''; };
    const st = e.target.closest('.cell-status');
    if (st) {
      for (const b of li.querySelectorAll('.cell-status')) b.setAttribute('aria-pressed', String(b === st));
      if (st.dataset.status === 'clear') li.querySelector('.cell-remaining').value = '0';
      return;
    }
    if (e.target.closest('.cell-report-send')) {
      if (!firstTap(`cell:${cellId}`)) return;
      const chosen = li.querySelector('.cell-status[aria-pressed="true"]');
      if (!chosen) { say(t('grid.choose_status'), 'bad'); return; }
      const cmd = { type: 'report_cell_status', cell_id: cellId, status: chosen.dataset.status };
      const rem = li.querySelector('.cell-remaining').value.trim();
      if (rem !== '') {
        const n = Number(rem);
        if (!Number.isInteger(n) || n < 0) { say(t('checkin.bad_count'), 'bad'); return; }
        if (!(chosen.dataset.status === 'clear' && n === 0)) cmd.people_remaining = n;
        else cmd.people_remaining = 0;
      }
      const note = li.querySelector('.cell-note').value.trim();
      if (note) cmd.note = note;
      say('', '');
      enqueue(cmd);
      li.querySelector('.cell-note').value = '';
      return;
    }
    if (e.target.closest('.self-evac-send')) {
      if (!firstTap(`self:${cellId}`)) return;
      const n = readCount(li.querySelector('.self-count'));
      if (!n) { say(t('checkin.bad_count'), 'bad'); return; }
      const cmd = { type: 'record_self_evacuation', cell_id: cellId, count: n };
      const note = li.querySelector('.self-note').value.trim();
      if (note) cmd.note = note;
      say('', '');
      enqueue(cmd);
      li.querySelector('.self-count').value = '';
      li.querySelector('.self-note').value = '';
    }
  });

  // A tap on a nearby hazard or shelter shows it on the map.
  $('#nearby').addEventListener('click', (e) => {
    const li = e.target.closest('li[data-entity]');
    if (!li || !app.map) return;
    const [layerName, id] = li.dataset.entity.split(':');
    const pos = entityPosition(layer(layerName).get(id)) || (app.nearbyServer && (app.nearbyServer.shelters.find((x) => x.shelter_id === id) || {}).position);
    if (!pos) return;
    app.map.map.setView([pos[1], pos[0]], Math.max(app.map.map.getZoom(), 15));
    $('#map-card').scrollIntoView({ behavior: 'smooth', block: 'center' });
  });

  const onQueueClick = (e) => {
    const r = e.target.closest('.retry');
    if (r) { retry(r.dataset.id); return; }
    const x = e.target.closest('.discard');
    if (x) discard(x.dataset.id);
  };
  $('#refused-list').addEventListener('click', onQueueClick);
}

// ---------------------------------------------------------------- small things

function readDark() {
  const s = localStorage.getItem(LS_DARK);
  if (s === '1') return true;
  if (s === '0') return false;
  return !!(window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches);
}

function applyDark(dark) {
  document.body.classList.toggle('dark', dark);
  const meta = document.querySelector('meta[name="theme-color"]');
  if (meta) meta.setAttribute('content', dark ? '#0d1117' : '#0b3d91');
}

function readAuth() {
  try {
    const a = JSON.parse(localStorage.getItem(LS_AUTH) || 'null');
    return a && a.fp === app.fp ? a.auth : null;
  } catch { return null; }
}

// Which token the kept data belongs to, without keeping the token twice.
function fingerprint(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  return h.toString(16);
}

let toastTimer = null;
function toast(text, kind = '') {
  const el = $('#toast');
  if (!el) return;
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

// `body[data-sw]`: `none` (no service worker), `installing`, `ready` once it controls the page —
// from then on a reload without network opens the app (tests wait for it before going offline).
function registerServiceWorker() {
  const mark = (state) => { document.body.dataset.sw = state; };
  if (!('serviceWorker' in navigator)) { mark('none'); return; }
  const check = () => mark(navigator.serviceWorker.controller ? 'ready' : 'installing');
  check();
  navigator.serviceWorker.addEventListener('controllerchange', check);
  navigator.serviceWorker.register('/field/sw.js', { scope: '/field/' })
    .then(() => navigator.serviceWorker.ready).then((reg) => {
      check();
      // Everything this page loaded from the shell, for the worker to keep (see sw.js).
      const urls = performance.getEntriesByType('resource').map((e) => e.name);
      if (reg.active) reg.active.postMessage({ type: 'keep', urls });
    })
    .catch((err) => { mark('none'); console.warn('service worker not registered', err); });
}
