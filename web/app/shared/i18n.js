// Languages. Chinese is the default, English a switch away. UI strings are registered by each
// page (`addStrings`); the names of enumerated values (hazard kinds, team statuses, …) come from
// the server's vocabulary (`GET /api/v1/vocabulary`), so the pages and the server never disagree
// on what 管涌 is called.

const STORAGE_KEY = 'crest.lang';
const strings = new Map();
const vocab = new Map(); // set -> Map(value -> {zh, en})
const listeners = [];
let current = 'zh';

try {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === 'zh' || saved === 'en') current = saved;
} catch {
  // Storage can be unavailable (private mode): stay in Chinese.
}

addStrings({
  'lang.switch': { zh: 'English', en: '中文' },
  'lang.switch.title': { zh: '切换为英文', en: 'Switch to Chinese' },
  'ago.now': { zh: '刚刚', en: 'just now' },
  'ago.min': { zh: '{n} 分钟前', en: '{n} min ago' },
  'ago.h': { zh: '{n} 小时前', en: '{n} h ago' },
  'ago.d': { zh: '{n} 天前', en: '{n} d ago' },
});

/** Loads the vocabulary; call once before the first render. A failure leaves wire values shown. */
export async function initI18n() {
  try {
    const r = await fetch('/api/v1/vocabulary', { headers: { Accept: 'application/json' } });
    if (r.ok) loadVocabulary((await r.json()).vocabulary);
  } catch {
    // Offline on first start: values show as they are on the wire until the next load.
  }
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
}

/** Fills the vocabulary from the object the endpoint or the `vocabulary` query answers. */
export function loadVocabulary(sets) {
  for (const [set, entries] of Object.entries(sets || {})) {
    const m = new Map();
    for (const e of entries) m.set(e.value, { zh: e.zh, en: e.en });
    vocab.set(set, m);
  }
}

export function lang() {
  return current;
}

export function setLang(l) {
  if (l !== 'zh' && l !== 'en') return;
  current = l;
  try {
    localStorage.setItem(STORAGE_KEY, l);
  } catch {
    // Not remembered; still switched.
  }
  applyI18n();
  for (const fn of listeners) fn(l);
}

export function toggleLang() {
  setLang(current === 'zh' ? 'en' : 'zh');
}

export function onLangChange(fn) {
  listeners.push(fn);
}

export function addStrings(table) {
  for (const [k, v] of Object.entries(table)) strings.set(k, v);
}

/** A UI string in the current language; `{name}` placeholders filled from `params`. */
export function t(key, params) {
  const entry = strings.get(key);
  let s = entry ? entry[current] ?? entry.zh : key;
  if (params) {
    for (const [k, val] of Object.entries(params)) s = s.split(`{${k}}`).join(String(val));
  }
  return s;
}

/** The display name of an enumerated value of a vocabulary set. */
export function v(set, value) {
  if (value === null || value === undefined) return '—';
  const e = vocab.get(set)?.get(String(value));
  return e ? e[current] : String(value);
}

/** Fills every `[data-i18n]` (text), `[data-i18n-title]`, `[data-i18n-placeholder]`,
 * `[data-i18n-aria]` under `root`. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll('[data-i18n-aria]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nAria));
  }
  if (root === document) document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
}

const pad = (n) => String(n).padStart(2, '0');

/** A time for people: HH:MM today, M-D HH:MM on another day (the browser's time zone). */
export function fmtTime(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  const today = new Date(now);
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === today.toDateString()) return hm;
  return current === 'zh'
    ? `${d.getMonth() + 1}月${d.getDate()}日 ${hm}`
    : `${d.getMonth() + 1}-${d.getDate()} ${hm}`;
}

export function fmtAgo(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return '—';
  const min = Math.floor((now - ms) / 60000);
  if (min < 1) return t('ago.now');
  if (min < 60) return t('ago.min', { n: min });
  if (min < 48 * 60) return t('ago.h', { n: Math.floor(min / 60) });
  return t('ago.d', { n: Math.floor(min / 1440) });
}

export function fmtNumber(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return Number(n).toLocaleString(current === 'zh' ? 'zh-CN' : 'en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** The message of a refusal in the current language. */
export function errorText(err) {
  if (!err) return '';
  if (current === 'zh' && err.message_zh) return err.message_zh;
  return err.message_en || err.message || String(err);
}
