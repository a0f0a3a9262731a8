// The small map: the district's base map, the levees, open hazards and shelters, and me.
import { t, v } from '/shared/i18n.js';
import { CLOSED_HAZARD, $, esc, app, layer } from './common.js';
import { renderGps } from './views.js';

export async function initMap() {
  const el = $('#map');
  if (!el) return;
  try {
    const { baseMap } = await import('/shared/map.js');
    // No zoom buttons: fingers pinch, and the buttons' +/− would be the only words not in the language.
    const m = await baseMap(el, { minimal: true, zoomControl: false });
    app.map = { ...m, group: m.L.layerGroup().addTo(m.map), centred: false, sig: '', pick: null };
    m.map.on('click', (e) => {
      if ($('#report-panel').hidden || app.fix) return;
      const pos = [Math.round(e.latlng.lng * 1e6) / 1e6, Math.round(e.latlng.lat * 1e6) / 1e6];
      app.manualPos = pos;
      if (app.map.pick) app.map.pick.remove();
      app.map.pick = m.L.circleMarker([pos[1], pos[0]], { radius: 11, className: 'mk-pick', weight: 3 }).addTo(m.map);
      renderGps();
      $('#report-card').scrollIntoView({ behavior: 'smooth', block: 'start' });
    });
    renderMap();
    renderGps();
  } catch (err) {
    console.warn('map unavailable', err);
    el.classList.add('unavailable');
    el.innerHTML = `<p class="muted" data-i18n="map.unavailable">${esc(t('map.unavailable'))}</p>`;
  }
}

export function renderMap() {
  const m = app.map;
  if (!m) return;
  const { L, group, map } = m;
  const here = app.fix && app.fix.position;
  const hazards = [...layer('hazards').values()].filter((h) => !CLOSED_HAZARD.has(h.status) && h.position);
  const shelters = [...layer('shelters').values()].filter((s) => s.open && s.position);
  const levees = layer('levees');
  if (!m.levees && levees.size) {
    // The levees are what the crews walk: drawn once, above the base map, brown.
    m.levees = L.layerGroup().addTo(map);
    for (const lv of levees.values()) {
      if (Array.isArray(lv.line)) L.polyline(lv.line.map(([x, y]) => [y, x]), { className: 'mk-levee', weight: 4, interactive: false }).addTo(m.levees);
    }
  }
  const sig = JSON.stringify([here, hazards.map((h) => [h.id, h.severity, h.status]), shelters.map((s) => s.id)]);
  if (sig === m.sig) return;
  m.sig = sig;
  group.clearLayers();
  const add = (marker, entity) => {
    marker.addTo(group);
    const e = marker.getElement && marker.getElement();
    if (e) e.setAttribute('data-entity', entity);
  };
  for (const s of shelters) {
    add(L.circleMarker([s.position[1], s.position[0]], { radius: 7, className: 'mk-shelter', weight: 2 }).bindTooltip(esc(s.name)), `shelters:${s.id}`);
  }
  for (const h of hazards) {
    add(L.circleMarker([h.position[1], h.position[0]], { radius: 9, className: `mk-hazard sev-${h.severity}`, weight: 2 })
      .bindTooltip(esc(`${v('hazard_kind', h.kind)} ${h.levee ? h.levee.chainage : ''}`)), `hazards:${h.id}`);
  }
  if (here) {
    add(L.circleMarker([here[1], here[0]], { radius: 10, className: 'mk-me', weight: 3 }).bindTooltip(esc(t('map.me'))), 'me');
    if (!m.centred) { map.setView([here[1], here[0]], 14); m.centred = true; }
  }
}
