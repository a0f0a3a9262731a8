// Small helpers for the dashboard: DOM building without innerHTML from data, HTML escaping for
// the few strings Leaflet wants as HTML (divIcon), throttling to animation frames, geometry on
// the Earth, and the toast and dialog the actions use.

import { t, lang } from '/shared/i18n.js';

/** Escape text for an HTML string (Leaflet divIcon html). */
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

/**
 * Build an element: el('li', {class: 'x', dataset: {hazardId: 'HZ-1'}, text: '…'}, children…).
 * Attributes named `on…` with a function become listeners; `text` sets textContent.
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k in e && typeof v !== 'string') e[k] = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** An element whose text is data (names from the map), skipped by the language test. */
export function dataSpan(text, cls = '') {
  return el('span', { class: ('data ' + cls).trim(), text: text ?? '' });
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** Calls `fn` at most once per animation frame, with the union of the keys asked for. */
export function frameBatcher(fn) {
  let pending = null;
  return (keys) => {
    if (!pending) {
      pending = new Set();
      requestAnimationFrame(() => {
        const ks = pending;
        pending = null;
        fn(ks);
      });
    }
    for (const k of keys || ['*']) pending.add(k);
  };
}

/** Calls `fn` at most every `ms` milliseconds (the last call wins, and is never lost). */
export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  return (...args) => {
    const now = Date.now();
    const wait = last + ms - now;
    if (timer) clearTimeout(timer);
    if (wait <= 0) {
      last = now;
      fn(...args);
    } else {
      timer = setTimeout(() => {
        last = Date.now();
        timer = null;
        fn(...args);
      }, wait);
    }
  };
}

// ---- geometry -----------------------------------------------------------------------------

const R = 6371008.8;
const rad = (d) => (d * Math.PI) / 180;

/** Great-circle distance in metres between two [lon, lat]. */
export function haversine(a, b) {
  const dLat = rad(b[1] - a[1]);
  const dLon = rad(b[0] - a[0]);
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a[1])) * Math.cos(rad(b[1])) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(s)));
}

/** Cumulative distances along a line of [lon, lat] (cached on the array). */
function cumulative(line) {
  if (line._cum) return line._cum;
  const cum = [0];
  for (let i = 1; i < line.length; i++) cum.push(cum[i - 1] + haversine(line[i - 1], line[i]));
  Object.defineProperty(line, '_cum', { value: cum, enumerable: false });
  return cum;
}

function lerp(a, b, f) {
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f];
}

/** The part of `line` between distances `from` and `to` (metres from its start), as [lon, lat]. */
export function subLine(line, from, to) {
  if (!line || line.length < 2) return [];
  const cum = cumulative(line);
  const total = cum[cum.length - 1];
  const f = Math.max(0, Math.min(total, from));
  const tt = Math.max(f, Math.min(total, to));
  const at = (d) => {
    let i = 1;
    while (i < cum.length - 1 && cum[i] < d) i++;
    const seg = cum[i] - cum[i - 1] || 1;
    return lerp(line[i - 1], line[i], (d - cum[i - 1]) / seg);
  };
  const out = [at(f)];
  for (let i = 1; i < line.length - 1; i++) if (cum[i] > f && cum[i] < tt) out.push(line[i]);
  out.push(at(tt));
  return out;
}

/** Area-weighted centre of a ring of [lon, lat] (planar, good enough for a label). */
export function centroid(ring) {
  let a = 0, x = 0, y = 0;
  for (let i = 0; i < ring.length - 1; i++) {
    const [x0, y0] = ring[i];
    const [x1, y1] = ring[i + 1];
    const c = x0 * y1 - x1 * y0;
    a += c; x += (x0 + x1) * c; y += (y0 + y1) * c;
  }
  if (Math.abs(a) < 1e-15) return ring[0];
  return [x / (3 * a), y / (3 * a)];
}

/** Chainage in metres as written on the levee: 51762 → "K51+762". */
export function fmtChainage(m) {
  if (m === null || m === undefined || Number.isNaN(m)) return '';
  const r = Math.round(m);
  const km = Math.floor(r / 1000);
  return `K${km}+${String(r - km * 1000).padStart(3, '0')}`;
}

export const toLatLng = (p) => [p[1], p[0]];

// ---- messages -------------------------------------------------------------------------------

/** The refusal's text in the user's language. */
export function errorText(e) {
  if (!e) return '';
  if (lang() === 'zh') return e.message_zh || e.message || String(e);
  return e.message_en || e.message || String(e);
}

/** Parameters whose values are names from the data (将军村, 湘江东岸大堤), not words of the UI. */
const DATA_PARAMS = new Set(['name', 'where', 'team', 'target', 'subject', 'place', 'levee', 'section', 'text', 'title']);

