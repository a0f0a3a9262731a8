// The sitrep panel (#sitrep): the key figures of the `sitrep` query, refreshed when the state
// changes (at most every 2 s), and the 汛情快报 ready to print: the server's Markdown report
// rendered to HTML (headings, lists, tables, bold) with the DOM, never innerHTML.

import { t, v, lang, fmtNumber, fmtTime } from '/shared/i18n.js';
import { app, districtResponse, clock } from './model.js';
import { el, clear, errorText, throttle } from './util.js';
import { boardSections } from './patrol.js';

const ROMAN = { IV: 'Ⅳ', III: 'Ⅲ', II: 'Ⅱ', I: 'Ⅰ' };
let root;
let last = null;
let asking = false;
let again = false;

export function initSitrep() {
  root = document.getElementById('sitrep-figures');
  document.getElementById('sitrep-print').addEventListener('click', () => openPrint(lang() === 'en' ? 'en' : 'zh'));
  document.getElementById('print-close').addEventListener('click', closePrint);
  document.getElementById('print-now').addEventListener('click', () => window.print());
  document.getElementById('print-lang').addEventListener('change', (ev) => openPrint(ev.target.value));
}

/** Ask for the figures again (at most every 2 s; one question at a time). */
export const refreshSitrep = throttle(() => ask(), 2000);

async function ask() {
  if (!app.conn) return;
  if (asking) { again = true; return; }
  asking = true;
  try {
    const at = app.reviewing && app.reviewSeq ? app.reviewSeq() : undefined;
    const r = await app.conn.query({ type: 'sitrep' }, at);
    last = r;
    renderSitrep();
  } catch (e) {
    // The next change asks again; a refusal here is not worth a toast.
  } finally {
    asking = false;
    if (again) { again = false; refreshSitrep(); }
  }
}

function fig(key, value, { cls = '', sub = null, id } = {}) {
  return el('div', { class: `fig ${cls}`.trim(), dataset: { fig: id || key } },
    el('span', { class: 'fig-label', text: t(key) }),
    el('span', { class: 'fig-value', text: value }),
    sub ? el('span', { class: 'fig-sub' }, sub) : null);
}

const people = (n) => t('unit.people', { n: fmtNumber(n || 0) });

export function renderSitrep() {
  if (!root) return;
  const s = last && last.sitrep;
  clear(root);
  const resp = districtResponse();
  root.append(fig('sitrep.response', resp && resp.level ? t('response.short', { l: ROMAN[resp.level] || resp.level }) : t('sitrep.no_response'), { cls: resp && resp.level ? `resp resp-${resp.level}` : 'resp' }));
  if (!s) {
    root.append(el('p', { class: 'muted', text: t('loading') }));
    return;
  }
  const hz = s.hazards || {};
  root.append(fig('sitrep.hazards', fmtNumber(hz.total || 0), { sub: t('sitrep.hazards_sub', { open: hz.open || 0, eliminated: hz.eliminated || 0 }), cls: hz.open ? 'hot' : '' }));
  const ev = (s.evacuation && s.evacuation.total) || {};
  root.append(fig('sitrep.evacuated', people(ev.evacuated), { sub: t('sitrep.evac_sub', { risk: fmtNumber(ev.at_risk || 0), remaining: fmtNumber(ev.remaining || 0) }) }));
  const sh = s.shelters || {};
  root.append(fig('sitrep.sheltered', people(sh.occupancy), { sub: t('sitrep.shelter_sub', { open: sh.open || 0, cap: fmtNumber(sh.capacity || 0) }) }));
  const teams = s.teams || {};
  const dep = ['assigned', 'en_route', 'on_scene'].reduce((a, k) => ({ teams: a.teams + ((teams[k] && teams[k].teams) || 0), people: a.people + ((teams[k] && teams[k].people) || 0) }), { teams: 0, people: 0 });
  const total = Object.values(teams).reduce((a, x) => a + (x.teams || 0), 0);
  const onDuty = total - ((teams.off_duty && teams.off_duty.teams) || 0);
  const onDutyPeople = Object.entries(teams).reduce((a, [k, x]) => a + (k === 'off_duty' ? 0 : x.people || 0), 0);
  root.append(fig('sitrep.teams', t('sitrep.teams_value', { n: onDuty, total }), { sub: t('sitrep.teams_sub', { people: fmtNumber(onDutyPeople), tasked: dep.teams }) }));
  const inc = s.incidents || {};
  root.append(fig('sitrep.on_scene', people(inc.headcount_on_scene), { sub: t('sitrep.incidents_sub', { n: (inc.open || []).length }), cls: (inc.open || []).length ? 'hot' : '' }));
  const cf = (s.casualties && s.casualties.figures) || {};
  root.append(fig('sitrep.casualties', t('sitrep.casualties_value', { dead: cf.dead || 0, missing: cf.missing || 0 }), {
    sub: t('sitrep.casualties_sub', { injured: cf.injured || 0, trapped: cf.trapped || 0, rescued: cf.rescued || 0 }),
    cls: cf.dead || cf.missing ? 'hot' : '',
  }));
  const secs = boardSections();
  const gaps = secs.filter((x) => x.gap).length;
  root.append(fig('sitrep.patrols', t('sitrep.patrols_value', { required: (s.patrols && s.patrols.required) || 0, sections: (s.patrols && s.patrols.sections) || 0 }), { sub: t('sitrep.patrols_sub', { gaps }), cls: gaps ? 'hot' : '' }));
  const al = s.alerts || {};
  root.append(fig('sitrep.alerts', fmtNumber(al.raised || 0), { sub: t('sitrep.alerts_sub', { ack: al.acknowledged || 0 }), cls: al.raised ? 'hot' : '' }));
  for (const g of s.gauges || []) {
    root.append(fig('sitrep.gauge', g.level_m === null || g.level_m === undefined ? '—' : t('unit.level', { n: g.level_m.toFixed(2) }), {
      id: `gauge:${g.id}`,
      sub: [el('span', { class: 'data', text: g.name }), ` · ${g.stage ? v('water_stage', g.stage) : t('gauge.no_reading')}`],
      cls: `gauge stage-${g.stage || 'none'}`,
    }));
  }
  const at = document.getElementById('sitrep-at');
  if (at) at.textContent = t('sitrep.as_of', { time: fmtTime(last.at_ms, clock.now()), seq: last.seq ?? '' });
}

