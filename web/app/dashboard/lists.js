// The filterable lists (hazards, teams, shelters, incidents, evacuations, gauges) and the alert
// panel. Clicking an item selects it: the map flies to it and its detail panel opens.

import { t, v, lang, fmtAgo, fmtNumber } from '/shared/i18n.js';
import { app, layer, get, clock, hazardPlace, teamStatus, entityName, leveeName } from './model.js';
import { el, dataSpan, errorText, toast } from './util.js';
import { syncKeyed } from './keyed.js';
import { gaugeStage } from './maplayers.js';

const SEV_RANK = { critical: 3, major: 2, general: 1 };
const OPEN_HAZARD = new Set(['reported', 'confirmed', 'being_handled']);
const minute = () => Math.floor(clock.now() / 60000);

function filterText(id) {
  const i = document.getElementById(id);
  return i ? i.value.trim().toLowerCase() : '';
}
function filterValue(id) {
  const i = document.getElementById(id);
  return i ? i.value : '';
}
const has = (q, ...xs) => !q || xs.some((x) => x && String(x).toLowerCase().includes(q));

function selectedCls(layerName, id) {
  return app.selected && app.selected.layer === layerName && app.selected.id === id ? ' selected' : '';
}

function item(layerName, id, dataset, children, extraCls = '') {
  return el('li', {
    class: ('item' + extraCls).trim(),
    tabindex: 0,
    dataset,
    onclick: (ev) => { if (!ev.target.closest('button, input, form')) app.select(layerName, id); },
    onkeydown: (ev) => { if (ev.key === 'Enter' && ev.target === ev.currentTarget) app.select(layerName, id); },
  }, children);
}

const patchSel = (layerName, id) => (node) => node.classList.toggle('selected', !!selectedCls(layerName, id));

export function count(id, n, total) {
  const c = document.getElementById(id);
  if (c) c.textContent = total === undefined || total === n ? fmtNumber(n) : `${fmtNumber(n)}/${fmtNumber(total)}`;
}

// ---- hazards ---------------------------------------------------------------------------------

export function renderHazards() {
  const q = filterText('hazard-filter');
  const st = filterValue('hazard-status-filter');
  const all = [...layer('hazards').values()];
  const shown = all.filter((h) => {
    if (st === 'open' && !OPEN_HAZARD.has(h.status)) return false;
    if (st && st !== 'open' && h.status !== st) return false;
    return has(q, h.id, v('hazard_kind', h.kind), hazardPlace(h), h.description, h.levee && h.levee.chainage);
  });
  shown.sort((a, b) => (OPEN_HAZARD.has(b.status) - OPEN_HAZARD.has(a.status))
    || (SEV_RANK[b.severity] - SEV_RANK[a.severity])
    || ((b.reported_at || 0) - (a.reported_at || 0)));
  count('hazard-count', all.filter((h) => OPEN_HAZARD.has(h.status)).length);
  const m = minute();
  syncKeyed(document.getElementById('hazard-list'), shown.slice(0, 400).map((h) => ({
    key: h.id,
    sig: [h.status, h.severity, h.kind, h.levee && h.levee.chainage, lang(), m, h.updated_at].join('|'),
    patch: patchSel('hazards', h.id),
    build: () => item('hazards', h.id, { hazardId: h.id, status: h.status, severity: h.severity }, [
      el('span', { class: `badge sev-${h.severity}`, text: v('severity', h.severity) }),
      el('div', { class: 'item-main' },
        el('div', { class: 'item-title' }, el('strong', { text: v('hazard_kind', h.kind) }), ' ', dataSpan(h.id, 'muted')),
        el('div', { class: 'item-sub' }, dataSpan(hazardPlace(h) || t('hazard.off_levee')))),
      el('div', { class: 'item-side' },
        el('span', { class: `status st-${h.status}`, text: v('hazard_status', h.status) }),
        el('span', { class: 'ago', text: fmtAgo(h.reported_at, clock.now()) })),
    ], selectedCls('hazards', h.id)),
  })));
}

