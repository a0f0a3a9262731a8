// The detail panel (#detail) of the selected entity, with the dispatcher's actions on it:
// hazards (confirm, handle, escalate, eliminate, false alarm, open an incident, assign a team
// from the server's nearest-available suggestions), shelters (open with the flood-risk override
// when the server asks for one, close), evacuation orders (lift), teams, incidents, gauges (the
// hydrograph), patrol sections, assets, grid cells and casualty records.

import { t, v, lang, fmtTime, fmtAgo, fmtNumber } from '/shared/i18n.js';
import { app, layer, get, pos, clock, hazardPlace, teamStatus, entityName, leveeName } from './model.js';
import { el, clear, dataSpan, errorText, toast, tp, formDialog, fmtChainage, fmtDuration, fmtKm } from './util.js';
import { hydrographSvg } from './hydrograph.js';
import { sectionBoard, stretchCls } from './patrol.js';
import { targetText } from './feed.js';

const OPEN_HAZARD = new Set(['reported', 'confirmed', 'being_handled']);
const SEV_ORDER = ['general', 'major', 'critical'];

let root, titleEl, bodyEl, actionsEl, extraEl;
let shown = { key: null, bodySig: null, actSig: null };
/** Draws the extra panel (suggestions, the override form) again, in a new language. */
let extraRedraw = null;

export function initDetail() {
  root = document.getElementById('detail');
  titleEl = document.getElementById('detail-title');
  bodyEl = document.getElementById('detail-body');
  actionsEl = document.getElementById('detail-actions');
  extraEl = document.getElementById('detail-extra');
  document.getElementById('detail-close').addEventListener('click', () => app.select(null));
}

/** Called when the selection changed or the state did. */
export function renderDetail(dirty) {
  const s = app.selected;
  if (!s) {
    root.hidden = true;
    document.body.classList.remove('has-detail');
    shown = { key: null };
    return;
  }
  root.hidden = false;
  document.body.classList.add('has-detail');
  const key = `${s.layer}:${s.id}`;
  const changedSelection = shown.key !== key;
  if (changedSelection) {
    shown = { key, bodySig: null, actSig: null };
    extraRedraw = null;
    clear(extraEl);
  } else if (dirty && dirty.has('lang')) {
    hgAsked.clear();
    if (extraRedraw) extraRedraw();
  } else if (dirty && !dirty.has('*') && !dirty.has(s.layer) && !dirty.has('clock') && !dirty.has('lang') && !dirty.has('review')
    && !(s.layer === 'hazards' && (dirty.has('assignments') || dirty.has('incidents')))
    && !(s.layer === 'patrol_sections' && dirty.has('patrol'))) {
    return;
  }
  const e = get(s.layer, s.id);
  root.dataset.layer = s.layer;
  root.dataset.id = s.id;
  const bodySig = JSON.stringify(e || null) + lang() + Math.floor(clock.now() / 60000) + app.reviewing
    + (s.layer === 'hazards' ? relatedSig(s.id) : '') + (s.layer === 'patrol_sections' ? JSON.stringify(sectionBoard(s.id)) : '');
  if (bodySig !== shown.bodySig) {
    shown.bodySig = bodySig;
    clear(titleEl).append(el('span', { class: 'detail-kind', text: v('layer', s.layer) }), ' ', dataSpan(e ? titleOf(s.layer, e) : s.id));
    clear(bodyEl);
    if (!e) bodyEl.append(el('p', { class: 'muted', text: app.reviewing ? t('detail.not_at_moment') : t('detail.gone') }));
    else bodyEl.append(...(BODY[s.layer] || genericBody)(e));
  }
  const actSig = [key, isDispatcher(), e && (e.status ?? e.open ?? e.state), e && e.assignment, lang(), app.reviewing, e && incidentOf(e.id)].join('|');
  if (actSig !== shown.actSig) {
    shown.actSig = actSig;
    clear(actionsEl);
    if (e && app.reviewing) actionsEl.append(el('p', { class: 'muted', text: t('detail.review_no_actions') }));
    else if (e && ACTIONS[s.layer] && isDispatcher()) actionsEl.append(...ACTIONS[s.layer](e));
  }
  if (s.layer === 'gauges' && e && (changedSelection || (dirty && dirty.has('gauges')))) loadHydrograph(e);
}

