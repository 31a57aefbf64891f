// The admin console's user page in headless Chromium under the strict CSP: an admin signs in
// (a wrong password first), is stepped up with the e-mailed code, finds their account with the
// user search, sees its sessions (their own marked, with no End button), labels the failed
// sign-in as an attack, and unlocks. Any console error or CSP violation fails the test.
// (The user page's screenshots come from admin_story.test.mjs, an account under attack.)
//
// Needs the authd binary (AUTHD_BIN, default $CARGO_TARGET_DIR/debug/authd) and Chromium
// (CHROMIUM_PATH, default /usr/bin/chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminSignedIn } from './admin_harness.mjs';

test('an admin acts on an account from its page', async (t) => {
  const { base, page, email, problems } = await adminSignedIn(t, 'admin-user');

  // The search finds the account; its page lists this session as the admin's own.
  await page.goto(`${base}/admin/users`);
  await page.fill('#admin-q', 'ADMIN-');
  await Promise.all([page.waitForEvent('load'), page.click('form[role=search] button[type=submit]')]);
  await Promise.all([page.waitForEvent('load'), page.click('#users a')]);
  assert.equal(await page.locator('#user-email').textContent(), email);
  const own = page.locator('#user-sessions tr[data-session]', { hasText: 'your session' });
  assert.equal(await own.count(), 1);
  assert.equal(await own.locator('button').count(), 0, 'no End button on the session in use');

  // Label the failed sign-in as an attack: back on the page, saying so.
  const failed = page.locator('#user-events tr[data-event]', { hasText: 'login_failed' });
  assert.equal(await failed.count(), 1);
  await Promise.all([page.waitForEvent('load'), failed.locator('button[value="attack"]').click()]);
  assert.match(page.url(), /done=labelled-attack/);
  assert.match(await page.locator('#admin-notice').textContent(), /labelled an attack/);

  await Promise.all([page.waitForEvent('load'), page.click('button[value="unlock"]')]);
  assert.match(await page.locator('#admin-notice').textContent(), /lifted/);

  assert.deepEqual(problems, [], 'console errors or CSP violations');
});
