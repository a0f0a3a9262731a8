// What the browser tests share: the server they talk to (started by `tests/it/browser.rs`, which
// passes its address and tokens in the environment), headless Chromium through playwright-core,
// a dispatcher's own WebSocket for setting up and checking, and the server's clock, moved on
// request (a line on stderr, answered on stdin) so that time-driven alerts come without waiting.

import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import assert from 'node:assert/strict';

export const BASE = process.env.CREST_URL;
export const TOKENS = JSON.parse(process.env.CREST_TOKENS || '{}');
export const ARTIFACTS = process.env.CREST_ARTIFACTS || 'e2e-artifacts';
export const FIELD_TEAM = process.env.CREST_FIELD_TEAM || 'T-05';
/** Generous: the machine may be busy. A guard against hangs, not a speed requirement. */
export const DEADLINE = 30_000;

if (!BASE) throw new Error('CREST_URL is not set: run these tests through `cargo test` (tests/it/browser.rs)');
fs.mkdirSync(ARTIFACTS, { recursive: true });

let browser = null;
export async function getBrowser() {
  if (!browser) {
    browser = await chromium.launch({
      executablePath: process.env.CREST_CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
  }
  return browser;
}

export async function closeBrowser() {
  if (browser) await browser.close();
  browser = null;
}

/** Console errors, uncaught exceptions and CSP violations of a page; `expected` patterns pass. */
export function watchErrors(page, label) {
  const errors = [];
  const expected = new Set();
  // An error is excused only by a pattern allowed at the moment it happened.
  const record = (text) => {
    if (![...expected].some((re) => re.test(text))) errors.push(text);
  };
  page.on('console', (m) => {
    if (m.type() === 'error') record(`${label} console: ${m.text()}`);
  });
  page.on('pageerror', (e) => record(`${label} exception: ${e.message}`));
  return {
    errors,
    /** Excuses errors matching `re` from now until the returned function is called. */
    allow(re) {
      expected.add(re);
      return () => expected.delete(re);
    },
    check() {
      assert.deepEqual(errors, [], `no errors in the browser console (${label})`);
    },
  };
}

/**
 * A new browser context and page signed in to `app` (`dashboard` or `field`) with `token`: the
 * token goes into the page's storage the way the sign-in form puts it, never into a URL.
 */
export async function openApp(app, token, { width = 1920, height = 1080, geolocation, lang, dark } = {}) {
  const b = await getBrowser();
  const context = await b.newContext({
    viewport: { width, height },
    baseURL: BASE,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    geolocation,
    permissions: geolocation ? ['geolocation'] : [],
    serviceWorkers: 'allow',
  });
  await context.addInitScript(
    ([a, t, l, d]) => {
      if (!sessionStorage.getItem('crest.e2e.init')) {
        sessionStorage.setItem('crest.e2e.init', '1');
        localStorage.setItem(`crest.token.${a}`, t);
        if (l) localStorage.setItem('crest.lang', l);
        if (d !== undefined) localStorage.setItem('crest.dark', d ? '1' : '0');
      }
    },
    [app, token, lang, dark],
  );
  const page = await context.newPage();
  const watch = watchErrors(page, app);
  page.setDefaultTimeout(DEADLINE);
  await page.goto(`/${app}/`);
  return { context, page, watch };
}

/** Opens a dashboard panel where panels are tabs (a tablet); on a wall screen they all show. */
export async function showPanel(page, tab) {
  const button = page.locator(`#panel-tabs [data-tab="${tab}"]`);
  if (await button.isVisible()) await button.click();
}

export async function screenshot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: false });
}

// ---- The server's clock, moved by the Rust side ----

const stdinLines = readline.createInterface({ input: process.stdin });
const waiting = [];
stdinLines.on('line', (l) => {
  const w = waiting.shift();
  if (w) w(l);
});

/** Moves the server's clock forward by `ms` and has the engine tick (alerts that time raises). */
export function advanceClock(ms) {
  return new Promise((resolve) => {
    waiting.push((line) => resolve(line));
    process.stderr.write(`CREST-CLOCK advance ${ms}\n`);
  });
}