/**
 * t() as DOM: the UI's words as text, and the data's names inside `.data` spans (they stay as
 * entered whatever the language, and the language test knows them for data).
 */
export function tp(key, params = {}) {
  const frag = document.createDocumentFragment();
  const template = t(key);
  const re = /\{(\w+)\}/g;
  let i = 0;
  let m;
  while ((m = re.exec(template))) {
    if (m.index > i) frag.append(template.slice(i, m.index));
    const val = params[m[1]];
    const text = val === undefined || val === null ? '' : String(val);
    if (DATA_PARAMS.has(m[1])) frag.append(el('span', { class: 'data', text }));
    else frag.append(text);
    i = m.index + m[0].length;
  }
  if (i < template.length) frag.append(template.slice(i));
  return frag;
}

let toastBox = null;

/** Forget every toast (their words were in the language before the switch). */
export function clearToasts() {
  if (!toastBox) toastBox = document.getElementById('toasts');
  if (toastBox) clear(toastBox);
}

/** A message that goes away by itself (text, or nodes from tp()); kind: ok | error | info. */
export function toast(text, kind = 'info', ms = 6000) {
  if (!toastBox) toastBox = document.getElementById('toasts');
  const body = text instanceof Node ? el('span', { class: 'toast-text' }, text) : el('span', { class: 'toast-text', text });
  const item = el('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    body,
    el('button', { class: 'toast-close', type: 'button', 'aria-label': t('close'), text: '×', onclick: () => item.remove() }));
  toastBox.append(item);
  // A burst (a fast drill reporting hazards) keeps the newest few, not a wall of messages.
  while (toastBox.children.length > 4) toastBox.firstElementChild.remove();
  setTimeout(() => item.remove(), ms);
  return item;
}

/**
 * A modal form. fields: [{name, label (i18n key), type: text|number|select|textarea, options:
 * [{value, label}], value, required, min, max}]. Resolves with the values, or null when cancelled.
 */
export function formDialog({ title, intro, fields, submit = 'send', id = 'dialog-form' }) {
  return new Promise((resolve) => {
    const box = document.getElementById('dialog');
    clear(box);
    const form = el('form', { id, class: 'dialog-form', novalidate: true });
    form.append(el('h2', { text: title }));
    if (intro) form.append(intro instanceof Node ? intro : el('p', { text: intro }));
    for (const f of fields) {
      const inputId = `${id}-${f.name}`;
      let input;
      if (f.type === 'select') {
        input = el('select', { id: inputId, name: f.name });
        for (const o of f.options) input.append(el('option', { value: o.value, text: o.label, selected: o.value === f.value }));
      } else if (f.type === 'textarea') {
        input = el('textarea', { id: inputId, name: f.name, rows: 3, text: f.value ?? '' });
      } else {
        input = el('input', { id: inputId, name: f.name, type: f.type || 'text', value: f.value ?? '' });
        if (f.min !== undefined) input.min = f.min;
        if (f.max !== undefined) input.max = f.max;
        if (f.step !== undefined) input.step = f.step;
      }
      if (f.required) input.required = true;
      form.append(el('label', { class: 'field', for: inputId }, el('span', { text: f.label }), input));
    }
    const err = el('p', { class: 'form-error', role: 'alert' });
    form.append(err);
    const done = (v) => {
      box.hidden = true;
      clear(box);
      document.removeEventListener('keydown', onKey);
      resolve(v);
    };
    const onKey = (ev) => { if (ev.key === 'Escape') done(null); };
    document.addEventListener('keydown', onKey);
    form.append(el('div', { class: 'form-buttons' },
      el('button', { type: 'button', class: 'btn', id: `${id}-cancel`, text: t('cancel'), onclick: () => done(null) }),
      el('button', { type: 'submit', class: 'btn primary', id: `${id}-submit`, text: t(submit) })));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const values = {};
      for (const f of fields) {
        const v = form.elements[f.name].value;
        if (f.required && !String(v).trim()) {
          err.textContent = t('form.required', { field: f.label });
          form.elements[f.name].focus();
          return;
        }
        values[f.name] = f.type === 'number' ? (v === '' ? null : Number(v)) : v;
      }
      done(values);
    });
    box.append(form);
    box.hidden = false;
    const first = form.querySelector('input, select, textarea');
    if (first) first.focus();
  });
}

/** Minutes and seconds from seconds: 754 → "13 min". */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '';
  const m = Math.round(seconds / 60);
  if (m < 60) return t('dur.min', { n: Math.max(m, seconds > 0 ? 1 : 0) });
  const h = Math.floor(m / 60);
  return t('dur.hmin', { h, m: m % 60 });
}

export function fmtKm(metres) {
  if (metres === null || metres === undefined) return '';
  return metres < 1000 ? t('unit.m', { n: Math.round(metres) }) : t('unit.km', { n: (metres / 1000).toFixed(1) });
}