/** Only a dispatcher's token may command; an observer sees no buttons that would be refused. */
export function isDispatcher() {
  return !!(app.conn && app.conn.auth && app.conn.auth.role === 'dispatcher');
}

function titleOf(layerName, e) {
  if (layerName === 'hazards') return `${e.id} ${hazardPlace(e)}`;
  if (layerName === 'casualties') return e.id;
  return e.name || e.id;
}

function relatedSig(hazardId) {
  let s = '';
  for (const a of layer('assignments').values()) if (a.target && a.target.hazard_id === hazardId) s += a.id + a.state;
  return s + incidentOf(hazardId);
}

function incidentOf(hazardId) {
  for (const i of layer('incidents').values()) if (i.hazard_id === hazardId && i.open !== false && !i.closed_at) return i.id;
  return '';
}

// ---- facts -----------------------------------------------------------------------------------

/** rows: [[label key, value (string, Node, or null to skip), isData?]] */
function facts(rows) {
  const dl = el('dl', { class: 'facts' });
  for (const [key, val, isData] of rows) {
    if (val === null || val === undefined || val === '') continue;
    dl.append(el('dt', { text: t(key) }), el('dd', {}, val instanceof Node ? val : isData ? dataSpan(val) : String(val)));
  }
  return dl;
}

const when = (ms) => (ms ? `${fmtTime(ms, clock.now())} (${fmtAgo(ms, clock.now())})` : null);
const link = (layerName, id, text) => el('a', { href: '#', class: 'data entity-link', text: text || entityName(layerName, id), onclick: (ev) => { ev.preventDefault(); app.select(layerName, id); } });

function hazardBody(h) {
  const rows = [
    ['hazard.kind', v('hazard_kind', h.kind)],
    ['hazard.severity', el('span', { class: `badge sev-${h.severity}`, text: v('severity', h.severity) })],
    ['hazard.status', v('hazard_status', h.status)],
    ['hazard.levee', h.levee ? leveeName(h.levee.levee_id) : t('hazard.off_levee'), !!h.levee],
    ['hazard.chainage', h.levee ? (h.levee.chainage || fmtChainage(h.levee.chainage_m)) : null, true],
    ['hazard.side', h.levee && h.levee.side ? v('bank_side', h.levee.side) : null],
    ['hazard.offset', h.levee && h.levee.offset_m !== undefined ? t('unit.m', { n: Math.round(h.levee.offset_m) }) : null],
    ['hazard.reported', when(h.reported_at)],
    ['hazard.reported_by', h.reported_by, true],
    ['hazard.updated', when(h.updated_at)],
    ['hazard.description', h.description, true],
  ];
  const out = [facts(rows)];
  if (h.near_assets && h.near_assets.length) {
    out.push(el('h3', { text: t('hazard.near_assets') }), el('ul', { class: 'plain' }, h.near_assets.map((a) =>
      el('li', {}, link('protected_assets', a.asset_id, a.asset_name), ' ', el('span', { text: t('unit.m', { n: Math.round(a.distance_m) }) }), a.chainage ? dataSpan(' ' + a.chainage) : null))));
  }
  const asg = [...layer('assignments').values()].filter((a) => a.target && a.target.hazard_id === h.id);
  if (asg.length) {
    out.push(el('h3', { text: t('hazard.assignments') }), el('ul', { class: 'plain' }, asg.map((a) =>
      el('li', {}, link('teams', a.team_id), ' ', el('span', { class: 'status', text: v('assignment_state', a.state) })))));
  }
  const inc = incidentOf(h.id);
  if (inc) out.push(el('p', {}, el('span', { text: t('hazard.incident') + ' ' }), link('incidents', inc)));
  return out;
}

function teamBody(tm) {
  const st = teamStatus(tm);
  const a = tm.assignment && get('assignments', tm.assignment);
  const rows = [
    ['team.kind', v('team_kind', tm.kind)],
    ['team.status', el('span', { class: `status tst-${st}`, text: v('team_status', st) })],
    ['team.headcount', t('unit.people', { n: tm.headcount })],
    ['team.leader', tm.leader, true],
    ['team.capabilities', (tm.capabilities || []).map((c) => v('capability', c)).join('、') || null],
    ['team.travel', v('travel_mode', tm.travel_mode)],
    ['team.fix', tm.fix ? when(tm.fix.time_ms) : t('team.no_fix')],
    ['team.accuracy', tm.fix && tm.fix.accuracy_m ? t('unit.m', { n: Math.round(tm.fix.accuracy_m) }) : null],
    ['team.on_levee', tm.on_levee ? `${leveeName(tm.on_levee.levee_id)} ${fmtChainage(tm.on_levee.chainage_m)}` : null, true],
    ['team.assignment', a ? el('span', {}, dataSpan(targetText(a.target)), el('span', { text: ` · ${v('assignment_state', a.state)}` })) : null],
  ];
  return [facts(rows)];
}

