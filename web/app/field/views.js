// Rendering what the team needs to see: the header, my team and its assignment, my patrol
// stretch, what is nearby, and the outbox. Every render reads `app` and the layers again, and
// runs again on a language change.
import { t, v, fmtTime, fmtAgo, fmtNumber } from '/shared/i18n.js';
import { distanceM, fmtChainage } from './geo.js';
import { overdueStretches } from './patrol.js';
import { ASG_STEPS, ASG_BUTTONS, ASG_LABELS, CLOSED_HAZARD, ACTIVE_ASG, $, esc, SEP, lbl, d, app, spaceNow, shownStatus, connReady, layer, usingCache, withTimeout, errText, waiting, ackedNotSeen, describe, targetPosition, setHtml, fmtDist, targetHtml } from './common.js';
import { renderGrid, renderCheckin, renderReportChoices, renderReportResult } from './forms.js';
import { renderMap } from './fieldmap.js';

let renderQueued = false;
export function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; renderAll(); });
}

export function renderAll() {
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

export function renderChrome() {
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

export function renderGps() {
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
export function pendingAssignmentState(asg) {
  let state = asg.state;
  let pending = false;
  for (const i of [...ackedNotSeen('assignments'), ...waiting()]) {
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
  for (const i of ackedNotSeen('teams')) {
    if (i.command.type === 'set_team_duty') duty = i.command.on_duty;
  }
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

// -- nearby

let nearbyBusy = false;
export async function refreshNearby(force) {
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

// -- the outbox on screen

export function renderQueue() {
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
