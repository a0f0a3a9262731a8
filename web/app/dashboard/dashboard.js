// The dispatcher dashboard: signs in, subscribes to every layer, and keeps the map, the lists,
// the alert panel, the feed, the patrol board and the sitrep in step with the live state (or a
// review's). Rendering is batched to animation frames: events only mark what changed.
//
// Stable hooks for tests (web-plan.md): #conn-banner[data-state], #exercise-banner, #alerts
// li[data-alert-id][data-kind][data-state] (.ack, .ack-input, .ack-send), #feed, #hazard-list
// li[data-hazard-id][data-status][data-severity], #team-list li[data-team-id][data-status],
// #shelter-list li[data-shelter-id], #incident-list li[data-incident-id], #evacuation-list,
// #gauge-list, #patrol-board [data-section-id][data-gap], #sitrep, #lang-switch, the review
// controls #review-from/-play/-pause/-speed/-seek/-clock/-stop (#review-clock[data-time-ms]),
// markers [data-entity="<layer>:<id>"], the detail panel #detail[data-layer][data-id] with its
// actions #act-*, #suggestions li[data-team-id] .assign, #evac-preview, #evac-send, and dialogs
// #<name>-form-<field> / #<name>-form-submit. Only one list is shown at a time: its tab is
// #list-tabs button[data-list=…], or open the page at /dashboard/#list=teams (or patrol …);
// on a tablet the panels are tabs too (#panel-tabs button[data-tab=…], or #tab=lists).

import { initI18n, t, v, lang, setLang, onLangChange, addStrings, applyI18n, fmtTime } from '/shared/i18n.js';
import { signIn, forgetToken } from '/shared/token.js';
import { Connection } from '/shared/client.js';
import { baseMap } from '/shared/map.js';
import { STRINGS } from './strings.js';
import { app, LAYERS, get, clock, districtResponse, entityName } from './model.js';
import { el, clear, frameBatcher, toast, tp, clearToasts } from './util.js';
import { initLayers, renderLayers, setLayerShown, TOGGLES, focusOn, refreshSelection, refreshGridCells } from './maplayers.js';
import { renderAllLists, renderAlerts } from './lists.js';
import { initFeed, feedEvent, renderFeed, markFeedDirty, seedFeed } from './feed.js';
import { initDetail, renderDetail } from './detail.js';
import { initEvac, relabelEvac } from './evac.js';
import { initActions } from './actions.js';
import { initSitrep, refreshSitrep, renderSitrep } from './sitrep.js';
import { initReview, loadRange, relabelReview, noteLogTime } from './review.js';
import { initPatrol, refreshAll as refreshPatrol, renderBoard, noteSectionsChanged, clearCoverage, askCoverage } from './patrol.js';
import { tracks } from './tracks.js';

addStrings(STRINGS);

const NARROW = window.matchMedia('(max-width: 1100px)');

