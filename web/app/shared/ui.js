// Small shared pieces of UI: toasts, and an element builder that never parses HTML from data.

/** Shows a short message in the corner (`kind`: `info`, `ok`, `error`) for `ms` milliseconds. */
export function toast(text, kind = 'info', ms = 5000) {
  let area = document.querySelector('.toast-area');
  if (!area) {
    area = document.createElement('div');
    area.className = 'toast-area';
    area.setAttribute('role', 'status');
    area.setAttribute('aria-live', 'polite');
    document.body.appendChild(area);
  }
  const el = document.createElement('div');
  el.className = `toast ${kind}`;
  el.textContent = text;
  area.appendChild(el);
  setTimeout(() => el.remove(), ms);
  return el;
}

/**
 * `h('li', {class: 'x', dataset: {id: 'HZ-1'}, onclick: f}, 'text', child…)`: an element whose
 * text comes from data is set with textContent, so names from the field can never inject markup.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, val] of Object.entries(attrs || {})) {
    if (val === undefined || val === null || val === false) continue;
    if (k === 'class') el.className = val;
    else if (k === 'dataset') Object.assign(el.dataset, val);
    else if (k.startsWith('on') && typeof val === 'function') el.addEventListener(k.slice(2), val);
    else if (k === 'text') el.textContent = val;
    else el.setAttribute(k, val === true ? '' : val);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
