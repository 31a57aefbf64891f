// The admin console's events explorer in headless Chromium under the strict CSP: an admin signs
// in, is stepped up with the e-mailed code, opens the explorer from the overview, filters by
// kind, opens a row's details (no script: <details>), and downloads the CSV export of the view.
// Any console error or CSP violation fails the test.
//
// Needs the authd binary (AUTHD_BIN, default $CARGO_TARGET_DIR/debug/authd) and Chromium
// (CHROMIUM_PATH, default /usr/bin/chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { adminSignedIn } from './admin_harness.mjs';

test('an admin explores the events and exports the view', async (t) => {
  const { page, problems } = await adminSignedIn(t, 'admin-events', { acceptDownloads: true });

  // From the overview to the explorer; filter by kind.
  await Promise.all([page.waitForEvent('load'), page.click('#events-link')]);
  assert.ok((await page.locator('#events tr[data-event]').count()) > 1);
  await page.fill('#f-kind', 'login_failed');
  await Promise.all([page.waitForEvent('load'), page.click('#event-filters button[type=submit]')]);
  assert.match(page.url(), /\/admin\/events\?kind=login_failed/);
  const rows = page.locator('#events tr[data-event]');
  assert.equal(await rows.count(), 1);
  const details = rows.first().locator('details');
  assert.equal(await details.locator('dl').isVisible(), false);
  await details.locator('summary').click();
  assert.equal(await details.locator('dl').isVisible(), true);
  assert.match(await details.locator('[data-decision]').textContent(), /deny/);

  // The export of this view, as a download.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[data-export="csv"]')]);
  assert.equal(download.suggestedFilename(), 'authd-events.csv');
  const csv = readFileSync(await download.path(), 'utf8');
  const lines = csv.trim().split('\r\n');
  assert.equal(lines.length, 2, csv);
  assert.match(lines[0], /^"id","ts","kind"/);
  assert.match(lines[1], /"login_failed"/);

  assert.deepEqual(problems, [], 'console errors or CSP violations');
});
