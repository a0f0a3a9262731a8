// The browser tests, one after another in one process (so the server's clock can be moved on
// request, see lib.mjs), with one Chromium. Started by tests/it/browser.rs: `cargo test` runs them.
import { test } from 'node:test';
import { closeBrowser, done } from './lib.mjs';

await import('./together.test.mjs');
await import('./offline.test.mjs');
await import('./patrol.test.mjs');
await import('./actions.test.mjs');
await import('./drill.test.mjs');

// Last, so that nothing keeps the process alive when the tests are over (a root-level `after`
// hook would wait for an empty event loop, which the open browser and stdin never give).
test('the browser closes', async () => {
  await closeBrowser();
  done();
});
