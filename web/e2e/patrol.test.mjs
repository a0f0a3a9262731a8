// 巡堤查险 on the two pages: a section left unwalked past its interval shows as a gap on the
// dashboard's patrol board; the field team's tablet walks it (its simulated GPS position moves
// along the levee at a walking pace) and the gap clears. The server's clock is moved forward on
// request (lib.mjs advanceClock), so the 30-minute interval passes without waiting for it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Desk, TOKENS, FIELD_TEAM, openApp, screenshot, advanceClock, showPanel, eventually } from './lib.mjs';

describe('patrols on both pages', () => {
  const MIN = 60_000;
  let desk;
  let dash;
  let field;
  let section;

  before(async () => {
    desk = await Desk.open(TOKENS.dispatcher, ['teams', 'alerts', 'patrol_sections']);
    const team = (await desk.layer('teams')).find((t) => t.id === FIELD_TEAM);
    const { location } = await desk.query({ type: 'snap_to_levee', point: team.fix.position, tolerance_m: 5000 });
    section = (await desk.layer('patrol_sections')).find(
      (s) => s.levee_id === location.levee_id && s.from_m <= location.chainage_m && location.chainage_m <= s.to_m,
    );
    assert.ok(section, 'a patrol section where the team stands');
    const { now_ms: now } = await desk.query({ type: 'patrol_gaps' });
    await desk.command({ type: 'set_patrol_interval', section_id: section.id, interval_min: 30 });
    await desk.command({ type: 'assign_patrol', section_id: section.id, team_id: FIELD_TEAM, until_ms: now + 8 * 60 * MIN });
    // The tablet starts away from the levee (1 km north), so that its first fix on the section
    // after the clock moved is a new one.
    const start = await desk.query({ type: 'chainage_to_point', levee_id: section.levee_id, chainage: section.from_m });
    start.point = [start.point[0], start.point[1] + 0.01];
    dash = await openApp('dashboard', TOKENS.dispatcher, { width: 1920, height: 1080 });
    field = await openApp('field', TOKENS.field, {
      width: 800,
      height: 1280,
      geolocation: { longitude: start.point[0], latitude: start.point[1], accuracy: 5 },
    });
    await field.page.locator('#conn-state[data-state="open"]').waitFor();
  });

  after(async () => {
    dash.watch.check();
    field.watch.check();
    await dash.context.close();
    await field.context.close();
    desk.close();
  });

  test('a patrol gap appears on the board and clears when the field app walks the section', async () => {
    await advanceClock(31 * MIN);
    const raised = await desk.waitEvent(
      (m) => m.event.type === 'alert_raised' && m.event.alert.kind === 'patrol_gap' && m.event.alert.subject_id === section.id,
    );
    const d = dash.page;
    await showPanel(d, 'alerts');
    await d.locator(`#alerts [data-alert-id="${raised.event.alert.id}"]`).waitFor();
    await showPanel(d, 'patrol');
    const board = d.locator(`#patrol-board [data-section-id="${section.id}"]`).first();
    await d.locator(`#patrol-board [data-section-id="${section.id}"][data-gap="true"]`).first().waitFor();
    await screenshot(d, 'dashboard-patrol-gap');

    // Walk the section, 100 m at a time at about 2.2 m/s of the server's clock.
    const stops = [];
    for (let ch = section.from_m; ch < section.to_m; ch += 100) stops.push(ch);
    stops.push(section.to_m);
    for (const ch of stops) {
      const { point } = await desk.query({ type: 'chainage_to_point', levee_id: section.levee_id, chainage: ch });
      await field.context.setGeolocation({ longitude: point[0], latitude: point[1], accuracy: 5 });
      await desk.waitEvent(
        (m) =>
          m.event.type === 'team_moved' &&
          m.event.team_id === FIELD_TEAM &&
          Math.abs(m.event.fix.position[0] - point[0]) < 1e-6 &&
          Math.abs(m.event.fix.position[1] - point[1]) < 1e-6,
      );
      await advanceClock(45_000);
    }
    await desk.waitEvent((m) => m.event.type === 'alert_resolved' && m.event.alert_id === raised.event.alert.id);
    await d.locator(`#patrol-board [data-section-id="${section.id}"][data-gap="false"]`).first().waitFor();
    await screenshot(d, 'dashboard-patrol-walked');
    assert.equal(await board.getAttribute('data-gap'), 'false');
    // The tablet shows the points of its stretch as passed.
    await field.page.locator('#patrol [data-point-id][data-passed="true"]').first().waitFor();
    await eventually(
      async () => (await field.page.locator(`#patrol [data-section-id="${section.id}"][data-point-id][data-passed="false"]`).count()) === 0,
      'every point of the stretch shows as passed on the tablet',
      90_000,
    );
    await screenshot(field.page, 'field-patrol-walked');
  });
});
