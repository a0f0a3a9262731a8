// The dispatcher's actions on the dashboard, each checked against what the server recorded:
// acknowledge an alert with a note, confirm a hazard, issue an evacuation order by drawing its
// zone (the people at risk shown before it is sent, and the order counting exactly them), raise
// the response level, and open the 汛情快报 ready to print.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Desk, TOKENS, openApp, screenshot, showPanel } from './lib.mjs';

describe('the dispatcher acts on the dashboard', () => {
  let desk;
  let dash;

  before(async () => {
    desk = await Desk.open(TOKENS.dispatcher, ['alerts', 'hazards', 'evacuations', 'response']);
    dash = await openApp('dashboard', TOKENS.dispatcher, { width: 1920, height: 1080 });
    await dash.page.locator('#conn-banner[data-state="open"]').waitFor({ state: 'attached' });
  });

  after(async () => {
    dash.watch.check();
    await dash.context.close();
    desk.close();
  });

  test('an alert is acknowledged with a note', async () => {
    const page = dash.page;
    // Any raised alert will do.
    const alert = (await desk.layer('alerts')).find((a) => a.state === 'raised');
    assert.ok(alert, 'a raised alert to acknowledge (the earlier scenarios leave some)');
    await showPanel(page, 'alerts');
    const item = page.locator(`#alerts [data-alert-id="${alert.id}"]`);
    await item.scrollIntoViewIfNeeded();
    await item.locator('.ack').click();
    await item.locator('.ack-input').fill('已电话核实 e2e');
    await item.locator('.ack-send').click();
    const acked = await desk.waitEvent((m) => m.event.type === 'alert_acknowledged' && m.event.alert_id === alert.id);
    assert.equal(acked.event.acknowledgement.note, '已电话核实 e2e');
    await page.locator(`#alerts [data-alert-id="${alert.id}"][data-state="acknowledged"]`).waitFor({ state: 'attached' });
  });

  test('a hazard is confirmed from its detail', async () => {
    const page = dash.page;
    const hazard = (await desk.layer('hazards')).find((h) => h.status === 'reported');
    assert.ok(hazard, 'a reported hazard (the earlier scenarios report some)');
    await showPanel(page, 'lists');
    await page.click(`#hazard-list [data-hazard-id="${hazard.id}"]`);
    await page.click('#act-confirm');
    await desk.waitEvent((m) => m.event.type === 'hazard_status_changed' && m.event.hazard_id === hazard.id && m.event.to === 'confirmed');
  });

  test('an evacuation order drawn on the map shows its people at risk first, and counts exactly them', async () => {
    const page = dash.page;
    await page.click('#act-evacuate');
    const box = await page.locator('#map').boundingBox();
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    for (const [dx, dy] of [[-120, -90], [120, -90], [120, 90], [-120, 90]]) {
      await page.mouse.click(cx + dx, cy + dy);
    }
    await page.click('#evac-finish');
    await page.locator('#evac-population').waitFor();
    const shown = Number(await page.locator('#evac-preview').getAttribute('data-population'));
    await screenshot(page, 'dashboard-evacuation-preview');
    assert.ok(shown > 0, `people at risk in the drawn zone: ${shown}`);
    await page.click('#evac-send');
    const ordered = await desk.waitEvent((m) => m.event.type === 'evacuation_ordered' && m.event.order.population === shown);
    assert.equal(ordered.event.order.zone.length, 5, 'four corners and the closing point');
  });

  test('the response level is raised from the header', async () => {
    const page = dash.page;
    await page.click('#act-response');
    await page.locator('#response-form-level').selectOption('IV');
    await page.fill('#response-form-reason', '涪口站超警戒 e2e');
    await page.click('#response-form-submit');
    const changed = await desk.waitEvent((m) => m.event.type === 'response_level_changed' && m.event.change.level === 'IV');
    assert.equal(changed.event.change.reason, '涪口站超警戒 e2e');
  });

  test('the 汛情快报 opens ready to print', async () => {
    const page = dash.page;
    await showPanel(page, 'sitrep');
    await page.click('#sitrep-print');
    await page.locator('#print-body').filter({ hasText: '汛情快报' }).waitFor();
    await page.locator('#print-body').filter({ hasText: 'Ⅳ' }).or(page.locator('#print-body').filter({ hasText: 'IV' })).first().waitFor();
    await screenshot(page, 'dashboard-sitrep-print');
    await page.click('#print-close');
  });
});
