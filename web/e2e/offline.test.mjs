// The field app without a network: a hazard report and a check-in made offline wait on the device
// (IndexedDB), survive a reload while still offline (the service worker serves the app), and are
// sent once the network is back — exactly one hazard and one check-in reach the server.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Desk, TOKENS, FIELD_TEAM, openApp, screenshot, eventually } from './lib.mjs';

describe('the field app offline', () => {
  let desk;
  let field;
  let shelter;
  let order;
  let cell;
  const NOTE = '离线测试：背水坡渗水 e2e';
  const COUNT = 3;

  async function setValue(page, selector, value) {
    const el = page.locator(selector);
    const tag = await el.evaluate((e) => e.tagName);
    if (tag === 'SELECT') await el.selectOption(String(value));
    else await el.fill(String(value));
  }

  before(async () => {
    desk = await Desk.open(TOKENS.dispatcher, ['shelters', 'evacuations']);
    const team = (await desk.layer('teams')).find((t) => t.id === FIELD_TEAM);
    const here = team.fix.position;
    // The populated grid cell nearest the team, under an order of its own; an open shelter nearby.
    const cells = (await desk.layer('grid_cells')).filter((c) => c.population > 50);
    const dist = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]);
    cells.sort((a, b) => dist(a.ring[0], here) - dist(b.ring[0], here));
    cell = cells[0];
    const ack = await desk.command({ type: 'issue_evacuation_order', name: `E2E 转移 ${cell.id}`, zone: cell.ring });
    order = ack.created;
    const shelters = (await desk.layer('shelters')).filter((s) => s.capacity >= 100);
    shelters.sort((a, b) => dist(a.position, here) - dist(b.position, here));
    shelter = shelters[0];
    if (!shelter.open) await desk.command({ type: 'open_shelter', shelter_id: shelter.id });
    field = await openApp('field', TOKENS.field, {
      width: 800,
      height: 1280,
      geolocation: { longitude: here[0], latitude: here[1], accuracy: 10 },
    });
    await field.page.locator('#conn-state[data-state="open"]').waitFor();
    // The app shell must be cached by its service worker before the network goes.
    await eventually(
      () => field.page.evaluate(async () => !!(await navigator.serviceWorker?.getRegistration?.('/field/'))?.active),
      'the service worker is active',
    );
  });

  after(async () => {
    field.watch.check();
    await field.context.close();
    desk.close();
  });

  test('offline: a report and a check-in wait on the device, survive a reload, and are sent exactly once', async () => {
    const { page, context, watch } = field;
    const hazardsBefore = (await desk.layer('hazards')).length;
    const occupancyBefore = (await desk.layer('shelters')).find((s) => s.id === shelter.id).occupancy;

    await context.setOffline(true);
    // While offline the browser reports its failed connection attempts; those are expected.
    const offlineErrorsEnd = watch.allow(/WebSocket|ERR_INTERNET_DISCONNECTED|Failed to load resource|net::/);
    await page.locator('#conn-state[data-state="offline"]').waitFor();

    await page.click('#report-hazard');
    await page.fill('#report-note', NOTE);
    await page.click('.kind-choice[data-kind="seepage"]');
    await page.click('.severity-choice[data-severity="general"]');
    await page.locator('#queue-count[data-count="1"]').waitFor();

    await page.click('#checkin');
    await setValue(page, '#checkin-shelter', shelter.id);
    await setValue(page, '#checkin-order', order);
    await setValue(page, '#checkin-from', cell.id);
    await setValue(page, '#checkin-count', COUNT);
    await page.click('#checkin-send');
    await page.locator('#queue-count[data-count="2"]').waitFor();
    await screenshot(page, 'field-offline-queue');

    // A reload while still offline: the service worker serves the app, IndexedDB keeps the queue.
    await page.reload();
    await page.locator('#queue-count[data-count="2"]').waitFor();
    assert.equal((await desk.layer('hazards')).length, hazardsBefore, 'nothing reached the server while offline');

    await context.setOffline(false);
    await page.locator('#queue-count[data-count="0"]').waitFor();
    await page.locator('#conn-state[data-state="open"], #conn-state[data-state="resynced"]').first().waitFor();
    offlineErrorsEnd(); // online again: from here on every console error counts

    // Exactly one hazard and one check-in: reload once more online, and count again.
    await page.reload();
    await page.locator('#conn-state[data-state="open"]').waitFor();
    await page.locator('#queue-count[data-count="0"]').waitFor();
    const hazards = (await desk.layer('hazards')).filter((h) => h.description === NOTE);
    assert.equal(hazards.length, 1, 'exactly one hazard from the offline report');
    assert.equal((await desk.layer('hazards')).length, hazardsBefore + 1);
    const after = (await desk.layer('shelters')).find((s) => s.id === shelter.id);
    assert.equal(after.occupancy, occupancyBefore + COUNT, 'the evacuees were checked in once');
    const ev = (await desk.layer('evacuations')).find((e) => e.id === order);
    assert.equal(ev.evacuated, COUNT, 'counted once against the order');
    assert.equal(await page.locator('#refused-list li').count(), 0, 'nothing was refused');
  });
});