async function main() {
  await initI18n();
  addStrings(STRINGS);
  applyI18n();
  wireChrome();
  initFeed(document.getElementById('feed'));
  initDetail();
  initActions();
  initSitrep();
  initPatrol((names) => invalidate(names));

  const token = await signIn('dashboard');

  // The district's id and name name the district-wide response level; the map is public.
  fetch('/api/v1/map/district').then((r) => r.json()).then((fc) => {
    const f = fc.features && fc.features[0];
    if (f) {
      app.district.id = (f.properties && f.properties.id) || f.id || null;
      app.district.name = (f.properties && f.properties.name) || '';
      invalidate(['response']);
    }
  }).catch(() => {});

  const m = await baseMap(document.getElementById('map'));
  app.map = m;
  // Town and village names on the base map are data (the language test skips `.data`).
  const markData = (el) => { if (el && el.classList && el.classList.contains('map-label')) el.classList.add('data'); };
  m.map.getContainer().querySelectorAll('.map-label').forEach(markData);
  m.map.on('layeradd', (e) => markData(e.layer && e.layer.getElement && e.layer.getElement()));
  initLayers(m);
  buildToggles();
  // The map's box changes with the layout (the patrol band fills, the tablet turns, panels
  // open): Leaflet is told, and the district is fitted again once the first board is drawn.
  let fitted = false;
  new ResizeObserver(() => {
    m.map.invalidateSize({ pan: false });
    if (!fitted && m.bounds && document.querySelector('#patrol-board [data-section-id]')) {
      fitted = true;
      m.map.fitBounds(m.bounds, { paddingTopLeft: [10, 10], paddingBottomRight: [10, 80] }); // the review bar covers the bottom
    }
  }).observe(document.getElementById('map'));

  let firstOpen = true;
  let wasDown = false;
  const conn = new Connection({
    token,
    app: 'dashboard',
    layers: LAYERS,
    viewport: null,
    onSnapshot: (layers, seq, reason) => {
      tracks.seed(conn.state.layers.teams || new Map());
      seedFeed(conn.state);
      clearCoverage();
      invalidate(['*']);
      refreshPatrol();
      refreshSitrep();
    },
    onEvent: (ev, seq, timeMs) => onEvent(ev, seq, timeMs),
    onStatus: (status, info) => onStatus(status, info),
    onServerStatus: (m) => onServerStatus(m),
    onError: (e) => { if (e && (e.message_zh || e.message)) console.warn('crest:', e.code, e.message); },
  });
  app.conn = conn;

  /** The server cannot write its log (PostgreSQL unreachable, disk full): say the picture may
   * be behind, and that commands are refused, until it can again. */
  function onServerStatus(m) {
    const banner = document.getElementById('conn-banner');
    const text = document.getElementById('conn-text');
    if (m.writable === false) {
      banner.dataset.state = 'stale';
      banner.hidden = false;
      banner.classList.add('offline');
      banner.classList.remove('ok');
      text.textContent = t('conn.stale', { fault: m.fault || '' });
    } else if (banner.dataset.state === 'stale') {
      banner.hidden = true;
      banner.dataset.state = 'open';
    }
  }

  function onStatus(status, info) {
    const banner = document.getElementById('conn-banner');
    banner.dataset.state = status;
    const text = document.getElementById('conn-text');
    if (status === 'closed') {
      banner.hidden = false;
      text.textContent = t('conn.closed', { code: (info && info.code) || '' });
      if (info && (info.code === 'invalid_token' || info.code === 'revoked_token')) {
        forgetToken('dashboard');
        setTimeout(() => location.reload(), 2500);
      }
      return;
    }
    if (status === 'offline' || (status === 'connecting' && !firstOpen)) {
      wasDown = true;
      banner.hidden = false;
      banner.classList.add('offline');
      banner.classList.remove('ok');
      text.textContent = t(status === 'offline' ? 'conn.offline' : 'conn.reconnecting');
      return;
    }
    if (status === 'connecting') {
      banner.hidden = true;
      return;
    }
    if (status === 'open' || status === 'resynced') {
      if (info && info.auth) showAuth(info.auth);
      if (firstOpen) {
        firstOpen = false;
        banner.hidden = true;
        loadRange();
        return;
      }
      if (wasDown || status === 'resynced') {
        wasDown = false;
        banner.dataset.state = 'resynced';
        banner.hidden = false;
        banner.classList.remove('offline');
        banner.classList.add('ok');
        text.textContent = t(info && info.resumed ? 'conn.resumed' : 'conn.resynced');
        clearTimeout(onStatus.timer);
        onStatus.timer = setTimeout(() => {
          if (banner.dataset.state === 'resynced') banner.hidden = true;
        }, 6000);
        invalidate(['*']);
        refreshPatrol();
        refreshSitrep();
      }
    }
  }

  conn.onChange((layerNames) => {
    const names = layerNames && layerNames.length ? layerNames : ['*'];
    if (names.includes('patrol_sections')) noteSectionsChanged();
    invalidate(names);
    refreshSitrep();
  });

  initEvac(m);
  conn.connect();
  initReview();

  onLangChange(() => {
    clearToasts();
    applyI18n();
    fillFilterOptions();
    relabelToggles();
    relabelEvac();
    relabelReview();
    markFeedDirty();
    if (conn.auth) showAuth(conn.auth);
    invalidate(['*', 'lang']);
    renderSitrep();
  });

  setInterval(() => {
    const c = document.getElementById('live-clock');
    c.textContent = fmtTime(clock.now());
  }, 1000);
}

