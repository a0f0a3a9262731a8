// The event feed (#feed): what happened, newest first, in words, capped. Live events and a
// review's events are kept apart; the feed shows the review's while reviewing. Positions and
// readings are too frequent to read and are left out (the map shows them).

import { t, v, lang, fmtTime } from '/shared/i18n.js';
import { app, entityName, leveeName, clock } from './model.js';
import { el, clear, tp, fmtChainage } from './util.js';

const CAP = 200;
const SKIP = new Set(['team_moved', 'reading_recorded', 'patrol_point_checked_in', 'supply_changed']);
const live = [];
const review = [];
let dirty = false;
let root = null;

export function initFeed(node) {
  root = node;
}

function push(list, ev, seq, timeMs) {
  if (!ev || SKIP.has(ev.type)) return false;
  list.unshift({ ev, seq, timeMs });
  if (list.length > CAP) list.length = CAP;
  return true;
}

export function feedEvent(ev, seq, timeMs) {
  if (push(live, ev, seq, timeMs) && !app.reviewing) dirty = true;
}

export function feedReviewEvent(ev, seq, timeMs) {
  if (push(review, ev, seq, timeMs) && app.reviewing) dirty = true;
}

/**
 * After the first snapshot the feed would be empty until something happens: it starts instead
 * with what the state remembers, as the events that made it (hazards reported, orders issued,
 * incidents opened, alerts still open, the duty log and a drill's cues), newest first.
 */
export function seedFeed(state) {
  if (live.length || !state || !state.layers) return;
  const items = [];
  const add = (timeMs, ev) => { if (timeMs) items.push({ ev, seq: 0, timeMs }); };
  const L = (n) => state.layers[n] || new Map();
  for (const h of L('hazards').values()) add(h.reported_at, { type: 'hazard_reported', hazard: h });
  for (const o of L('evacuations').values()) add(o.issued_at, { type: 'evacuation_ordered', order: o });
  for (const i of L('incidents').values()) add(i.opened_at, { type: 'incident_opened', incident: i });
  for (const a of L('alerts').values()) if (a.state !== 'resolved') add(a.raised_at, { type: 'alert_raised', alert: a });
  for (const j of L('journal').values()) {
    if (j.id && j.id.startsWith('NT-')) add(j.at, { type: 'note_recorded', note: j });
    else if (j.issued_at) add(j.issued_at, { type: 'cue_issued', cue: j });
  }
  items.sort((x, y) => y.timeMs - x.timeMs);
  live.push(...items.slice(0, CAP));
  dirty = true;
}

export function clearReviewFeed() {
  review.length = 0;
  dirty = true;
}

export function markFeedDirty() {
  dirty = true;
}

function itemNode({ ev, seq, timeMs }) {
  const d = describe(ev);
  const li = el('li', { class: `feed-item ${d.cls || ''}`, dataset: { seq: String(seq), type: ev.type } },
    el('span', { class: 'feed-time', text: fmtTime(timeMs, clock.now()) }),
    el('span', { class: 'feed-text' }, d.text));
  if (d.ref) {
    li.classList.add('link');
    li.tabIndex = 0;
    li.addEventListener('click', () => app.select(d.ref[0], d.ref[1]));
  }
  return li;
}

let shownList = null;
let shownTop = null; // the newest item rendered

/**
 * Re-render the feed if it changed (at most once per frame): new items are put on top and the
 * oldest dropped; the whole list is rebuilt only for a language change or a switch to or from a
 * review.
 */
export function renderFeed(force = false) {
  if (!root || (!dirty && !force)) return;
  dirty = false;
  const list = app.reviewing ? review : live;
  const fresh = list.length && shownList === list && !force ? list.indexOf(shownTop) : -1;
  if (fresh >= 0) {
    const frag = document.createDocumentFragment();
    for (let i = 0; i < fresh; i++) frag.append(itemNode(list[i]));
    const empty = root.querySelector('.feed-empty');
    if (empty) empty.remove();
    root.prepend(frag);
    while (root.children.length > list.length) root.lastElementChild.remove();
  } else {
    const frag = document.createDocumentFragment();
    for (const it of list) frag.append(itemNode(it));
    clear(root).append(frag);
    if (!list.length) root.append(el('li', { class: 'feed-empty', text: t('feed.empty') }));
  }
  shownList = list;
  shownTop = list[0] || null;
}

const hz = (id) => entityName('hazards', id);
const tm = (id) => entityName('teams', id);
const sh = (id) => entityName('shelters', id);
const gg = (id) => entityName('gauges', id);

