// The two pages together: a hazard reported from the field app appears on the dashboard; a team
// assigned on the dashboard sees it on its tablet, accepts, sets out, and the dashboard shows it;
// every visible label follows the language switch; screenshots of both pages at both sizes.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Desk, TOKENS, FIELD_TEAM, openApp, screenshot, visibleLabels, CJK, eventually } from './lib.mjs';

describe('the dashboard and the field app together', () => {
  let desk;
  let dash;
  let field;
  let spot; // a point on the levee near the field team: [lon, lat]
  let hazardId;

  before(async () => {
    desk = await Desk.open(TOKENS.dispatcher, ['hazards', 'assignments', 'teams']);
    const team = (await desk.layer('teams')).find((t) => t.id === FIELD_TEAM);
    const snap = await desk.query({ type: 'snap_to_levee', point: team.fix.position, tolerance_m: 5000 });
    const loc = snap.location;
    const p = await desk.query({ type: 'chainage_to_point', levee_id: loc.levee_id, chainage: Math.round(loc.chainage_m) });
    spot = p.point;
    dash = await openApp('dashboard', TOKENS.dispatcher, { width: 1920, height: 1080 });
    field = await openApp('field', TOKENS.field, {
      width: 800,
      height: 1280,
      geolocation: { longitude: spot[0], latitude: spot[1], accuracy: 8 },
    });
  });

  after(async () => {
    dash.watch.check();
    field.watch.check();
    await dash.context.close();
    await field.context.close();
    desk.close();
  });

  test('a hazard reported from the field app appears on the dashboard', async () => {
    const { page } = field;
    await page.locator('#conn-state[data-state="open"]').waitFor();
    await page.click('#report-hazard');
    await page.click('.kind-choice[data-kind="piping"]');
    await page.click('.severity-choice[data-severity="major"]');
    const reported = await desk.waitEvent((m) => m.event.type === 'hazard_reported');
    hazardId = reported.event.hazard.id;
    assert.equal(reported.event.hazard.kind, 'piping');
    assert.ok(reported.event.hazard.levee, 'the server placed it on the levee');
    // The field app shows where the server placed it: levee and chainage.
    await page.locator('#report-result').filter({ hasText: reported.event.hazard.levee.chainage }).waitFor();
    // The dashboard lists it and draws it.
    const d = dash.page;
    await d.locator(`#hazard-list [data-hazard-id="${hazardId}"]`).waitFor();
    await d.locator(`[data-entity="hazards:${hazardId}"]`).first().waitFor();
  });

  test('a team assigned on the dashboard sees it on its tablet, accepts, and the dashboard shows it', async () => {
    const d = dash.page;
    await d.click(`#hazard-list [data-hazard-id="${hazardId}"]`);
    await d.click('#act-assign');
    const suggestion = d.locator(`#suggestions [data-team-id="${FIELD_TEAM}"]`);
    await suggestion.waitFor();
    await suggestion.locator('.assign').click();
    const created = await desk.waitEvent((m) => m.event.type === 'assignment_created' && m.event.assignment.team_id === FIELD_TEAM);
    assert.equal(created.event.assignment.target.hazard_id, hazardId);

    const f = field.page;
    await f.locator('#assignment').filter({ hasText: hazardId }).waitFor();
    await f.click('#asg-accept');
    await desk.waitEvent((m) => m.event.type === 'assignment_state_changed' && m.event.to === 'accepted');
    await f.click('#asg-en-route');
    await desk.waitEvent((m) => m.event.type === 'assignment_state_changed' && m.event.to === 'en_route');
    // The team's row says it (the list may sit in a tab that is not open: attached is enough).
    await d.locator(`#team-list [data-team-id="${FIELD_TEAM}"][data-status="en_route"]`).waitFor({ state: 'attached' });
    await f.locator('#my-team[data-status="en_route"]').waitFor();
    // Each step went once, under one id: nothing was refused (a step sent twice would be).
    assert.equal(await f.locator('#refused-list li').count(), 0, 'no step was refused');
    const states = desk.events
      .filter((m) => m.event.type === 'assignment_state_changed' && m.event.assignment_id === created.event.assignment.id)
      .map((m) => m.event.to);
    assert.deepEqual(states, ['accepted', 'en_route']);
  });

  test('screenshots of both pages at both screen sizes', async () => {
    await screenshot(dash.page, 'dashboard-1920x1080');
    await screenshot(field.page, 'field-800x1280');
    await dash.page.setViewportSize({ width: 800, height: 1280 });
    await field.page.setViewportSize({ width: 1920, height: 1080 });
    await dash.page.waitForTimeout(300); // let the layout settle before the picture (not an assertion)
    await screenshot(dash.page, 'dashboard-800x1280');
    await screenshot(field.page, 'field-1920x1080');
    await dash.page.setViewportSize({ width: 1920, height: 1080 });
    await field.page.setViewportSize({ width: 800, height: 1280 });
  });

  for (const which of ['dashboard', 'field']) {
    test(`the language switch changes every visible label (${which})`, async () => {
      const { page } = which === 'dashboard' ? dash : field;
      const zh = await visibleLabels(page);
      assert.ok(zh.some((t) => CJK.test(t)), 'Chinese by default');
      await page.click('#lang-switch');
      const stillChinese = await eventually(async () => {
        const en = await visibleLabels(page);
        const left = en.filter((t) => CJK.test(t));
        return left.length === 0 ? 'none' : false;
      }, `no Chinese label left in English on the ${which}`).catch(async () => (await visibleLabels(page)).filter((t) => CJK.test(t)));
      assert.equal(stillChinese, 'none', `labels still in Chinese: ${JSON.stringify(stillChinese)}`);
      await screenshot(page, `${which}-english`);
      await page.click('#lang-switch');
      await eventually(async () => (await visibleLabels(page)).some((t) => CJK.test(t)), 'back in Chinese');
    });
  }
});