function shelterBody(s) {
  const ratio = s.capacity ? s.occupancy / s.capacity : 0;
  const bar = el('span', { class: 'occ-bar wide' }, el('i', { class: ratio >= 1 ? 'full' : ratio >= 0.9 ? 'high' : 'ok' }));
  bar.firstChild.style.width = `${Math.min(100, Math.round(ratio * 100))}%`;
  const rows = [
    ['shelter.state', s.open ? t('shelter.open') : t('shelter.closed')],
    ['shelter.kind', s.kind, true],
    ['shelter.occupancy_label', el('span', {}, bar, ' ', el('span', { text: t('shelter.occupancy', { n: fmtNumber(s.occupancy || 0), cap: fmtNumber(s.capacity || 0) }) }))],
    ['shelter.free', t('unit.places', { n: fmtNumber(s.free_places ?? Math.max(0, (s.capacity || 0) - (s.occupancy || 0))) })],
    ['shelter.days_label', s.days_of_supply_left === null || s.days_of_supply_left === undefined ? t('shelter.no_supply_figure') : t('shelter.days', { n: s.days_of_supply_left.toFixed(1) })],
    ['shelter.high_ground', s.high_ground ? t('yes') : t('no')],
    ['shelter.flood', s.in_breach_flood_area ? el('strong', { class: 'danger', text: t('shelter.in_flood') }) : s.flood_safe === false ? t('shelter.in_zone') : t('shelter.flood_safe')],
  ];
  const out = [facts(rows)];
  const sup = Object.entries(s.supplies || {});
  if (sup.length) {
    const tb = el('table', { class: 'mini' }, el('thead', {}, el('tr', {},
      el('th', { text: t('supply.item') }), el('th', { text: t('supply.stock') }), el('th', { text: t('supply.daily') }))));
    const body = el('tbody');
    for (const [item, x] of sup) body.append(el('tr', {}, el('td', { text: v('supply_item', item) }), el('td', {}, dataSpan(`${fmtNumber(x.stock)} ${x.unit || ''}`)), el('td', {}, dataSpan(String(x.per_person_daily)))));
    tb.append(body);
    out.push(el('h3', { text: t('shelter.supplies') }), tb);
  }
  return out;
}

function gaugeBody(g) {
  const th = g.thresholds || {};
  const l = g.last;
  const signed = (x) => (x === null || x === undefined ? null : `${x >= 0 ? '+' : ''}${x.toFixed(2)}`);
  const rows = [
    ['gauge.river', g.river, true],
    ['gauge.level', l ? el('strong', { text: t('unit.level', { n: l.level_m.toFixed(2) }) }) : t('gauge.no_reading')],
    ['gauge.at', l ? when(l.time_ms) : null],
    ['gauge.rate_label', g.rate_of_rise_m_per_h === null || g.rate_of_rise_m_per_h === undefined ? null : t('gauge.rate', { r: signed(g.rate_of_rise_m_per_h) })],
    ['gauge.guard', t('unit.level', { n: th.guard_m })],
    ['gauge.warning', el('span', {}, t('unit.level', { n: th.warning_m }), g.above_warning_m !== null && g.above_warning_m !== undefined ? el('span', { class: g.above_warning_m >= 0 ? 'danger' : 'muted', text: ` (${signed(g.above_warning_m)})` }) : null)],
    ['gauge.guaranteed', el('span', {}, t('unit.level', { n: th.guaranteed_m }), g.above_guaranteed_m !== null && g.above_guaranteed_m !== undefined ? el('span', { class: g.above_guaranteed_m >= 0 ? 'danger' : 'muted', text: ` (${signed(g.above_guaranteed_m)})` }) : null)],
    ['gauge.record', g.record ? el('span', {}, el('span', { text: t('unit.level', { n: g.record.level_m }) }), ' ', dataSpan(`${g.record.date || ''} ${g.record.station || ''}`)) : null],
    ['gauge.forecast', g.forecast ? t('gauge.forecast_text', { m: g.forecast.peak_m.toFixed(2), at: fmtTime(g.forecast.peak_at, clock.now()) }) : null],
    ['gauge.datum', g.datum, true],
  ];
  return [facts(rows)];
}