function onEvent(ev, seq, timeMs) {
  clock.sync(timeMs);
  noteLogTime(timeMs);
  feedEvent(ev, seq, timeMs);
  // The board itself is re-read by the session (the `patrol_sections` layer follows every walk);
  // the patrol module reads each levee's exact coverage every 20 s for the gaps time alone makes.
  if (ev.type === 'team_moved') {
    if (ev.fix) tracks.add(ev.team_id, ev.fix.position);
    invalidate(['tracks']);
  } else if ((ev.type === 'alert_raised' && ev.alert && ev.alert.layer === 'patrol_sections') || ev.type === 'alert_resolved') {
    // A gap raised or cleared by the server's clock: read that levee's exact board now.
    const a = ev.alert || get('alerts', ev.alert_id);
    const s = a && a.layer === 'patrol_sections' && get('patrol_sections', a.subject_id);
    if (s) askCoverage(s.levee_id);
  } else if (ev.type === 'hazard_reported' && ev.hazard && !app.reviewing) {
    flash(ev.hazard);
  }
  invalidate(['feed']);
}

/** A new hazard: say it, so that a dispatcher looking elsewhere sees it. */
function flash(h) {
  const where = h.levee ? `${entityName('levees', h.levee.levee_id)} ${h.levee.chainage || ''}` : '';
  toast(tp('flash.hazard', { id: h.id, kind: v('hazard_kind', h.kind), severity: v('severity', h.severity), where }), h.severity === 'critical' ? 'error' : 'info', 8000);
}

function showAuth(auth) {
  clock.setDrill(!!auth.exercise);
  const me = document.getElementById('me');
  me.textContent = auth.name || v('role', auth.role);
  const ex = document.getElementById('exercise-banner');
  ex.hidden = !auth.exercise;
  document.body.classList.toggle('exercise', !!auth.exercise);
  const title = auth.exercise ? auth.exercise.title || auth.exercise.drill_id || '' : '';
  document.getElementById('exercise-title').textContent = title;
  document.getElementById('exercise-title').title = title;
  document.body.classList.toggle('not-dispatcher', auth.role !== 'dispatcher');
}

// ---- rendering, batched to frames -----------------------------------------------------------------

const patrolFilter = { text: '', gapsOnly: false };

// The most frequent changes are drawn at a few frames a second at most: in a fast drill hundreds
// of teams move every second, and a wall screen gains nothing from redrawing them 60 times.
const MIN_INTERVAL = { teams: 1000, tracks: 2000, patrol: 1000, patrol_sections: 1000, assignments: 500 };
const lastRun = {};
const deferred = new Set();

function limit(dirty) {
  if (dirty.has('*')) {
    for (const k of Object.keys(MIN_INTERVAL)) lastRun[k] = performance.now();
    return;
  }
  const now = performance.now();
  for (const k of [...dirty]) {
    const min = MIN_INTERVAL[k];
    if (!min) continue;
    const wait = (lastRun[k] || 0) + min - now;
    if (wait <= 0) { lastRun[k] = now; continue; }
    dirty.delete(k);
    if (!deferred.has(k)) {
      deferred.add(k);
      setTimeout(() => { deferred.delete(k); invalidate([k]); }, wait);
    }
  }
}

const render = frameBatcher((dirty) => {
  try {
    if (dirty.has('lang') || dirty.has('review')) dirty.add('*');
    limit(dirty);
    if (!dirty.size) return;
    renderLayers(dirty);
    renderAllLists(dirty);
    const all = dirty.has('*');
    if (all || dirty.has('patrol_sections') || dirty.has('patrol') || dirty.has('clock') || dirty.has('levees')) {
      renderBoard(document.getElementById('patrol-board'), patrolFilter);
    }
    renderFeed(all);
    renderDetail(dirty);
    if (all || dirty.has('response')) renderResponse();
    if (dirty.has('review')) { renderSitrep(); refreshSitrep(); }
  } catch (e) {
    console.error(e);
  }
});