// ---- teams -------------------------------------------------------------------------------------

function assignmentText(tm) {
  const a = tm.assignment && get('assignments', tm.assignment);
  if (!a) return '';
  const tg = a.target || {};
  const what = tg.kind === 'hazard' ? entityName('hazards', tg.hazard_id)
    : tg.kind === 'shelter' ? entityName('shelters', tg.shelter_id)
      : tg.kind === 'evacuation_zone' ? entityName('evacuations', tg.evacuation_id)
        : tg.kind === 'patrol_stretch' ? leveeName(tg.levee_id)
          : tg.kind === 'trapped' ? tg.casualty_id : '';
  return what;
}

export function renderTeams() {
  const q = filterText('team-filter');
  const st = filterValue('team-status-filter');
  const kind = filterValue('team-kind-filter');
  const all = [...layer('teams').values()];
  const order = { on_scene: 0, en_route: 1, assigned: 2, available: 3, off_duty: 4 };
  const shown = all.filter((tm) => {
    const s = teamStatus(tm);
    if (st && s !== st) return false;
    if (kind && tm.kind !== kind) return false;
    return has(q, tm.id, tm.name, v('team_kind', tm.kind), ...(tm.capabilities || []).map((c) => v('capability', c)));
  });
  shown.sort((a, b) => (order[teamStatus(a)] - order[teamStatus(b)]) || (a.id < b.id ? -1 : 1));
  count('team-count', all.filter((tm) => teamStatus(tm) !== 'off_duty').length, all.length);
  const m = minute();
  syncKeyed(document.getElementById('team-list'), shown.map((tm) => {
    const s = teamStatus(tm);
    const asg = assignmentText(tm);
    return {
      key: tm.id,
      sig: [s, tm.headcount, asg, lang(), tm.fix ? Math.floor((tm.fix.time_ms || 0) / 60000) : '', m].join('|'),
      patch: patchSel('teams', tm.id),
      build: () => item('teams', tm.id, { teamId: tm.id, status: s, kind: tm.kind }, [
        el('span', { class: `tm-dot st-${s}`, text: t('glyph.team.' + tm.kind) }),
        el('div', { class: 'item-main' },
          el('div', { class: 'item-title' }, dataSpan(tm.name), ' ', dataSpan(tm.id, 'muted')),
          el('div', { class: 'item-sub' },
            el('span', { text: `${v('team_kind', tm.kind)} · ${t('unit.people', { n: tm.headcount })}` }),
            asg ? el('span', { text: ' → ' }) : null, asg ? dataSpan(asg) : null)),
        el('div', { class: 'item-side' },
          el('span', { class: `status tst-${s}`, text: v('team_status', s) }),
          el('span', { class: 'ago', text: tm.fix ? fmtAgo(tm.fix.time_ms, clock.now()) : t('team.no_fix') })),
      ], selectedCls('teams', tm.id)),
    };
  }));
}

// ---- shelters ----------------------------------------------------------------------------------