function incidentBody(i) {
  const rows = [
    ['incident.hazard', i.hazard_id ? link('hazards', i.hazard_id) : null],
    ['incident.state', i.open !== false && !i.closed_at ? t('incident.open') : t('incident.closed')],
    ['incident.stage', i.stage ? v('incident_stage', i.stage) : t('incident.no_stage')],
    ['incident.headcount', el('strong', { text: t('unit.people', { n: fmtNumber(i.headcount_on_scene || 0) }) })],
    ['incident.peak', i.peak_headcount ? t('incident.peak_text', { n: fmtNumber(i.peak_headcount), at: fmtTime(i.peak_at, clock.now()) }) : null],
    ['incident.post', i.post ? `${i.post.name || ''} ${i.post.commander || ''}`.trim() : null, true],
    ['incident.opened', when(i.opened_at)],
  ];
  const out = [facts(rows)];
  const teams = Object.entries(i.teams || {});
  if (teams.length) {
    const order = { on_scene: 0, en_route: 1, requested: 2, released: 3 };
    teams.sort((a, b) => order[a[1].state] - order[b[1].state]);
    out.push(el('h3', { text: t('incident.teams') }), el('ul', { class: 'plain' }, teams.map(([id, c]) =>
      el('li', {}, link('teams', id), ' ', el('span', { class: `status cst-${c.state}`, text: v('commitment_state', c.state) }), ' ', el('span', { text: t('unit.people', { n: c.headcount }) })))));
  }
  return out;
}

function evacuationBody(e) {
  const remaining = e.remaining ?? Math.max(0, (e.population || 0) - (e.evacuated || 0));
  const dep = e.departures || {};
  const rows = [
    ['evac.status', v('evacuation_status', e.status)],
    ['evac.population', t('unit.people', { n: fmtNumber(e.population || 0) })],
    ['evac.evacuated', t('unit.people', { n: fmtNumber(e.evacuated || 0) })],
    ['evac.remaining', el('strong', { text: t('unit.people', { n: fmtNumber(remaining) }) })],
    ['evac.ways', t('evac.ways_text', { shelter: dep.shelter || 0, self: dep.self_arranged || 0, rescued: dep.rescued || 0 })],
    ['evac.issued', when(e.issued_at)],
    ['evac.shelters', (e.target_shelters || []).map((id) => entityName('shelters', id)).join('、') || null, true],
  ];
  const out = [facts(rows)];
  const cells = (e.cells || []).slice().sort((a, b) => (b.at_risk - (b.left || 0)) - (a.at_risk - (a.left || 0)));
  if (cells.length) {
    const tb = el('table', { class: 'mini' }, el('thead', {}, el('tr', {},
      el('th', { text: t('evac.cell') }), el('th', { text: t('evac.at_risk') }), el('th', { text: t('evac.left') }))));
    const body = el('tbody');
    for (const c of cells.slice(0, 30)) {
      body.append(el('tr', {}, el('td', {}, dataSpan(`${c.village_name || ''} ${c.cell_id}`)), el('td', {}, dataSpan(String(c.at_risk))), el('td', {}, dataSpan(String(c.left ?? 0)))));
    }
    tb.append(body);
    out.push(el('h3', { text: t('evac.cells') }), tb);
  }
  return out;
}

function patrolBody(sec) {
  const b = sectionBoard(sec.id);
  const now = clock.now();
  const rows = [
    ['patrol.levee', leveeName(sec.levee_id), true],
    ['patrol.range', `${fmtChainage(sec.from_m)}–${fmtChainage(sec.to_m)}`, true],
    ['patrol.interval_label', b && b.required ? t('patrol.interval', { n: b.interval_min }) : t('patrol.not_required')],
    ['patrol.on_shift', b && b.on_shift ? link('teams', b.on_shift) : b && b.unstaffed ? el('strong', { class: 'danger', text: t('patrol.unstaffed') }) : t('patrol.nobody')],
  ];
  const out = [facts(rows)];
  if (b) {
    const tb = el('table', { class: 'mini' }, el('thead', {}, el('tr', {},
      el('th', { text: t('patrol.stretch') }), el('th', { text: t('patrol.last') }), el('th', { text: t('patrol.due') }))));
    const body = el('tbody');
    for (const st of b.stretches) {
      body.append(el('tr', { class: 'st-' + stretchCls(st) },
        el('td', {}, dataSpan(`${fmtChainage(st.from_m)}–${fmtChainage(st.to_m)}`)),
        el('td', { text: st.last_at ? fmtAgo(st.last_at, now) : t('patrol.never_passed') }),
        el('td', { text: st.gap ? t('patrol.overdue', { d: fmtDuration((now - st.due_at) / 1000) }) : st.due_at ? fmtTime(st.due_at, clock.now()) : '—' })));
    }
    tb.append(body);
    out.push(tb);
  }
  return out;
}