/** {text, ref: [layer, id], cls} of an event. */
export function describe(e) {
  switch (e.type) {
    case 'hazard_reported': {
      const h = e.hazard || {};
      const where = h.levee ? `${leveeName(h.levee.levee_id)} ${h.levee.chainage || fmtChainage(h.levee.chainage_m)}` : '';
      return { text: tp('ev.hazard_reported', { id: h.id, kind: v('hazard_kind', h.kind), severity: v('severity', h.severity), where }), ref: ['hazards', h.id], cls: `hot sev-${h.severity}` };
    }
    case 'hazard_status_changed':
      return { text: tp('ev.hazard_status', { name: hz(e.hazard_id), to: v('hazard_status', e.to) }), ref: ['hazards', e.hazard_id], cls: e.to === 'eliminated' ? 'good' : '' };
    case 'hazard_escalated':
      return { text: tp('ev.hazard_escalated', { name: hz(e.hazard_id), severity: v('severity', e.to_severity), kind: v('hazard_kind', e.to_kind) }), ref: ['hazards', e.hazard_id], cls: 'hot' };
    case 'team_registered':
      return { text: tp('ev.team_registered', { name: (e.team && e.team.name) || '' }), ref: ['teams', e.team && e.team.id] };
    case 'team_duty_changed':
      return { text: tp(e.on_duty ? 'ev.team_on_duty' : 'ev.team_off_duty', { name: tm(e.team_id) }), ref: ['teams', e.team_id] };
    case 'assignment_created': {
      const a = e.assignment || {};
      return { text: tp('ev.assignment_created', { team: tm(a.team_id), target: targetText(a.target) }), ref: ['teams', a.team_id] };
    }
    case 'assignment_state_changed':
      return { text: tp('ev.assignment_state', { team: tm(e.team_id), to: v('assignment_state', e.to) }), ref: ['teams', e.team_id] };
    case 'shelter_open_changed':
      return { text: tp(e.open ? (e.flood_risk_override ? 'ev.shelter_opened_override' : 'ev.shelter_opened') : 'ev.shelter_closed', { name: sh(e.shelter_id) }), ref: ['shelters', e.shelter_id], cls: e.flood_risk_override ? 'hot' : '' };
    case 'evacuees_checked_in':
      return { text: tp('ev.checked_in', { n: e.count, name: sh(e.shelter_id), occ: e.occupancy }), ref: ['shelters', e.shelter_id] };
    case 'evacuees_checked_out':
      return { text: tp('ev.checked_out', { n: e.count, name: sh(e.shelter_id) }), ref: ['shelters', e.shelter_id] };
    case 'supply_set':
      return { text: tp('ev.supply_set', { name: sh(e.shelter_id), item: v('supply_item', e.item) }), ref: ['shelters', e.shelter_id] };
    case 'threshold_crossed':
      return { text: tp(e.direction === 'falling' ? 'ev.threshold_falling' : 'ev.threshold_rising', { name: gg(e.gauge_id), threshold: v('threshold', e.threshold), level: Number(e.level_m).toFixed(2) }), ref: ['gauges', e.gauge_id], cls: e.direction === 'falling' ? 'good' : 'hot' };
    case 'gauge_forecast_entered':
      return { text: tp('ev.forecast', { name: gg(e.gauge_id), m: Number(e.forecast && e.forecast.peak_m).toFixed(2), at: fmtTime(e.forecast && e.forecast.peak_at, clock.now()) }), ref: ['gauges', e.gauge_id] };
    case 'response_level_changed': {
      const lvl = e.change && e.change.level;
      return { text: lvl ? tp('ev.response_set', { where: entityName('response', e.jurisdiction) || e.jurisdiction, level: v('response_level', lvl) }) : tp('ev.response_lifted', { where: entityName('response', e.jurisdiction) || e.jurisdiction }), cls: 'hot' };
    }
    case 'evacuation_ordered': {
      const o = e.order || {};
      return { text: tp('ev.evac_ordered', { name: o.name || o.id, n: o.population ?? 0 }), ref: ['evacuations', o.id], cls: 'hot' };
    }
    case 'evacuation_lifted':
      return { text: tp('ev.evac_lifted', { name: entityName('evacuations', e.evacuation_id) }), ref: ['evacuations', e.evacuation_id], cls: 'good' };
    case 'evacuees_left':
      return { text: tp('ev.evacuees_left', { n: e.count, way: v('departure_way', e.way), name: e.evacuation_id ? entityName('evacuations', e.evacuation_id) : '' }), ref: e.evacuation_id ? ['evacuations', e.evacuation_id] : null };
    case 'cell_status_reported':
      return { text: tp('ev.cell_status', { name: entityName('grid_cells', e.cell_id), status: v('cell_status', e.report && e.report.status) }), ref: ['grid_cells', e.cell_id] };
    case 'casualty_recorded': {
      const r = e.record || {};
      return { text: tp('ev.casualty', { kind: v('casualty_kind', r.kind), n: r.count, place: r.place || '' }), ref: ['casualties', r.id], cls: 'hot' };
    }
    case 'casualty_corrected':
      return { text: tp('ev.casualty_corrected', { id: e.casualty_id }), ref: ['casualties', e.casualty_id] };
    case 'people_rescued':
      return { text: tp('ev.rescued', { n: e.count, id: e.casualty_id }), ref: ['casualties', e.casualty_id], cls: 'good' };
    case 'casualties_confirmed':
      return { text: tp('ev.casualties_confirmed') };
    case 'patrol_shift_assigned':
      return { text: tp('ev.patrol_shift', { team: tm(e.shift && e.shift.team_id), section: entityName('patrol_sections', e.section_id) }), ref: ['patrol_sections', e.section_id] };
    case 'patrol_interval_set':
      return { text: tp('ev.patrol_interval', { section: entityName('patrol_sections', e.section_id), n: e.interval_min ?? '—' }), ref: ['patrol_sections', e.section_id] };
    case 'patrol_requirement_changed':
      return { text: tp('ev.patrol_requirement', { levee: leveeName(e.levee_id), stage: v('water_stage', e.stage) }) };
    case 'alert_raised': {
      const a = e.alert || {};
      return { text: tp('ev.alert_raised', { kind: v('alert_kind', a.kind), subject: entityName(a.layer, a.subject_id) }), ref: ['alerts', a.id], cls: 'hot' };
    }
    case 'alert_acknowledged':
      return { text: tp('ev.alert_acked', { id: e.alert_id }), ref: ['alerts', e.alert_id] };
    case 'alert_resolved':
      return { text: tp('ev.alert_resolved', { id: e.alert_id }), ref: ['alerts', e.alert_id], cls: 'good' };
    case 'incident_opened': {
      const i = e.incident || {};
      return { text: tp('ev.incident_opened', { name: i.name || i.id }), ref: ['incidents', i.id], cls: 'hot' };
    }
    case 'command_post_set':
      return { text: tp('ev.command_post', { name: entityName('incidents', e.incident_id) }), ref: ['incidents', e.incident_id] };
    case 'incident_team_changed':
      return { text: tp('ev.incident_team', { team: tm(e.team_id), state: v('commitment_state', e.commitment && e.commitment.state), name: entityName('incidents', e.incident_id) }), ref: ['incidents', e.incident_id] };
    case 'incident_stage_reached':
      return { text: tp('ev.incident_stage', { name: entityName('incidents', e.incident_id), stage: v('incident_stage', e.stage && e.stage.stage) }), ref: ['incidents', e.incident_id], cls: 'good' };
    case 'incident_closed':
      return { text: tp('ev.incident_closed', { name: entityName('incidents', e.incident_id) }), ref: ['incidents', e.incident_id], cls: 'good' };
    case 'note_recorded':
      return { text: tp('ev.note', { text: (e.note && (lang() === 'en' && e.note.text_en ? e.note.text_en : e.note.text)) || '' }) };
    case 'exercise_started':
      return { text: tp('ev.exercise_started', { title: (e.exercise && e.exercise.title) || '' }) };
    case 'cue_issued':
      return { text: tp('ev.cue', { text: (e.cue && (lang() === 'en' && e.cue.text_en ? e.cue.text_en : e.cue.text)) || '' }), cls: 'cue' };
    case 'materials_issued':
      return { text: tp('ev.materials_issued', { id: e.shipment && e.shipment.id }) };
    case 'materials_delivered':
      return { text: tp('ev.materials_delivered', { id: e.shipment_id }) };
    case 'materials_requested':
      return { text: tp('ev.materials_requested', { team: tm(e.request && e.request.team_id) }) };
    case 'reference_corrected':
      return { text: tp('ev.corrected', { field: v('correction_field', e.correction && e.correction.change && e.correction.change.field) }) };
    default:
      return { text: tp('ev.other', { type: e.type }) };
  }
}

export function targetText(tg) {
  if (!tg) return '';
  switch (tg.kind) {
    case 'hazard': return hz(tg.hazard_id);
    case 'shelter': return sh(tg.shelter_id);
    case 'evacuation_zone': return entityName('evacuations', tg.evacuation_id);
    case 'patrol_stretch': return `${leveeName(tg.levee_id)} ${fmtChainage(tg.from_m)}–${fmtChainage(tg.to_m)}`;
    case 'trapped': return tg.casualty_id;
    default: return '';
  }
}
