// The patrol board (巡堤查险): every section of every levee, its stretches coloured by how much of
// the interval has gone since they were last passed, gaps first. Live, the board is re-read per
// levee with the `patrol_coverage` query, which is exact (protocol §4 "Patrols"): after a team
// walks a levee, when the sections change, and every 20 s. In a review it is the review's
// `patrol_sections` layer at the review's clock.

import { t, lang, fmtAgo } from '/shared/i18n.js';
import { app, layer, get, clock, leveeName } from './model.js';
import { el, clear, dataSpan, fmtChainage } from './util.js';

const coverage = new Map(); // levee id → {receivedAt, nowMs, sections: Map(section id → board)}
const sectionsChangedAt = { t: 0 };
const pendingLevees = new Set();
const lastAsked = new Map();
let inFlight = 0;
let onUpdate = () => {};

export function initPatrol(update) {
  onUpdate = update;
  setInterval(() => { if (!app.reviewing) refreshAll(); }, 20000);
  // Colours follow the clock even when nothing is sent.
  setInterval(() => onUpdate(['clock']), 5000);
}

export function noteSectionsChanged() {
  sectionsChangedAt.t = Date.now();
}

export function refreshAll() {
  const ids = new Set();
  for (const s of layer('patrol_sections').values()) ids.add(s.levee_id);
  for (const id of ids) askCoverage(id);
}

/** Re-read one levee's board soon (at most every 1.5 s per levee). */
export function askCoverage(leveeId) {
  if (!leveeId || !app.conn || app.reviewing) return;
  pendingLevees.add(leveeId);
  pump();
}

function pump() {
  while (inFlight < 2 && pendingLevees.size) {
    const now = Date.now();
    let next = null;
    for (const id of pendingLevees) {
      if ((lastAsked.get(id) || 0) + 1500 <= now) { next = id; break; }
    }
    if (!next) {
      setTimeout(pump, 500);
      return;
    }
    pendingLevees.delete(next);
    lastAsked.set(next, now);
    inFlight++;
    app.conn.query({ type: 'patrol_coverage', levee_id: next })
      .then((r) => {
        const sections = new Map();
        for (const s of r.sections || []) sections.set(s.section_id, s);
        coverage.set(next, { receivedAt: Date.now(), nowMs: r.now_ms, sections });
        clock.sync(r.now_ms);
        onUpdate(['patrol']);
      })
      .catch(() => {})
      .finally(() => {
        inFlight--;
        pump();
      });
  }
}

export function clearCoverage() {
  coverage.clear();
}

function onShiftNow(sec, now) {
  const shifts = sec.shifts || [];
  for (let i = shifts.length - 1; i >= 0; i--) {
    const s = shifts[i];
    if (s.from_ms <= now && now < s.until_ms) {
      const tm = get('teams', s.team_id);
      if (!tm || tm.on_duty !== false) return s.team_id;
    }
  }
  return null;
}

/**
 * Every section, normalised: {id, levee_id, name, from_m, to_m, interval_min, required, on_shift,
 * unstaffed, gap, worst, stretches: [{from_m, to_m, last_at, last_by, due_at, required, gap, ratio}]}.
 */
export function boardSections() {
  const now = clock.now();
  const tolerance = Math.max(60000, clock.rate() * 4000);
  const out = [];
  for (const [id, sec] of layer('patrol_sections')) {
    const cov = !app.reviewing ? coverage.get(sec.levee_id) : null;
    const b = cov && cov.receivedAt >= sectionsChangedAt.t - 1000 ? cov.sections.get(id) : null;
    const interval = b ? b.interval_min : sec.interval_min;
    const required = interval !== null && interval !== undefined;
    const raw = b ? b.stretches : sec.stretches || [];
    const stretches = raw.map((x) => {
      const lastAt = b ? x.last_passed_at : x.last_passed && x.last_passed.at;
      const lastBy = b ? x.last_passed_by : x.last_passed && x.last_passed.team_id;
      const due = x.due_at ?? null;
      // The server's word (overdue when the board was read), or a due time long enough past
      // that a pass since the last read would have reached us: data a few seconds old must not
      // turn a drill running at 400× red.
      const overdue = x.overdue_min !== undefined && x.overdue_min !== null;
      const gap = required && due !== null && (overdue || now - due > tolerance);
      const ratio = required && due !== null && interval ? 1 - (due - now) / (interval * 60000) : 0;
      return { from_m: x.from_m, to_m: x.to_m, last_at: lastAt ?? null, last_by: lastBy ?? null, due_at: due, required, gap, ratio };
    });
    if (!stretches.length) {
      stretches.push({ from_m: sec.from_m, to_m: sec.to_m, last_at: null, last_by: null, due_at: null, required: false, gap: false, ratio: 0 });
    }
    const onShift = b ? b.on_shift : onShiftNow(sec, now);
    const unstaffed = b ? !!b.unstaffed : required && !onShift;
    const gap = stretches.some((s) => s.gap);
    const worst = stretches.reduce((m, s) => Math.max(m, s.ratio), 0);
    out.push({
      id, levee_id: sec.levee_id, name: sec.name, from_m: sec.from_m, to_m: sec.to_m,
      interval_min: interval, required, on_shift: onShift, unstaffed, gap, worst, stretches,
    });
  }
  out.sort((a, b) => (a.levee_id < b.levee_id ? -1 : a.levee_id > b.levee_id ? 1 : a.from_m - b.from_m));
  return out;
}