function assetBody(a) {
  return [facts([
    ['asset.kind', v('asset_kind', a.kind)],
    ['asset.priority', t('asset.priority_n', { n: a.priority })],
    ['asset.buffer', t('unit.m', { n: a.buffer_m })],
  ])];
}

function cellBody(c) {
  const vu = c.vulnerable || {};
  return [facts([
    ['cell.town', `${c.town_name || c.town || ''} ${c.village_name || c.village || ''}`.trim(), true],
    ['cell.population_label', t('unit.people', { n: fmtNumber(c.population || 0) })],
    ['cell.households', c.households ? fmtNumber(c.households) : null, true],
    ['cell.worker', c.grid_worker ? `${c.grid_worker} ${c.grid_worker_id || ''}` : null, true],
    ['cell.vulnerable', t('vuln.line', { elderly: vu.elderly_alone || 0, disabled: vu.disabled || 0, pregnant: vu.pregnant || 0, children: vu.unaccompanied_children || 0 })],
    ['cell.report', c.report ? `${v('cell_status', c.report.status)} · ${fmtAgo(c.report.at, clock.now())}` : null],
  ])];
}

function casualtyBody(c) {
  return [facts([
    ['casualty.kind', v('casualty_kind', c.kind)],
    ['casualty.count', t('unit.people', { n: c.count })],
    ['casualty.still_trapped', c.kind === 'trapped' ? t('unit.people', { n: c.still_trapped ?? c.count }) : null],
    ['casualty.rescued', c.rescued ? t('unit.people', { n: c.rescued }) : null],
    ['casualty.place', c.place, true],
    ['casualty.source', c.source, true],
    ['casualty.note', c.note, true],
    ['casualty.occurred', when(c.occurred_at)],
  ])];
}

function alertBody(a) {
  const out = [facts([
    ['alert.kind', v('alert_kind', a.kind)],
    ['alert.state', v('alert_state', a.state)],
    ['alert.subject', a.layer && a.subject_id ? link(a.layer, a.subject_id) : null],
    ['alert.raised', when(a.raised_at)],
    ['alert.message', a.message, true],
    ['alert.ack', a.acknowledged ? `${a.acknowledged.by || ''} ${a.acknowledged.note || ''}` : null, true],
  ])];
  return out;
}

function genericBody(e) {
  return [el('pre', { class: 'data raw', text: JSON.stringify(e, null, 1).slice(0, 2000) })];
}

const BODY = {
  hazards: hazardBody, teams: teamBody, shelters: shelterBody, gauges: gaugeBody, incidents: incidentBody,
  evacuations: evacuationBody, patrol_sections: patrolBody, protected_assets: assetBody, grid_cells: cellBody,
  casualties: casualtyBody, alerts: alertBody,
};

// ---- actions ---------------------------------------------------------------------------------

function btn(id, key, onclick, cls = '') {
  return el('button', { type: 'button', id, class: `btn ${cls}`.trim(), text: t(key), onclick });
}

/** Send a command; toast the outcome; the refusal's code is returned to the caller's catch. */
export async function send(cmd, okText, button) {
  if (button) button.disabled = true;
  try {
    // Kept across a dropped connection and sent again with the same id: a dispatcher's order
    // or casualty record is never applied twice, and never silently lost.
    const ack = await app.conn.command(cmd, undefined, { keep: true });
    if (okText) toast(okText, 'ok');
    return ack;
  } catch (e) {
    toast(errorText(e), 'error', 9000);
    throw e;
  } finally {
    if (button) button.disabled = false;
  }
}

const quiet = () => {};