export function renderShelters() {
  const q = filterText('shelter-filter');
  const st = filterValue('shelter-open-filter');
  const all = [...layer('shelters').values()];
  const shown = all.filter((s) => {
    if (st === 'open' && !s.open) return false;
    if (st === 'closed' && s.open) return false;
    return has(q, s.id, s.name, s.town);
  });
  shown.sort((a, b) => (b.open - a.open) || ((b.occupancy || 0) - (a.occupancy || 0)) || (a.id < b.id ? -1 : 1));
  count('shelter-count', all.filter((s) => s.open).length, all.length);
  syncKeyed(document.getElementById('shelter-list'), shown.map((s) => {
    const ratio = s.capacity ? s.occupancy / s.capacity : 0;
    const days = s.days_of_supply_left;
    return {
      key: s.id,
      sig: [s.open, s.occupancy, s.capacity, days, s.in_breach_flood_area, lang()].join('|'),
      patch: patchSel('shelters', s.id),
      build: () => {
        const bar = el('span', { class: 'occ-bar' }, el('i', { class: ratio >= 1 ? 'full' : ratio >= 0.9 ? 'high' : 'ok' }));
        bar.firstChild.style.width = `${Math.min(100, Math.round(ratio * 100))}%`;
        return item('shelters', s.id, { shelterId: s.id, open: String(!!s.open) }, [
          el('span', { class: `badge ${s.open ? 'open' : 'closed'}`, text: s.open ? t('shelter.open') : t('shelter.closed') }),
          el('div', { class: 'item-main' },
            el('div', { class: 'item-title' }, dataSpan(s.name)),
            el('div', { class: 'item-sub' }, bar, ' ',
              el('span', { text: t('shelter.occupancy', { n: fmtNumber(s.occupancy || 0), cap: fmtNumber(s.capacity || 0) }) }))),
          el('div', { class: 'item-side' },
            days === null || days === undefined ? el('span', { class: 'muted', text: t('shelter.no_supply_figure') })
              : el('span', { class: days < 1 ? 'warn' : '', text: t('shelter.days', { n: days.toFixed(1) }) }),
            s.in_breach_flood_area ? el('span', { class: 'danger', text: t('shelter.in_flood') }) : null),
        ], selectedCls('shelters', s.id));
      },
    };
  }));
}

// ---- incidents -------------------------------------------------------------------------------

export function renderIncidents() {
  const q = filterText('incident-filter');
  const st = filterValue('incident-open-filter');
  const all = [...layer('incidents').values()];
  const isOpen = (i) => i.open !== false && !i.closed_at;
  const shown = all.filter((i) => {
    if (st === 'open' && !isOpen(i)) return false;
    if (st === 'closed' && isOpen(i)) return false;
    return has(q, i.id, i.name, i.hazard_id);
  });
  shown.sort((a, b) => (isOpen(b) - isOpen(a)) || ((b.opened_at || 0) - (a.opened_at || 0)));
  count('incident-count', all.filter(isOpen).length);
  syncKeyed(document.getElementById('incident-list'), shown.map((i) => {
    const teams = Object.values(i.teams || {});
    const onScene = teams.filter((c) => c.state === 'on_scene').length;
    const coming = teams.filter((c) => c.state === 'requested' || c.state === 'en_route').length;
    return {
      key: i.id,
      sig: [i.headcount_on_scene, onScene, coming, i.stage, isOpen(i), lang()].join('|'),
      patch: patchSel('incidents', i.id),
      build: () => item('incidents', i.id, { incidentId: i.id, open: String(isOpen(i)) }, [
        el('span', { class: `badge ${isOpen(i) ? 'inc-open' : 'closed'}`, text: isOpen(i) ? t('incident.open') : t('incident.closed') }),
        el('div', { class: 'item-main' },
          el('div', { class: 'item-title' }, dataSpan(i.name || i.id), ' ', dataSpan(i.id, 'muted')),
          el('div', { class: 'item-sub' },
            el('span', { text: t('incident.teams_line', { on: onScene, coming }) }),
            i.stage ? el('span', { text: ' · ' + v('incident_stage', i.stage) }) : null)),
        el('div', { class: 'item-side' },
          el('strong', { class: 'big-num', text: t('unit.people', { n: fmtNumber(i.headcount_on_scene || 0) }) }),
          el('span', { class: 'muted', text: t('incident.on_scene') })),
      ], selectedCls('incidents', i.id)),
    };
  }));
}

// ---- evacuation orders -------------------------------------------------------------------------