// ---- the printable 汛情快报 -------------------------------------------------------------------------

async function openPrint(reportLang) {
  const view = document.getElementById('print-view');
  const body = document.getElementById('print-body');
  document.getElementById('print-lang').value = reportLang;
  view.hidden = false;
  document.body.classList.add('printing');
  clear(body).append(el('p', { class: 'muted', text: t('loading') }));
  const at = app.reviewing && app.reviewSeq ? app.reviewSeq() : null;
  const path = `/api/v1/sitrep?format=markdown&lang=${reportLang}${at !== null && at !== undefined ? `&at=${encodeURIComponent(at)}` : ''}`;
  try {
    let md;
    try {
      md = await app.conn.httpText(path);
    } catch (e) {
      const r = await app.conn.query({ type: 'sitrep', format: 'markdown', lang: reportLang }, at ?? undefined);
      md = r.markdown;
    }
    clear(body).append(markdownToDom(md));
  } catch (e) {
    clear(body).append(el('p', { class: 'danger', text: errorText(e) }));
  }
}

function closePrint() {
  document.getElementById('print-view').hidden = true;
  document.body.classList.remove('printing');
}

/** Inline Markdown: **bold** and `code`; everything else is text. */
function inline(text) {
  const frag = document.createDocumentFragment();
  const re = /\*\*(.+?)\*\*|`([^`]+)`/g;
  let i = 0;
  let m;
  while ((m = re.exec(text))) {
    if (m.index > i) frag.append(text.slice(i, m.index));
    frag.append(m[1] !== undefined ? el('strong', { text: m[1] }) : el('code', { text: m[2] }));
    i = m.index + m[0].length;
  }
  if (i < text.length) frag.append(text.slice(i));
  return frag;
}

/** Split a table row on `|` that are not escaped as `\|`. */
function cells(line) {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  const out = [];
  let cur = '';
  for (let i = 0; i < inner.length; i++) {
    if (inner[i] === '\\' && inner[i + 1] === '|') { cur += '|'; i++; continue; }
    if (inner[i] === '|') { out.push(cur.trim()); cur = ''; continue; }
    cur += inner[i];
  }
  out.push(cur.trim());
  return out;
}

/** The subset of Markdown the server writes, as DOM. */
export function markdownToDom(md) {
  const root = el('article', { class: 'report' });
  const lines = String(md || '').replace(/\r\n/g, '\n').split('\n');
  let para = [];
  let list = null;
  const flush = () => {
    if (para.length) { root.append(el('p', {}, inline(para.join(' ')))); para = []; }
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const trimmed = line.trim();
    if (!trimmed) { flush(); continue; }
    const h = /^(#{1,6})\s+(.*)$/.exec(trimmed);
    if (h) { flush(); root.append(el(`h${h[1].length}`, {}, inline(h[2]))); continue; }
    if (/^(-{3,}|\*{3,})$/.test(trimmed)) { flush(); root.append(el('hr')); continue; }
    if (trimmed.startsWith('|')) {
      flush();
      const rows = [];
      while (i < lines.length && lines[i].trim().startsWith('|')) { rows.push(lines[i]); i++; }
      i--;
      const table = el('table', { class: 'report-table' });
      const sep = rows.length > 1 && /^\|?(\s*:?-{3,}:?\s*\|)+\s*$/.test(rows[1].trim()) ? 1 : -1;
      if (sep === 1) {
        table.append(el('thead', {}, el('tr', {}, cells(rows[0]).map((c) => el('th', {}, inline(c))))));
      }
      const tbody = el('tbody');
      rows.forEach((r, k) => {
        if (sep === 1 && (k === 0 || k === 1)) return;
        tbody.append(el('tr', {}, cells(r).map((c) => el('td', {}, inline(c)))));
      });
      table.append(tbody);
      root.append(table);
      continue;
    }
    const li = /^(\s*)([-*+]|\d+[.)])\s+(.*)$/.exec(line);
    if (li) {
      if (para.length) { root.append(el('p', {}, inline(para.join(' ')))); para = []; }
      const ordered = /\d/.test(li[2]);
      if (!list || list.tagName !== (ordered ? 'OL' : 'UL')) {
        list = el(ordered ? 'ol' : 'ul');
        root.append(list);
      }
      list.append(el('li', {}, inline(li[3])));
      continue;
    }
    if (trimmed.startsWith('>')) { flush(); root.append(el('blockquote', {}, inline(trimmed.replace(/^>\s?/, '')))); continue; }
    list = null;
    para.push(trimmed);
  }
  flush();
  return root;
}