function hazardActions(h) {
  const open = OPEN_HAZARD.has(h.status);
  const out = [];
  if (h.status === 'reported') {
    out.push(btn('act-confirm', 'act.confirm', (ev) => send({ type: 'confirm_hazard', hazard_id: h.id }, t('done.confirmed', { id: h.id }), ev.currentTarget).catch(quiet), 'primary'));
  }
  if (h.status === 'confirmed') {
    out.push(btn('act-start-handling', 'act.start_handling', (ev) => send({ type: 'start_hazard_handling', hazard_id: h.id }, t('done.handling', { id: h.id }), ev.currentTarget).catch(quiet)));
  }
  if (open) {
    out.push(btn('act-assign', 'act.assign', () => showSuggestions(h), 'primary'));
    out.push(btn('act-escalate', 'act.escalate', () => escalate(h), 'warn'));
    if (!incidentOf(h.id)) out.push(btn('act-open-incident', 'act.open_incident', () => openIncident(h)));
  }
  if (h.status === 'confirmed' || h.status === 'being_handled') {
    out.push(btn('act-eliminate', 'act.eliminate', () => reasonThen('act.eliminate', { type: 'eliminate_hazard', hazard_id: h.id }, t('done.eliminated', { id: h.id })), 'ok'));
  }
  if (h.status === 'reported' || h.status === 'confirmed') {
    out.push(btn('act-false-alarm', 'act.false_alarm', () => reasonThen('act.false_alarm', { type: 'mark_false_alarm', hazard_id: h.id }, t('done.false_alarm', { id: h.id }))));
  }
  return out;
}

async function reasonThen(titleKey, cmd, okText) {
  const r = await formDialog({ title: t(titleKey), fields: [{ name: 'reason', label: t('field.reason'), type: 'text' }], submit: 'send' });
  if (!r) return;
  if (r.reason && r.reason.trim()) cmd.reason = r.reason.trim();
  await send(cmd, okText).catch(quiet);
}

async function escalate(h) {
  const idx = SEV_ORDER.indexOf(h.severity);
  const sevOptions = [{ value: '', label: t('escalate.keep_severity', { s: v('severity', h.severity) }) }]
    .concat(SEV_ORDER.slice(idx + 1).map((s) => ({ value: s, label: v('severity', s) })));
  const fields = [{ name: 'severity', label: t('field.severity'), type: 'select', options: sevOptions, value: SEV_ORDER[idx + 1] || '' }];
  if (h.kind !== 'breach') fields.push({ name: 'kind', label: t('field.kind'), type: 'select', options: [{ value: '', label: t('escalate.keep_kind', { k: v('hazard_kind', h.kind) }) }, { value: 'breach', label: v('hazard_kind', 'breach') }] });
  fields.push({ name: 'reason', label: t('field.reason'), type: 'text' });
  const r = await formDialog({ title: t('act.escalate') + ' ' + h.id, fields, id: 'escalate-form' });
  if (!r) return;
  const cmd = { type: 'escalate_hazard', hazard_id: h.id };
  if (r.severity) cmd.severity = r.severity;
  if (r.kind) cmd.kind = r.kind;
  if (r.reason && r.reason.trim()) cmd.reason = r.reason.trim();
  await send(cmd, t('done.escalated', { id: h.id })).catch(quiet);
}

async function openIncident(h) {
  const r = await formDialog({
    title: t('act.open_incident'),
    id: 'incident-form',
    fields: [
      { name: 'name', label: t('field.incident_name'), value: `${v('hazard_kind', h.kind)} ${hazardPlace(h)}`.trim() },
      { name: 'post_name', label: t('field.post_name') },
      { name: 'commander', label: t('field.commander') },
    ],
  });
  if (!r) return;
  const cmd = { type: 'open_incident', hazard_id: h.id };
  if (r.name && r.name.trim()) cmd.name = r.name.trim();
  if (r.commander && r.commander.trim()) {
    cmd.post = { position: pos(h), commander: r.commander.trim() };
    if (r.post_name && r.post_name.trim()) cmd.post.name = r.post_name.trim();
  }
  const ack = await send(cmd, t('done.incident_opened')).catch(quiet);
  if (ack && ack.created) app.select('incidents', ack.created);
}