export function renderEvacuations() {
  const all = [...layer('evacuations').values()];
  all.sort((a, b) => ((a.status === 'active') ? 0 : 1) - ((b.status === 'active') ? 0 : 1) || (b.issued_at || 0) - (a.issued_at || 0));
  count('evacuation-count', all.filter((e) => e.status === 'active').length);
  syncKeyed(document.getElementById('evacuation-list'), all.map((e) => {
    const remaining = e.remaining ?? Math.max(0, (e.population || 0) - (e.evacuated || 0));
    return {
      key: e.id,
      sig: [e.status, e.population, e.evacuated, remaining, lang()].join('|'),
      patch: patchSel('evacuations', e.id),
      build: () => {
        const bar = el('span', { class: 'occ-bar' }, el('i', { class: 'ok' }));
        bar.firstChild.style.width = `${e.population ? Math.round(((e.evacuated || 0) / e.population) * 100) : 0}%`;
        return item('evacuations', e.id, { evacuationId: e.id, status: e.status }, [
          el('span', { class: `badge ${e.status === 'active' ? 'evac-active' : 'closed'}`, text: v('evacuation_status', e.status) }),
          el('div', { class: 'item-main' },
            el('div', { class: 'item-title' }, dataSpan(e.name), ' ', dataSpan(e.id, 'muted')),
            el('div', { class: 'item-sub' }, bar, ' ', el('span', { text: t('evac.progress', { done: fmtNumber(e.evacuated || 0), total: fmtNumber(e.population || 0) }) }))),
          el('div', { class: 'item-side' },
            el('strong', { class: 'big-num', text: t('unit.people', { n: fmtNumber(remaining) }) }),
            el('span', { class: 'muted', text: t('evac.remaining_short') })),
        ], selectedCls('evacuations', e.id));
      },
    };
  }));
}

// ---- gauges -------------------------------------------------------------------------------------

