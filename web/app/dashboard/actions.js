// The dispatcher's actions that are not about one selected entity: the response level (防汛应急
// 响应, per jurisdiction) and recording casualties (人员伤亡).

import { t, v } from '/shared/i18n.js';
import { app, layer, get, focusPoint, entityName } from './model.js';
import { el, formDialog, toast } from './util.js';
import { send } from './detail.js';

const LEVELS = ['IV', 'III', 'II', 'I'];

export function initActions() {
  document.getElementById('act-response').addEventListener('click', responseLevel);
  document.getElementById('act-casualty').addEventListener('click', casualty);
}

function jurisdictions() {
  const out = new Map();
  if (app.district.id) out.set(app.district.id, app.district.name || app.district.id);
  for (const r of layer('response').values()) if (!out.has(r.jurisdiction)) out.set(r.jurisdiction, entityName('response', r.jurisdiction));
  return out;
}

async function responseLevel() {
  if (app.reviewing) return;
  const js = jurisdictions();
  if (!js.size) { toast(t('response.no_jurisdiction'), 'error'); return; }
  const first = [...js.keys()][0];
  const current = layer('response').get(first);
  const cur = current && current.level;
  const idx = cur ? LEVELS.indexOf(cur) : -1;
  const levelOptions = LEVELS.map((l) => ({ value: l, label: t('response.level_option', { level: v('response_level', l) }) }))
    .concat([{ value: 'lift', label: t('response.lift') }]);
  const r = await formDialog({
    title: t('response.title'),
    id: 'response-form',
    intro: el('p', { class: 'muted', text: cur ? t('response.current', { level: v('response_level', cur) }) : t('response.none') }),
    fields: [
      { name: 'jurisdiction', label: t('field.jurisdiction'), type: 'select', options: [...js].map(([value, label]) => ({ value, label })), value: first },
      { name: 'level', label: t('field.level'), type: 'select', options: levelOptions, value: LEVELS[Math.min(LEVELS.length - 1, idx + 1)] },
      { name: 'reason', label: t('field.reason'), type: 'text' },
    ],
  });
  if (!r) return;
  const cmd = { type: 'set_response_level', jurisdiction: r.jurisdiction, level: r.level === 'lift' ? null : r.level };
  if (r.reason && r.reason.trim()) cmd.reason = r.reason.trim();
  await send(cmd, r.level === 'lift' ? t('done.response_lifted') : t('done.response_set', { level: v('response_level', r.level) })).catch(() => {});
}

async function casualty() {
  if (app.reviewing) return;
  const sel = app.selected;
  const selEntity = sel && get(sel.layer, sel.id);
  const at = selEntity ? focusPoint(sel.layer, selEntity) : null;
  const posOptions = [{ value: '', label: t('casualty.no_position') }];
  if (at) posOptions.push({ value: 'selected', label: t('casualty.at_selected', { name: entityName(sel.layer, sel.id) }) });
  const r = await formDialog({
    title: t('casualty.title'),
    id: 'casualty-form',
    fields: [
      { name: 'kind', label: t('field.casualty_kind'), type: 'select', options: ['dead', 'missing', 'injured', 'trapped'].map((k) => ({ value: k, label: v('casualty_kind', k) })), value: 'trapped' },
      { name: 'count', label: t('field.count'), type: 'number', min: 1, value: 1, required: true },
      { name: 'position', label: t('field.position'), type: 'select', options: posOptions, value: at ? 'selected' : '' },
      { name: 'place', label: t('field.place') },
      { name: 'source', label: t('field.source'), value: t('casualty.default_source'), required: true },
      { name: 'note', label: t('field.note'), type: 'textarea' },
    ],
  });
  if (!r) return;
  const cmd = { type: 'record_casualty', kind: r.kind, count: Math.round(r.count || 0), source: r.source.trim() };
  if (r.position === 'selected' && at) cmd.position = at;
  if (r.place && r.place.trim()) cmd.place = r.place.trim();
  if (r.note && r.note.trim()) cmd.note = r.note.trim();
  if (!cmd.position && !cmd.place) { toast(t('casualty.need_place'), 'error'); return; }
  await send(cmd, t('done.casualty')).catch(() => {});
}