/** The nearest available teams (server's suggestion) with their ETA, each with an assign button. */
async function showSuggestions(h) {
  clear(extraEl);
  extraRedraw = () => showSuggestions(h);
  const cap = el('select', { id: 'suggest-capability', 'aria-label': t('field.capability') },
    el('option', { value: '', text: t('assign.any_capability') }),
    ...['boat', 'pump', 'engineering', 'medical', 'lighting', 'communications', 'diving', 'heavy_machinery'].map((c) => el('option', { value: c, text: v('capability', c) })));
  const note = el('input', { type: 'text', id: 'assign-note', placeholder: t('assign.note_placeholder'), 'aria-label': t('assign.note') });
  const list = el('ul', { id: 'suggestions', class: 'suggestions' });
  const box = el('div', { class: 'assign-box' },
    el('h3', { text: t('assign.title') }),
    el('div', { class: 'row' }, el('label', { for: 'suggest-capability', text: t('field.capability') }), cap),
    note, list);
  extraEl.append(box);
  const load = async () => {
    clear(list).append(el('li', { class: 'muted', text: t('loading') }));
    const q = { type: 'nearest_teams', point: pos(h), limit: 8 };
    if (cap.value) q.capability = cap.value;
    try {
      const r = await app.conn.query(q);
      clear(list);
      if (!r.teams || !r.teams.length) list.append(el('li', { class: 'muted', text: t('assign.none') }));
      for (const s of r.teams || []) {
        const tm = get('teams', s.team_id);
        list.append(el('li', { dataset: { teamId: s.team_id } },
          el('div', { class: 'item-main' },
            el('div', { class: 'item-title' }, dataSpan(tm ? tm.name : s.team_id), ' ', dataSpan(s.team_id, 'muted')),
            el('div', { class: 'item-sub' },
              el('span', { text: tm ? `${v('team_kind', tm.kind)} · ${t('unit.people', { n: tm.headcount })}` : '' }))),
          el('div', { class: 'item-side' },
            el('span', { class: 'eta', text: t('assign.eta', { eta: fmtDuration(s.eta_s) }) }),
            el('span', { class: 'muted', text: fmtKm(s.distance_m) })),
          el('button', {
            type: 'button', class: 'btn primary assign', text: t('assign.button'),
            onclick: async (ev) => {
              const cmd = { type: 'create_assignment', team_id: s.team_id, target: { kind: 'hazard', hazard_id: h.id } };
              if (note.value.trim()) cmd.note = note.value.trim();
              const ack = await send(cmd, tp('done.assigned', { team: tm ? tm.name : s.team_id, id: h.id }), ev.currentTarget).catch(quiet);
              if (ack) load();
            },
          })));
      }
    } catch (e) {
      clear(list).append(el('li', { class: 'danger', text: errorText(e) }));
    }
  };
  cap.addEventListener('change', load);
  await load();
}

function shelterActions(s) {
  const out = [];
  if (!s.open) out.push(btn('act-open-shelter', 'act.open_shelter', (ev) => openShelter(s, ev.currentTarget), 'primary'));
  else out.push(btn('act-close-shelter', 'act.close_shelter', (ev) => send({ type: 'close_shelter', shelter_id: s.id }, tp('done.shelter_closed', { name: s.name }), ev.currentTarget).catch(quiet)));
  return out;
}

async function openShelter(s, button) {
  try {
    await send({ type: 'open_shelter', shelter_id: s.id }, tp('done.shelter_opened', { name: s.name }), button);
  } catch (e) {
    if (e && e.code === 'shelter_in_flood_area') offerOverride(s, e);
  }
}

/** The shelter lies in a breached levee's flood area: say so, and let the dispatcher override with a reason. */
function offerOverride(s, e) {
  clear(extraEl);
  extraRedraw = () => offerOverride(s, e);
  const reason = el('input', { type: 'text', id: 'override-reason', placeholder: t('override.placeholder'), 'aria-label': t('field.reason') });
  const form = el('form', { class: 'override-box', id: 'override-form' },
    el('h3', { class: 'danger', text: t('override.title') }),
    el('p', { class: 'data', text: errorText(e) }),
    el('label', { class: 'field', for: 'override-reason' }, el('span', { text: t('field.reason') }), reason),
    el('div', { class: 'form-buttons' },
      el('button', { type: 'button', class: 'btn', text: t('cancel'), onclick: () => clear(extraEl) }),
      el('button', { type: 'submit', class: 'btn danger', id: 'act-open-override', text: t('override.send') })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!reason.value.trim()) { toast(t('override.need_reason'), 'error'); reason.focus(); return; }
    const ack = await send({ type: 'open_shelter', shelter_id: s.id, override_flood_risk: reason.value.trim() }, tp('done.shelter_opened', { name: s.name }), form.querySelector('#act-open-override')).catch(quiet);
    if (ack) clear(extraEl);
  });
  extraEl.append(form);
  reason.focus();
}

