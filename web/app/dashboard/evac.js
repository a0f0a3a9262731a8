// Issuing an evacuation order (转移令) by drawing its zone on the map: click the corners,
// double-click or "finish" to close the ring; the people at risk (from the grid cells, by the
// server's `evacuation_preview` query) are shown before the order is sent.

import { t, fmtNumber, fmtTime } from '/shared/i18n.js';
import { app, layer, clock } from './model.js';
import { el, clear, dataSpan, errorText, toast, tp, toLatLng, centroid } from './util.js';
import { send } from './detail.js';

let L, map;
let panel, previewEl;
let points = [];
let line = null;
let poly = null;
let vertexLayer = null;
let mode = 'off'; // off | drawing | preview

export function initEvac(m) {
  L = m.L;
  map = m.map;
  panel = document.getElementById('evac-panel');
  previewEl = document.getElementById('evac-preview');
  document.getElementById('act-evacuate').addEventListener('click', () => (mode === 'off' ? start() : cancel()));
  document.getElementById('evac-finish').addEventListener('click', finish);
  document.getElementById('evac-undo').addEventListener('click', undo);
  document.getElementById('evac-cancel').addEventListener('click', cancel);
  document.getElementById('evac-send').addEventListener('click', sendOrder);
  map.on('click', onClick);
  map.on('dblclick', (ev) => {
    if (mode !== 'drawing') return;
    L.DomEvent.stop(ev);
    finish();
  });
  document.addEventListener('keydown', (ev) => {
    if (mode === 'off') return;
    if (ev.key === 'Escape') cancel();
    if (ev.key === 'Enter' && mode === 'drawing') finish();
  });
}

function start() {
  if (app.reviewing) return;
  cancel();
  mode = 'drawing';
  points = [];
  vertexLayer = L.layerGroup().addTo(map);
  line = L.polyline([], { color: '#ff7a00', weight: 3, dashArray: '6 4', interactive: false }).addTo(map);
  map.doubleClickZoom.disable();
  document.body.classList.add('drawing');
  panel.hidden = false;
  panel.dataset.mode = 'drawing';
  document.getElementById('act-evacuate').classList.add('active');
  clear(previewEl);
  previewEl.hidden = true;
  update();
}

function onClick(ev) {
  if (mode !== 'drawing') return;
  // The second click of a double-click must not add a corner twice.
  const p = [Number(ev.latlng.lng.toFixed(6)), Number(ev.latlng.lat.toFixed(6))];
  const last = points[points.length - 1];
  if (last && Math.abs(last[0] - p[0]) < 1e-6 && Math.abs(last[1] - p[1]) < 1e-6) return;
  points.push(p);
  L.circleMarker(toLatLng(p), { radius: 5, color: '#ff7a00', fillColor: '#fff', fillOpacity: 1, weight: 2, interactive: false }).addTo(vertexLayer);
  update();
}

function undo() {
  if (mode !== 'drawing' || !points.length) return;
  points.pop();
  const ls = vertexLayer.getLayers();
  if (ls.length) vertexLayer.removeLayer(ls[ls.length - 1]);
  update();
}

function update() {
  line && line.setLatLngs(points.map(toLatLng));
  document.getElementById('evac-count').textContent = t('evac.draw_count', { n: points.length });
  document.getElementById('evac-finish').disabled = points.length < 3;
  document.getElementById('evac-undo').disabled = !points.length;
}

/** The closed ring of the drawn zone. */
function ring() {
  const r = points.slice();
  r.push(points[0]);
  return r;
}

async function finish() {
  if (mode !== 'drawing' || points.length < 3) return;
  mode = 'preview';
  panel.dataset.mode = 'preview';
  map.doubleClickZoom.enable();
  if (line) { map.removeLayer(line); line = null; }
  poly = L.polygon(points.map(toLatLng), { color: '#ff7a00', weight: 3, fillColor: '#ffb347', fillOpacity: 0.3, interactive: false }).addTo(map);
  previewEl.hidden = false;
  clear(previewEl).append(el('p', { class: 'muted', text: t('evac.computing') }));
  const zone = ring();
  const nameInput = document.getElementById('evac-name');
  if (!nameInput.value) nameInput.value = t('evac.default_name', { time: fmtTime(clock.liveNow(), clock.now()) });
  fillShelters(zone);
  try {
    const r = await app.conn.query({ type: 'evacuation_preview', zone });
    if (mode !== 'preview') return;
    showPreview(r);
  } catch (e) {
    if (mode !== 'preview') return;
    clear(previewEl).append(el('p', { class: 'danger', text: t('evac.preview_failed') }), el('p', { class: 'data', text: errorText(e) }));
    previewEl.dataset.population = '';
  }
  document.getElementById('evac-send').disabled = false;
}

