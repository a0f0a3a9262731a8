// The forms: the two-tap hazard report and its result, the shelter check-in against an
// evacuation order, and a grid worker's cells.
import { lang, t, v, fmtAgo, fmtNumber } from '/shared/i18n.js';
import { newCommandId } from './store.js';
import { distanceM } from './geo.js';
import { HAZARD_KINDS, SEVERITIES, LS_REPORT, $, esc, SEP, lbl, d, app, spaceNow, layer, errText, waiting, setHtml, fmtDist, cellRemaining, firstTap, fingerprint, toast } from './common.js';
import { enqueue } from './sending.js';
import { renderGps } from './views.js';

// -- grid worker's cells

function myCells() {
  const gw = app.auth && app.auth.grid_worker;
  if (!gw) return [];
  return [...layer('grid_cells').values()].filter((c) => c.grid_worker_id === gw).sort((a, b) => a.id.localeCompare(b.id));
}

export function renderGrid() {
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

export function renderCheckin() {
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

export function checkinMsg(text, kind) {
  const el = $('#checkin-msg');
  if (!el) return;
  el.hidden = !text;
  el.textContent = text || '';
  el.dataset.kind = kind || '';
}

export function readCount(input) {
  const n = Number(input.value);
  return Number.isInteger(n) && n >= 1 && n <= 10000000 ? n : null;
}

export async function sendCheckin(out) {
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

// -- the report

export function renderReportChoices() {
  setHtml($('#kind-choices'), HAZARD_KINDS.map((k) => `<button class="btn big kind-choice${app.reportKind === k ? ' chosen' : ''}" type="button" data-kind="${k}">${esc(v('hazard_kind', k))}</button>`).join(''));
  setHtml($('#severity-choices'), SEVERITIES.map((s) => `<button class="btn big severity-choice sev-${s}" type="button" data-severity="${s}">${esc(v('severity', s))}</button>`).join(''));
  const ck = $('#report-chosen-kind');
  if (ck) ck.textContent = app.reportKind ? t('report.chosen', { kind: v('hazard_kind', app.reportKind) }) : '';
}

export function openReport() {
  app.reportKind = null;
  $('#report-panel').hidden = false;
  $('#report-step-kind').hidden = false;
  $('#report-step-severity').hidden = true;
  $('#report-hazard').setAttribute('aria-expanded', 'true');
  renderReportChoices();
  renderGps();
}

export function closeReport() {
  app.reportKind = null;
  $('#report-panel').hidden = true;
  $('#report-hazard').setAttribute('aria-expanded', 'false');
}

export async function chooseSeverity(severity) {
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

export function readReport() {
  try {
    const r = JSON.parse(localStorage.getItem(LS_REPORT) || 'null');
    return r && r.fp === fingerprint(app.token) ? r : null;
  } catch { return null; }
}

export function saveReport() {
  if (app.report) localStorage.setItem(LS_REPORT, JSON.stringify({ ...app.report, fp: app.fp }));
}

export function renderReportResult() {
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