/** Lets the process end: the open stdin pipe would keep it alive. */
export function done() {
  stdinLines.close();
  process.stdin.destroy();
}

// ---- A dispatcher's own connection, to set up and to check what the server holds ----

export class Desk {
  static async open(token = TOKENS.dispatcher, layers = []) {
    const d = new Desk(token);
    await d.ready;
    if (layers.length) await d.subscribe(layers);
    return d;
  }

  constructor(token) {
    this.ws = new WebSocket(`${BASE.replace(/^http/, 'ws')}/ws`);
    this.n = 0;
    this.pending = new Map();
    this.events = [];
    this.eventWaiters = [];
    this.ready = new Promise((resolve, reject) => {
      this.ws.on('open', () => this.ws.send(JSON.stringify({ type: 'auth', token })));
      this.ws.on('error', reject);
      this.ws.on('message', (data) => {
        const m = JSON.parse(data);
        if (m.type === 'authenticated') resolve();
        else if (m.type === 'error' && !m.id) reject(new Error(`${m.code}: ${m.message}`));
        else if (m.id && this.pending.has(m.id)) {
          const p = this.pending.get(m.id);
          this.pending.delete(m.id);
          p(m);
        } else if (m.type === 'snapshot' && this.snapshotWaiter) {
          this.snapshotWaiter(m);
          this.snapshotWaiter = null;
        } else if (m.type === 'event') {
          this.events.push(m);
          for (const w of [...this.eventWaiters]) w(m);
        }
      });
    });
  }

  subscribe(layers) {
    return new Promise((resolve) => {
      this.snapshotWaiter = resolve;
      this.ws.send(JSON.stringify({ type: 'subscribe', layers }));
    });
  }

  send(msg) {
    this.n += 1;
    const id = `e2e-${process.pid}-${Date.now()}-${this.n}`;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ ...msg, id }));
    });
  }

  async command(command) {
    const r = await this.send({ type: 'command', command });
    if (r.type !== 'ack') throw new Error(`${command.type} refused: ${r.code}: ${r.message}`);
    return r;
  }

  async query(query, at) {
    const r = await this.send(at === undefined ? { type: 'query', query } : { type: 'query', query, at });
    if (r.type !== 'answer') throw new Error(`${query.type} refused: ${r.code}: ${r.message}`);
    return r.result;
  }

  async layer(name) {
    return (await this.query({ type: 'layer', layer: name })).entities;
  }

  /** Resolves with the first event (already seen or coming) that `pred` accepts. */
  waitEvent(pred, ms = DEADLINE) {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no such event in time')), ms);
      const w = (m) => {
        if (pred(m)) {
          clearTimeout(timer);
          this.eventWaiters = this.eventWaiters.filter((x) => x !== w);
          resolve(m);
        }
      };
      this.eventWaiters.push(w);
    });
  }

  close() {
    this.ws.close();
  }
}

/** Polls `fn` until it returns a truthy value (a hang guard of `ms`, not a timing assertion). */
export async function eventually(fn, what, ms = DEADLINE) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not within the deadline: ${what} (last: ${last})`);
}

export async function http(pathname, { method = 'GET', token = TOKENS.dispatcher, body } = {}) {
  const r = await fetch(`${BASE}${pathname}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON.
  }
  return { status: r.status, json, text };
}

/** Visible text outside `.data` elements and the map's own labels, for the language test. */
export async function visibleLabels(page) {
  return page.evaluate(() => {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.textContent.trim();
      if (!text || !/\p{L}/u.test(text)) continue;
      const el = n.parentElement;
      if (!el || el.closest('.data, #lang-switch, .lang-btn, .map-label, script, style, [hidden], .leaflet-control-attribution')) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none') continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (el.closest('.hidden')) continue;
      out.push(text);
    }
    return out;
  });
}

export const CJK = /[\u3400-\u9fff]/;