function stretchCls(st) {
  if (!st.required) return 'none';
  if (st.gap) return 'gap';
  if (st.ratio >= 0.75) return 'due';
  if (st.ratio >= 0.4) return 'mid';
  return 'fresh';
}

// ---- the board list (#patrol-board) ----------------------------------------------------------

const chips = new Map(); // section id → {node, sig}
const leveeRows = new Map(); // levee id → {row, strip, name, count}

export function renderBoard(root, filter) {
  const secs = boardSections();
  const onlyGaps = filter && filter.gapsOnly;
  const q = (filter && filter.text || '').trim().toLowerCase();
  const summary = root.querySelector('#patrol-summary');
  const list = root.querySelector('#patrol-levees');
  const gaps = secs.filter((s) => s.gap).length;
  const unstaffed = secs.filter((s) => s.unstaffed).length;
  const required = secs.filter((s) => s.required).length;
  summary.textContent = t('patrol.summary', { sections: secs.length, required, gaps, unstaffed });
  summary.dataset.gaps = String(gaps);

  const seenLevees = new Set();
  const byLevee = new Map();
  for (const s of secs) {
    if (!byLevee.has(s.levee_id)) byLevee.set(s.levee_id, []);
    byLevee.get(s.levee_id).push(s);
  }
  const now = clock.now();
  for (const [leveeId, list2] of byLevee) {
    const name = leveeName(leveeId);
    const match = !q || name.toLowerCase().includes(q) || leveeId.toLowerCase().includes(q);
    let row = leveeRows.get(leveeId);
    if (!row) {
      const nameEl = dataSpan(name, 'levee-name');
      const count = el('span', { class: 'levee-count' });
      const strip = el('div', { class: 'patrol-strip' });
      row = { row: el('div', { class: 'patrol-levee', dataset: { leveeId } }, el('div', { class: 'patrol-levee-head' }, nameEl, count), strip), strip, name: nameEl, count };
      leveeRows.set(leveeId, row);
    }
    if (row.row.parentNode !== list) list.append(row.row);
    row.name.textContent = name;
    const lg = list2.filter((s) => s.gap).length;
    row.count.textContent = lg ? t('patrol.levee_gaps', { n: lg }) : t('patrol.levee_ok', { n: list2.length });
    row.count.classList.toggle('bad', lg > 0);
    const visibleSecs = list2.filter((s) => !onlyGaps || s.gap || s.unstaffed);
    row.row.hidden = !match || visibleSecs.length === 0;
    seenLevees.add(leveeId);
    let idx = 0;
    for (const s of list2) {
      idx++;
      const sig = s.stretches.map(stretchCls).join(',') + `|${s.unstaffed}|${s.on_shift}|${lang()}|${Math.floor(now / 60000)}`;
      let chip = chips.get(s.id);
      if (!chip) {
        const node = el('button', { type: 'button', class: 'patrol-section', dataset: { sectionId: s.id }, onclick: () => app.select('patrol_sections', s.id) },
          el('span', { class: 'ps-num data', text: String(idx) }), el('span', { class: 'ps-bar' }));
        chip = { node, sig: null };
        chips.set(s.id, chip);
        row.strip.append(node);
      }
      chip.node.hidden = onlyGaps && !s.gap && !s.unstaffed;
      chip.node.dataset.gap = s.gap ? 'true' : 'false';
      chip.node.dataset.unstaffed = s.unstaffed ? 'true' : 'false';
      chip.node.classList.toggle('selected', !!(app.selected && app.selected.layer === 'patrol_sections' && app.selected.id === s.id));
      if (chip.sig === sig) continue;
      chip.sig = sig;
      const bar = chip.node.querySelector('.ps-bar');
      clear(bar);
      for (const st of s.stretches) bar.append(el('i', { class: 'st-' + stretchCls(st) }));
      chip.node.classList.toggle('gap', s.gap);
      chip.node.classList.toggle('unstaffed', s.unstaffed);
      const last = s.stretches.reduce((m, x) => (x.last_at && (m === null || x.last_at < m) ? x.last_at : m), null);
      chip.node.title = [
        `${s.name || s.id} ${fmtChainage(s.from_m)}–${fmtChainage(s.to_m)}`,
        s.required ? t('patrol.interval', { n: s.interval_min }) : t('patrol.not_required'),
        s.gap ? t('patrol.gap') : '',
        s.unstaffed ? t('patrol.unstaffed') : '',
        last ? t('patrol.last_pass', { ago: fmtAgo(last, now) }) : t('patrol.never_passed'),
      ].filter(Boolean).join('\n');
    }
  }
  for (const [id, row] of leveeRows) if (!seenLevees.has(id)) { row.row.remove(); leveeRows.delete(id); }
  const present = new Set(secs.map((s) => s.id));
  for (const [id, chip] of chips) if (!present.has(id)) { chip.node.remove(); chips.delete(id); }
}

/** The board entry of one section (for its detail panel). */
export function sectionBoard(id) {
  return boardSections().find((s) => s.id === id) || null;
}

export { stretchCls };