function invalidate(names) {
  render(names);
}
app.invalidate = invalidate;

function renderResponse() {
  const b = document.getElementById('response-badge');
  const r = districtResponse();
  const level = r && r.level;
  b.dataset.level = level || '';
  b.textContent = level ? t('response.badge', { level: v('response_level', level) }) : t('response.badge_none');
}

// ---- selection -------------------------------------------------------------------------------------

app.select = (layerName, id, opts = {}) => {
  if (!layerName) {
    app.selected = null;
    if (NARROW.matches && document.body.dataset.tab === 'detail') showTab(lastTab);
    invalidate(['selection']);
    renderDetail(new Set(['*']));
    refreshSelection();
    return;
  }
  if (layerName === 'alerts') {
    const a = get('alerts', id);
    if (a && a.layer && a.subject_id && get(a.layer, a.subject_id)) {
      layerName = a.layer;
      id = a.subject_id;
    }
  }
  app.selected = { layer: layerName, id };
  const e = get(layerName, id);
  if (e && !opts.fromMap) focusOn(layerName, e);
  if (layerName === 'grid_cells') { setLayerShown('grid_cells', true); syncToggle('grid_cells', true); refreshGridCells(); }
  renderDetail(new Set(['*']));
  invalidate(['selection', layerName]);
  if (NARROW.matches) showTab('detail');
};

// ---- chrome: tabs, toggles, filters, language ------------------------------------------------------

let lastTab = 'alerts';

function showTab(name) {
  if (name !== 'detail') lastTab = name;
  document.body.dataset.tab = name;
  for (const b of document.querySelectorAll('#panel-tabs button')) b.classList.toggle('active', b.dataset.tab === name);

}

function showList(name) {
  for (const b of document.querySelectorAll('#list-tabs button')) b.classList.toggle('active', b.dataset.list === name);
  for (const p of document.querySelectorAll('.list-pane')) p.hidden = p.dataset.list !== name;
}

function wireChrome() {
  document.getElementById('lang-switch').addEventListener('click', () => setLang(lang() === 'zh' ? 'en' : 'zh'));
  document.getElementById('sign-out').addEventListener('click', () => { forgetToken('dashboard'); location.reload(); });
  const dark = localStorage.getItem('crest.dark') === '1';
  document.body.classList.toggle('dark', dark);
  document.getElementById('dark-switch').addEventListener('click', () => {
    const on = !document.body.classList.contains('dark');
    document.body.classList.toggle('dark', on);
    localStorage.setItem('crest.dark', on ? '1' : '0');
  });
  for (const b of document.querySelectorAll('#panel-tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  for (const b of document.querySelectorAll('#list-tabs button')) b.addEventListener('click', () => showList(b.dataset.list));
  showTab('alerts');
  // `#list=teams` (or patrol, shelters …) and `#tab=lists` open a list or a tablet tab at once:
  // for a bookmark on the wall screen, and for tests.
  const applyHash = () => {
    const h = new URLSearchParams(location.hash.slice(1));
    if (h.get('list') && document.querySelector(`#list-tabs button[data-list="${CSS.escape(h.get('list'))}"]`)) showList(h.get('list'));
    if (h.get('tab') && document.querySelector(`#panel-tabs button[data-tab="${CSS.escape(h.get('tab'))}"]`)) showTab(h.get('tab'));
  };
  applyHash();
  window.addEventListener('hashchange', applyHash);
  fillFilterOptions();
  const relist = () => invalidate(['hazards', 'teams', 'shelters', 'incidents']);
  for (const id of ['hazard-filter', 'team-filter', 'shelter-filter', 'incident-filter']) document.getElementById(id).addEventListener('input', relist);
  for (const id of ['hazard-status-filter', 'team-status-filter', 'team-kind-filter', 'shelter-open-filter', 'incident-open-filter']) document.getElementById(id).addEventListener('change', relist);
  document.getElementById('alerts-show-resolved').addEventListener('change', () => renderAlerts());
  document.getElementById('patrol-filter').addEventListener('input', (e) => { patrolFilter.text = e.target.value; invalidate(['patrol']); });
  document.getElementById('patrol-gaps-only').addEventListener('change', (e) => { patrolFilter.gapsOnly = e.target.checked; invalidate(['patrol']); });
  NARROW.addEventListener('change', () => { if (app.map) setTimeout(() => app.map.map.invalidateSize(), 50); });
  // Escape closes the detail panel (a dialog, the drawing of a zone and the print view take it first).
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape' || !app.selected) return;
    if (!document.getElementById('dialog').hidden || !document.getElementById('print-view').hidden) return;
    if (document.body.classList.contains('drawing') || ev.target.closest('input, textarea, select')) return;
    app.select(null);
  });
}

