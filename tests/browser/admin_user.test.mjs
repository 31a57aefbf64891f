// The admin console's user page in headless Chromium under the strict CSP: an admin signs in
// (a wrong password first), is stepped up with the e-mailed code, finds their account with the
// user search, sees its sessions (their own marked, with no End button), labels the failed
// sign-in as an attack, and unlocks. Any console error or CSP violation fails the test.
// `npm run screenshot` writes docs/screens/admin-user-desktop.png.
//
// Needs the authd binary (AUTHD_BIN, default $CARGO_TARGET_DIR/debug/authd) and Chromium
// (CHROMIUM_PATH, default /usr/bin/chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync, rmSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, waitReady } from './harness.mjs';

const here = new URL('.', import.meta.url).pathname;
const targetDir = process.env.CARGO_TARGET_DIR || resolve(here, '../../target');
const bin = process.env.AUTHD_BIN || join(targetDir, 'debug', 'authd');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const shots = process.env.AUTHD_SCREENSHOT_DIR ? resolve(here, process.env.AUTHD_SCREENSHOT_DIR, 'screens') : null;

// The newest e-mailed sign-in code in the mail directory (the mail worker writes it soon after).
async function lastCode(mailDir) {
  for (let i = 0; i < 100; i++) {
    const files = existsSync(mailDir) ? readdirSync(mailDir).map((f) => join(mailDir, f)) : [];
    files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    for (const f of files) {
      const m = /sign-in code is:\s*(\d{6})/.exec(readFileSync(f, 'utf8'));
      if (m) return m[1];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no code mail');
}

test('an admin acts on an account from its page', async (t) => {
  assert.ok(existsSync(bin), `authd binary not found at ${bin}`);
  const dir = mkdtempSync(join(tmpdir(), 'authd-admin-user-'));
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const mailDir = join(dir, 'mail');
  const env = {
    PATH: process.env.PATH, AUTHD_BIND: `127.0.0.1:${port}`, AUTHD_ISSUER: base,
    RUST_LOG: 'warn', AUTHD_METRICS_BIND: '', AUTHD_MAIL_DIR: mailDir,
  };
  const email = `admin-${Date.now()}@example.com`;
  const password = 'an admin console test passphrase';
  const cli = (args, input) => {
    const r = spawnSync(bin, args, { cwd: dir, env, input });
    assert.equal(r.status, 0, String(r.stderr));
  };
  cli(['migrate']);
  cli(['user', 'add', email, '--admin', '--password-stdin'], password);
  const child = spawn(bin, ['serve'], { cwd: dir, env, stdio: ['ignore', 'inherit', 'inherit'] });
  t.after(() => { child.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }); });
  await waitReady(`http://127.0.0.1:${port}`, child);

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const problems = [];
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.on('console', (m) => {
    // The step-up page answers 403 and a challenge 401, which Chromium reports as failed loads.
    if (/status of 40[13]/.test(m.text())) return;
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(String(e)));

  // A wrong password first, so the log has a failure to find.
  await page.goto(`${base}/login`);
  await page.fill('#username', email);
  await page.fill('#password', 'not the password');
  await Promise.all([page.waitForEvent('load'), page.click('form[method=post] button[type=submit]')]);
  await page.fill('#username', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForEvent('load'), page.click('form[method=post] button[type=submit]')]);

  // The console asks for a second factor: the e-mailed code.
  await page.goto(`${base}/admin`);
  await page.locator('#admin-step-up').waitFor();
  await Promise.all([page.waitForEvent('load'), page.click('button[value="admin_step_up"]')]);
  await page.fill('#username', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForEvent('load'), page.click('form[method=post] button[type=submit]')]);
  await page.locator('[data-challenge="email"]').waitFor();
  await page.fill('input[name="email_code"]', await lastCode(mailDir));
  await Promise.all([page.waitForURL(`${base}/admin`), page.locator('input[name="email_code"]').press('Enter')]);

  // The search finds the account; its page lists this session as the admin's own.
  await page.goto(`${base}/admin/users`);
  await page.fill('#admin-q', 'ADMIN-');
  await Promise.all([page.waitForEvent('load'), page.click('form[role=search] button[type=submit]')]);
  await Promise.all([page.waitForEvent('load'), page.click('#users a')]);
  assert.equal(await page.locator('#user-email').textContent(), email);
  const own = page.locator('#user-sessions tr[data-session]', { hasText: 'your session' });
  assert.equal(await own.count(), 1);
  assert.equal(await own.locator('button').count(), 0, 'no End button on the session in use');
  if (shots) await page.screenshot({ path: join(shots, 'admin-user-desktop.png'), fullPage: true });

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
