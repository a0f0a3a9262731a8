// Measures the dashboard on a busy drill (not a test: numbers for docs/performance.md).
//
//   cargo run --release -- demo --db /tmp/m.db --minutes 5     # prints the drill's token
//   node web/e2e/measure-dashboard.mjs http://127.0.0.1:8080 crest_DR-1_…  [seconds]
//
// Prints: the time from navigation to the map drawing every team of the drill, the number of
// entities drawn, and over the next `seconds` (default 30) the share of the page's main thread
// spent on tasks and on script, the layer re-reads per second the page made, and its JS heap.
import { chromium } from 'playwright-core';

const [url, token, secondsArg] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node web/e2e/measure-dashboard.mjs URL DRILL_TOKEN [seconds]');
  process.exit(2);
}
const seconds = Number(secondsArg || 30);
const browser = await chromium.launch({
  executablePath: process.env.CREST_CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
});
const context = await browser.newContext({ viewport: { width: 1920, height: 1080 }, locale: 'zh-CN' });
await context.addInitScript((t) => localStorage.setItem('crest.token.dashboard', t), token);
const page = await context.newPage();
let layerQueries = 0;
page.on('websocket', (ws) => {
  ws.on('framesent', (f) => {
    if (typeof f.payload === 'string' && f.payload.includes('"type":"layer"')) layerQueries += 1;
  });
});
const cdp = await context.newCDPSession(page);
await cdp.send('Performance.enable');
const t0 = Date.now();
await page.goto(`${url}/dashboard/`);
const teams = await page.evaluate(async () => {
  const r = await fetch('/api/v1/layers/teams', { headers: { Authorization: `Bearer ${localStorage.getItem('crest.token.dashboard')}` } });
  return (await r.json()).features.length;
});
await page.waitForFunction(
  (n) => new Set([...document.querySelectorAll('[data-entity^="teams:"]')].map((e) => e.dataset.entity)).size >= n,
  teams,
  { timeout: 120000 },
);
const firstDraw = Date.now() - t0;
const drawn = await page.evaluate(() => new Set([...document.querySelectorAll('[data-entity]')].map((e) => e.dataset.entity)).size);
const metric = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
const a = await metric();
const q0 = layerQueries;
await page.waitForTimeout(seconds * 1000);
const b = await metric();
const wall = seconds;
console.log(`first draw of all ${teams} teams: ${firstDraw} ms (${drawn} entities on the map)`);
console.log(`main thread busy: ${(((b.TaskDuration - a.TaskDuration) / wall) * 100).toFixed(1)} % (script ${(((b.ScriptDuration - a.ScriptDuration) / wall) * 100).toFixed(1)} %, layout ${(((b.LayoutDuration - a.LayoutDuration) / wall) * 100).toFixed(1)} %) over ${wall} s`);
console.log(`layer re-reads: ${((layerQueries - q0) / wall).toFixed(1)} per second; JS heap ${(b.JSHeapUsedSize / 1048576).toFixed(1)} MiB; DOM nodes ${b.Nodes}`);
await browser.close();
