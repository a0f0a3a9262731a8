// A drill on the dashboard: the EXERCISE banner in the drill's space, and the replay controls of
// the after-action review moving the map through time (no hazards at the start of the drill,
// three at its end).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TOKENS, openApp, screenshot, http, eventually } from './lib.mjs';

describe('a drill on the dashboard', () => {
  let dash;
  let drill;

  before(async () => {
    const started = await http('/api/v1/drills', {
      method: 'POST',
      // Three scenario hours in about 36 s: long enough to look at it while it runs.
      body: { scenario: 'e2e-drill', speed: 300, simulate_trainees: true },
    });
    assert.equal(started.status, 201, started.text);
    drill = started.json;
    const token = await http(`/api/v1/drills/${drill.id}/tokens`, { method: 'POST', body: { role: 'dispatcher', label: 'e2e review' } });
    assert.equal(token.status, 201, token.text);
    dash = await openApp('dashboard', token.json.secret, { width: 1920, height: 1080 });
  });

  after(async () => {
    dash.watch.check();
    await dash.context.close();
  });

  /** How many hazards the map draws (a hazard may have several elements: its symbol, its label). */
  const hazardMarkers = (page) =>
    page.evaluate(() => new Set([...document.querySelectorAll('[data-entity^="hazards:"]')].map((e) => e.dataset.entity)).size);

  test('the dashboard shows the EXERCISE banner in a drill', async () => {
    const banner = dash.page.locator('#exercise-banner');
    await banner.waitFor({ state: 'visible' });
    assert.match(await banner.innerText(), /演练|EXERCISE/);
    assert.match(await banner.innerText(), /E2E/);
    assert.equal((await http(`/api/v1/drills/${drill.id}`)).json.state, 'running', 'seen while the drill runs');
    await screenshot(dash.page, 'dashboard-drill-running');
    await eventually(async () => (await http(`/api/v1/drills/${drill.id}`)).json.state === 'finished', 'the drill has played', 120_000);
    await eventually(async () => (await hazardMarkers(dash.page)) === 3, 'the drill\'s three hazards on the map');
  });

  test('the replay controls move the map through time', async () => {
    const page = dash.page;
    await page.locator('#review-speed').selectOption('600');
    await page.click('#review-play');
    await page.locator('#review-clock').waitFor({ state: 'visible' });
    // Playing at 600×, the review's clock moves on by itself.
    const clock = () => page.locator('#review-clock').getAttribute('data-time-ms').then(Number);
    const first = await eventually(async () => (await clock()) || false, 'the review has a clock');
    await eventually(async () => (await clock()) > first + 60_000, 'the review clock runs at its speed');
    // Seek to the very start: the map shows the drill before its first hazard.
    const seek = page.locator('#review-seek');
    const setSeek = (fraction) =>
      seek.evaluate((el, f) => {
        const min = Number(el.min || 0);
        const max = Number(el.max || 100);
        el.value = String(min + (max - min) * f);
        el.dispatchEvent(new Event('input', { bubbles: true }));
        el.dispatchEvent(new Event('change', { bubbles: true }));
      }, fraction);
    await page.click('#review-pause');
    await setSeek(0);
    await eventually(async () => (await hazardMarkers(page)) === 0, 'no hazard at the start of the drill');
    const clockAtStart = await page.locator('#review-clock').innerText();
    await screenshot(page, 'dashboard-review-start');
    await setSeek(1);
    await eventually(async () => (await hazardMarkers(page)) === 3, 'three hazards at the end of the drill');
    assert.notEqual(await page.locator('#review-clock').innerText(), clockAtStart, 'the review clock moved');
    await screenshot(page, 'dashboard-review-end');
    await page.click('#review-stop');
  });
});