function showPreview(r) {
  const vu = r.vulnerable_at_risk || {};
  previewEl.dataset.population = String(r.population ?? 0);
  const cells = (r.cells || []).slice().sort((a, b) => b.at_risk - a.at_risk);
  const body = el('tbody');
  for (const c of cells.slice(0, 12)) {
    body.append(el('tr', {}, el('td', {}, dataSpan(`${c.town_name || ''} ${c.village_name || ''}`.trim() || c.cell_id)), el('td', {}, dataSpan(c.cell_id, 'muted')), el('td', { class: 'num' }, dataSpan(fmtNumber(c.at_risk)))));
  }
  clear(previewEl).append(
    el('div', { class: 'evac-pop' }, el('span', { text: t('evac.population_at_risk') }), el('strong', { class: 'big-num', id: 'evac-population', text: t('unit.people', { n: fmtNumber(r.population ?? 0) }) })),
    el('p', { class: 'vuln', text: t('vuln.line', { elderly: vu.elderly_alone || 0, disabled: vu.disabled || 0, pregnant: vu.pregnant || 0, children: vu.unaccompanied_children || 0 }) }),
    cells.length ? el('table', { class: 'mini' },
      el('thead', {}, el('tr', {}, el('th', { text: t('evac.village') }), el('th', { text: t('evac.cell') }), el('th', { text: t('evac.at_risk') }))), body) : el('p', { class: 'warn', text: t('evac.nobody') }),
  );
  if (cells.length > 12) previewEl.append(el('p', { class: 'muted', text: t('evac.more_cells', { n: cells.length - 12 }) }));
  if (!r.population) document.getElementById('evac-send').disabled = true;
}

/** Open shelters with room, nearest the zone first, to choose as targets. */
async function fillShelters(zone) {
  const box = document.getElementById('evac-shelters');
  clear(box);
  try {
    const r = await app.conn.query({ type: 'nearest_shelters', point: centroid(zone), limit: 6 });
    for (const s of r.shelters || []) {
      const sh = layer('shelters').get(s.shelter_id);
      const id = `evac-sh-${s.shelter_id}`;
      box.append(el('label', { class: 'check', for: id },
        el('input', { type: 'checkbox', id, value: s.shelter_id }),
        dataSpan(sh ? sh.name : s.shelter_id), ' ',
        el('span', { class: 'muted', text: t('shelter.free_n', { n: fmtNumber(s.free_places) }) })));
    }
    if (!(r.shelters || []).length) box.append(el('p', { class: 'muted', text: t('evac.no_open_shelters') }));
  } catch (e) {
    box.append(el('p', { class: 'muted', text: errorText(e) }));
  }
}

async function sendOrder(ev) {
  if (mode !== 'preview') return;
  const name = document.getElementById('evac-name').value.trim();
  if (!name) { toast(t('evac.need_name'), 'error'); document.getElementById('evac-name').focus(); return; }
  const cmd = { type: 'issue_evacuation_order', name, zone: ring() };
  const targets = [...document.querySelectorAll('#evac-shelters input:checked')].map((i) => i.value);
  if (targets.length) cmd.target_shelters = targets;
  const ack = await send(cmd, tp('done.evac_issued', { name }), ev.currentTarget).catch(() => null);
  if (ack) {
    cancel();
    if (ack.created) app.select('evacuations', ack.created);
  }
}

export function cancel() {
  mode = 'off';
  points = [];
  if (line) { map.removeLayer(line); line = null; }
  if (poly) { map.removeLayer(poly); poly = null; }
  if (vertexLayer) { map.removeLayer(vertexLayer); vertexLayer = null; }
  map && map.doubleClickZoom.enable();
  document.body.classList.remove('drawing');
  if (panel) { panel.hidden = true; panel.dataset.mode = 'off'; }
  const nameInput = document.getElementById('evac-name');
  if (nameInput) nameInput.value = '';
  document.getElementById('act-evacuate')?.classList.remove('active');
}

/** Re-render texts after a language change. */
export function relabelEvac() {
  if (mode === 'drawing') update();
}