export function renderGauges() {
  const all = [...layer('gauges').values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  syncKeyed(document.getElementById('gauge-list'), all.map((g) => {
    const stage = gaugeStage(g);
    const l = g.last && g.last.level_m;
    return {
      key: g.id,
      sig: [l, g.rate_of_rise_m_per_h, stage, lang(), minute()].join('|'),
      patch: patchSel('gauges', g.id),
      build: () => item('gauges', g.id, { gaugeId: g.id, stage }, [
        el('span', { class: `badge stage-${stage}`, text: stage === 'none' ? t('gauge.no_reading') : v('water_stage', stage) }),
        el('div', { class: 'item-main' },
          el('div', { class: 'item-title' }, dataSpan(g.name), ' ', dataSpan(g.river || '', 'muted')),
          el('div', { class: 'item-sub' }, el('span', {
            text: g.above_warning_m === null || g.above_warning_m === undefined ? ''
              : t(g.above_warning_m >= 0 ? 'gauge.above_warning' : 'gauge.below_warning', { m: Math.abs(g.above_warning_m).toFixed(2) }),
          }))),
        el('div', { class: 'item-side' },
          el('strong', { class: 'big-num', text: l === null || l === undefined ? '—' : t('unit.level', { n: l.toFixed(2) }) }),
          el('span', { class: 'muted', text: g.rate_of_rise_m_per_h === null || g.rate_of_rise_m_per_h === undefined ? '' : t('gauge.rate', { r: (g.rate_of_rise_m_per_h >= 0 ? '+' : '') + g.rate_of_rise_m_per_h.toFixed(2) }) })),
      ], selectedCls('gauges', g.id)),
    };
  }));
}

// ---- alerts --------------------------------------------------------------------------------------

const openAckForms = new Set();

function alertQualifier(a) {
  if (!a.qualifier) return '';
  if (a.kind === 'gauge_threshold') return v('threshold', a.qualifier);
  if (a.kind === 'depot_low_stock') return v('material_item', a.qualifier);
  if (a.kind === 'asset_threatened') return (a.asset && a.asset.asset_name) || a.qualifier;
  return a.qualifier;
}

export function renderAlerts() {
  const showResolved = document.getElementById('alerts-show-resolved')?.checked;
  const all = [...layer('alerts').values()];
  const rank = { raised: 0, acknowledged: 1, resolved: 2 };
  const shown = all.filter((a) => showResolved || a.state !== 'resolved');
  shown.sort((a, b) => (rank[a.state] - rank[b.state]) || ((b.raised_at || 0) - (a.raised_at || 0)));
  const raised = all.filter((a) => a.state === 'raised').length;
  count('alert-count', raised, all.filter((a) => a.state !== 'resolved').length);
  document.getElementById('alert-count')?.classList.toggle('hot', raised > 0);
  const m = minute();
  syncKeyed(document.getElementById('alerts'), shown.slice(0, 300).map((a) => ({
    key: a.id,
    sig: [a.state, a.acknowledged && a.acknowledged.note, lang(), m, app.reviewing, app.conn && app.conn.auth && app.conn.auth.role].join('|'),
    patch: patchSel('alerts', a.id),
    build: () => {
      const subject = entityName(a.layer, a.subject_id);
      const q = alertQualifier(a);
      const li = item('alerts', a.id, { alertId: a.id, kind: a.kind, state: a.state }, [
        el('div', { class: 'item-main' },
          el('div', { class: 'item-title' }, el('strong', { text: v('alert_kind', a.kind) }),
            q ? el('span', { text: ' · ' }) : null,
            q ? el('span', { class: a.kind === 'gauge_threshold' || a.kind === 'depot_low_stock' ? '' : 'data', text: q }) : null),
          el('div', { class: 'item-sub' }, dataSpan(subject)),
          a.acknowledged ? el('div', { class: 'item-sub ack-note' },
            el('span', { text: t('alert.acked_by', { by: a.acknowledged.by || '' }) }), ' ', dataSpan(a.acknowledged.note || '')) : null),
        el('div', { class: 'item-side' },
          el('span', { class: `status ast-${a.state}`, text: v('alert_state', a.state) }),
          el('span', { class: 'ago', text: fmtAgo(a.raised_at, clock.now()) }),
          a.state === 'raised' && !app.reviewing && app.conn && app.conn.auth && app.conn.auth.role === 'dispatcher' ? el('button', {
            type: 'button', class: 'btn small ack', text: t('alert.ack'),
            onclick: (ev) => { ev.stopPropagation(); openAckForm(li, a); },
          }) : null),
      ], ` al-${a.state}` + selectedCls('alerts', a.id));
      if (a.message) li.title = a.message;
      return li;
    },
  })), { keep: (k) => openAckForms.has(k) });
}

function openAckForm(li, a) {
  if (li.querySelector('form')) return;
  openAckForms.add(a.id);
  const note = el('input', { type: 'text', class: 'ack-input', placeholder: t('alert.note_placeholder'), 'aria-label': t('alert.note') });
  const close = () => { openAckForms.delete(a.id); form.remove(); renderAlerts(); };
  const form = el('form', { class: 'ack-form' }, note,
    el('button', { type: 'submit', class: 'btn small primary ack-send', text: t('alert.ack_send') }),
    el('button', { type: 'button', class: 'btn small', text: t('cancel'), onclick: close }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const cmd = { type: 'acknowledge_alert', alert_id: a.id };
    if (note.value.trim()) cmd.note = note.value.trim();
    form.querySelectorAll('button, input').forEach((b) => { b.disabled = true; });
    try {
      await app.conn.command(cmd, undefined, { keep: true });
      toast(t('alert.acked', { id: a.id }), 'ok');
      close();
    } catch (e) {
      toast(errorText(e), 'error');
      form.querySelectorAll('button, input').forEach((b) => { b.disabled = false; });
    }
  });
  li.append(form);
  note.focus();
}

export function renderAllLists(dirty) {
  const all = dirty.has('*');
  const d = (n) => all || dirty.has(n) || dirty.has('clock');
  if (d('hazards') || d('levees')) renderHazards();
  if (d('teams') || d('assignments') || d('hazards')) renderTeams();
  if (d('shelters')) renderShelters();
  if (d('incidents')) renderIncidents();
  if (d('evacuations')) renderEvacuations();
  if (d('gauges')) renderGauges();
  if (d('alerts')) renderAlerts();
}