function evacuationActions(e) {
  if (e.status !== 'active') return [];
  return [btn('act-lift-evacuation', 'act.lift_evacuation', async () => {
    const r = await formDialog({ title: t('act.lift_evacuation'), intro: t('lift.confirm', { name: e.name }), fields: [], submit: 'act.lift_evacuation' });
    if (r) send({ type: 'lift_evacuation_order', evacuation_id: e.id }, tp('done.lifted', { name: e.name })).catch(quiet);
  })];
}

function teamActions(tm) {
  const out = [];
  if (tm.assignment) {
    out.push(btn('act-cancel-assignment', 'act.cancel_assignment', () => reasonThen('act.cancel_assignment', { type: 'cancel_assignment', assignment_id: tm.assignment }, t('done.cancelled'))));
  }
  if (!tm.assignment) {
    const on = tm.on_duty !== false;
    out.push(btn('act-duty', on ? 'act.off_duty' : 'act.on_duty', (ev) => send({ type: 'set_team_duty', team_id: tm.id, on_duty: !on }, t('done.duty'), ev.currentTarget).catch(quiet)));
  }
  return out;
}

function incidentActions(i) {
  if (i.open === false || i.closed_at) return [];
  const stages = ['protect_ends', 'advance', 'close'];
  const next = stages[stages.indexOf(i.stage) + 1];
  const out = [];
  if (next) out.push(btn('act-incident-stage', 'act.next_stage', (ev) => send({ type: 'advance_incident_stage', incident_id: i.id, stage: next }, t('done.stage', { stage: v('incident_stage', next) }), ev.currentTarget).catch(quiet)));
  out.push(btn('act-close-incident', 'act.close_incident', async () => {
    const r = await formDialog({ title: t('act.close_incident'), intro: t('close_incident.confirm', { name: i.name || i.id }), fields: [], submit: 'act.close_incident' });
    if (r) send({ type: 'close_incident', incident_id: i.id }, t('done.incident_closed')).catch(quiet);
  }));
  return out;
}

function patrolActions(sec) {
  return [btn('act-patrol-interval', 'act.patrol_interval', async () => {
    const r = await formDialog({
      title: t('act.patrol_interval'),
      id: 'interval-form',
      fields: [{ name: 'interval', label: t('field.interval_min'), type: 'number', min: 1, max: 1440, value: sec.interval_override_min ?? '' }],
    });
    if (!r) return;
    send({ type: 'set_patrol_interval', section_id: sec.id, interval_min: r.interval === null ? null : Math.round(r.interval) }, t('done.interval')).catch(quiet);
  })];
}

const ACTIONS = {
  hazards: hazardActions, shelters: shelterActions, evacuations: evacuationActions, teams: teamActions,
  incidents: incidentActions, patrol_sections: patrolActions,
};

// ---- the hydrograph --------------------------------------------------------------------------

const hgAsked = new Map(); // gauge id → when last asked (ms), so a stream of readings asks at most every 3 s

function loadHydrograph(g) {
  const last = hgAsked.get(g.id) || 0;
  if (Date.now() - last < 3000 && extraEl.querySelector('.hg-box')) return;
  hgAsked.set(g.id, Date.now());
  const q = { type: 'hydrograph', gauge_id: g.id };
  const at = app.reviewing && app.reviewSeq ? app.reviewSeq() : undefined;
  app.conn.query(q, at).then((h) => {
    if (!app.selected || app.selected.id !== g.id) return;
    let box = extraEl.querySelector('.hg-box');
    if (!box) {
      box = el('div', { class: 'hg-box' });
      extraEl.append(box);
    }
    clear(box).append(el('h3', { text: t('gauge.hydrograph') }), hydrographSvg(h),
      el('p', { class: 'muted', text: t('gauge.hg_summary', {
        n: (h.readings || []).length,
        warning: fmtDuration(((h.time_above_ms && h.time_above_ms.warning) || 0) / 1000),
        peak: h.peak ? h.peak.level_m.toFixed(2) : '—',
      }) }));
  }).catch((e) => {
    clear(extraEl).append(el('p', { class: 'danger', text: errorText(e) }));
  });
}