function options(select, opts) {
  const cur = select.value;
  clear(select);
  for (const [value, label] of opts) select.append(el('option', { value, text: label }));
  if ([...select.options].some((o) => o.value === cur)) select.value = cur;
}

function fillFilterOptions() {
  options(document.getElementById('hazard-status-filter'), [['', t('filter.all_status')], ['open', t('filter.open_hazards')],
    ...['reported', 'confirmed', 'being_handled', 'eliminated', 'false_alarm'].map((s) => [s, v('hazard_status', s)])]);
  options(document.getElementById('team-status-filter'), [['', t('filter.all_status')],
    ...['available', 'assigned', 'en_route', 'on_scene', 'off_duty'].map((s) => [s, v('team_status', s)])]);
  options(document.getElementById('team-kind-filter'), [['', t('filter.all_kinds')],
    ...['armed_police', 'reserve_force', 'militia', 'cadres', 'fire_rescue', 'volunteers', 'grid_workers'].map((s) => [s, v('team_kind', s)])]);
  options(document.getElementById('shelter-open-filter'), [['', t('filter.all_status')], ['open', t('shelter.open')], ['closed', t('shelter.closed')]]);
  options(document.getElementById('incident-open-filter'), [['open', t('incident.open')], ['', t('filter.all_status')], ['closed', t('incident.closed')]]);
}

const toggleState = new Map();

function buildToggles() {
  const box = document.getElementById('layer-toggle-list');
  clear(box);
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem('crest.dashboard.layers') || '{}'); } catch (e) { saved = {}; }
  for (const [key, def] of TOGGLES) {
    const on = saved[key] ?? def;
    toggleState.set(key, on);
    const id = `toggle-${key}`;
    const input = el('input', { type: 'checkbox', id, checked: on, dataset: { layer: key } });
    input.addEventListener('change', () => {
      toggleState.set(key, input.checked);
      setLayerShown(key, input.checked);
      localStorage.setItem('crest.dashboard.layers', JSON.stringify(Object.fromEntries(toggleState)));
      if (input.checked) invalidate([key === 'assets' ? 'protected_assets' : key === 'patrol' ? 'patrol' : key === 'hazards_closed' ? 'hazards' : key === 'tracks' ? 'tracks' : key]);
    });
    box.append(el('label', { class: 'check', for: id }, input, el('span', { class: 'toggle-label', dataset: { key }, text: t('layer.' + key) })));
    setLayerShown(key, on);
  }
  if (NARROW.matches) document.getElementById('layer-toggles').open = false;
}

function syncToggle(key, on) {
  const i = document.getElementById(`toggle-${key}`);
  if (i) i.checked = on;
  toggleState.set(key, on);
}

function relabelToggles() {
  for (const s of document.querySelectorAll('.toggle-label')) s.textContent = t('layer.' + s.dataset.key);
}

main().catch((e) => {
  console.error(e);
  toast(String(e && e.message ? e.message : e), 'error', 20000);
});

