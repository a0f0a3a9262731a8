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
import { initI18n, lang, setLang, onLangChange, addStrings, t, applyI18n } from '/shared/i18n.js';
import { signIn, forgetToken } from '/shared/token.js';
import { Connection } from '/shared/client.js';
import { FIELD_STRINGS } from './strings.js';
import { kv, newCommandId } from './store.js';
import { entityPosition } from './geo.js';
import { PositionSender, toFix } from './position.js';
import { PatrolWatch } from './patrol.js';
import { APP, KEPT_LAYERS, layersFor, ASG_STEPS, LS_AUTH, LS_DARK, $, app, spaceNow, connReady, layer, errText, waiting, targetText, firstTap, fingerprint, toast } from './common.js';
import { reloadQueue, enqueue, flush, onRefused, discard, retry } from './sending.js';
import { scheduleRender, renderAll, renderChrome, renderGps, pendingAssignmentState, refreshNearby } from './views.js';
import { renderCheckin, readCount, sendCheckin, renderReportChoices, openReport, closeReport, chooseSeverity, readReport, saveReport, renderReportResult } from './forms.js';
import { initMap } from './fieldmap.js';

addStrings(FIELD_STRINGS);

/**
 * A moment of the device's clock on the server's: moved by the difference between the two when
 * the server's events show it is more than two minutes (a tablet without network time).
 */
function serverTime(deviceMs) {
  if (!app.conn || app.conn.lastEventMs === null) return Math.round(deviceMs);
  const skew = spaceNow() - Date.now();
  return Math.round(Math.abs(skew) > 120000 ? deviceMs + skew : deviceMs);
}

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
      // A fresh fix (taken less than 5 s ago) is stamped by the server too: a tablet's clock may
      // be minutes off (no network time on the levee), the server's is the one patrol passes are
      // judged by. An older fix (sent after a reconnect) keeps its own time, moved by the
      // difference between the device's clock and the server's when that is known and large.
      if (app.auth.exercise) delete cmd.time_ms;
      else if (Date.now() - fix.time_ms < 5000) delete cmd.time_ms;
      else cmd.time_ms = serverTime(fix.time_ms);
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
    // The server cannot write its log (protocol.md rule 8): actions wait in the outbox (it
    // answers them `unavailable`) and go out again when it can.
    onServerStatus: (m) => {
      if (!mine()) return;
      app.serverStale = m.writable === false;
      if (!app.serverStale) flush();
      renderChrome();
    },
    onError: (err) => { if (mine()) console.warn('server error', err && (err.code || err.message)); },
  });
  app.conn = me;
  me.onChange((names) => { if (mine()) onData(names); });
  app.status = 'connecting';
  renderChrome();
  me.connect();
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
    // A device clock more than two minutes off the server's is corrected by the difference.
    if (!(app.auth.exercise)) cmd.time_ms = serverTime(Date.now());
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
