// The hydrograph (水位过程线) of a gauge as inline SVG: the readings, the 设防/警戒/保证 lines, the
// record level and the forecast crest, from the `hydrograph` query.

import { t, fmtTime } from '/shared/i18n.js';

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** An <svg> for a `hydrograph` answer. */
export function hydrographSvg(h, { width = 420, height = 230 } = {}) {
  const pad = { l: 46, r: 12, t: 14, b: 34 };
  const svg = s('svg', { class: 'hydrograph', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': t('gauge.hydrograph') });
  const readings = h.readings || [];
  const th = h.thresholds || {};
  if (!readings.length) {
    svg.append(s('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'hg-empty' }, t('gauge.no_readings')));
    return svg;
  }
  let t0 = readings[0].time_ms;
  let t1 = readings[readings.length - 1].time_ms;
  const fc = h.forecast;
  if (fc && fc.peak_at > t1 && fc.peak_at - t1 < 7 * 86400000) t1 = fc.peak_at;
  if (t1 === t0) { t0 -= 3600000; t1 += 3600000; }
  const levels = readings.map((r) => r.level_m);
  const marks = [th.guard_m, th.warning_m, th.guaranteed_m].filter((x) => Number.isFinite(x));
  if (fc && Number.isFinite(fc.peak_m)) marks.push(fc.peak_m);
  let lo = Math.min(...levels, ...marks);
  let hi = Math.max(...levels, ...marks);
  if (h.record && Number.isFinite(h.record.level_m) && h.record.level_m - hi < 3) hi = Math.max(hi, h.record.level_m);
  lo = Math.floor(lo - 0.5);
  hi = Math.ceil(hi + 0.5);
  const X = (ms) => pad.l + ((ms - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const Y = (m) => pad.t + (1 - (m - lo) / (hi - lo)) * (height - pad.t - pad.b);

  // Axes and grid.
  const g = s('g', { class: 'hg-grid' });
  const step = hi - lo > 8 ? 2 : 1;
  for (let m = lo; m <= hi; m += step) {
    g.append(s('line', { x1: pad.l, x2: width - pad.r, y1: Y(m), y2: Y(m) }));
    g.append(s('text', { x: pad.l - 4, y: Y(m) + 4, 'text-anchor': 'end', class: 'hg-tick' }, String(m)));
  }
  const ticks = 4;
  for (let i = 0; i <= ticks; i++) {
    const ms = t0 + ((t1 - t0) * i) / ticks;
    g.append(s('text', { x: X(ms), y: height - pad.b + 16, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle', class: 'hg-tick' }, fmtTime(ms)));
  }
  g.append(s('text', { x: 4, y: pad.t - 2, class: 'hg-unit' }, t('gauge.axis_m')));
  svg.append(g);

  // Thresholds.
  const lines = [
    ['guard', th.guard_m, t('gauge.guard')],
    ['warning', th.warning_m, t('gauge.warning')],
    ['guaranteed', th.guaranteed_m, t('gauge.guaranteed')],
  ];
  if (h.record && Number.isFinite(h.record.level_m) && h.record.level_m <= hi) {
    lines.push(['record', h.record.level_m, t('gauge.record_line', { year: h.record.date || '' })]);
  }
  for (const [cls, m, label] of lines) {
    if (!Number.isFinite(m)) continue;
    svg.append(s('line', { x1: pad.l, x2: width - pad.r, y1: Y(m), y2: Y(m), class: `hg-th th-${cls}` }));
    svg.append(s('text', { x: width - pad.r - 2, y: Y(m) - 3, 'text-anchor': 'end', class: `hg-th-label th-${cls}` }, `${label} ${m.toFixed(2)}`));
  }

  // Readings.
  const d = readings.map((r, i) => `${i ? 'L' : 'M'}${X(r.time_ms).toFixed(1)},${Y(r.level_m).toFixed(1)}`).join(' ');
  svg.append(s('path', { d, class: 'hg-line' }));
  const last = readings[readings.length - 1];
  svg.append(s('circle', { cx: X(last.time_ms), cy: Y(last.level_m), r: 3.5, class: 'hg-last' }));
  if (h.peak) svg.append(s('circle', { cx: X(h.peak.time_ms), cy: Y(h.peak.level_m), r: 4, class: 'hg-peak' }));
  if (fc && Number.isFinite(fc.peak_m) && fc.peak_at >= t0 && fc.peak_at <= t1) {
    svg.append(s('path', { d: `M${X(last.time_ms)},${Y(last.level_m)} L${X(fc.peak_at)},${Y(fc.peak_m)}`, class: 'hg-forecast' }));
    svg.append(s('circle', { cx: X(fc.peak_at), cy: Y(fc.peak_m), r: 4, class: 'hg-forecast-pt' }));
    svg.append(s('text', { x: X(fc.peak_at) - 4, y: Y(fc.peak_m) - 6, 'text-anchor': 'end', class: 'hg-th-label' }, t('gauge.forecast_pt', { m: fc.peak_m.toFixed(2) })));
  }
  return svg;
}
