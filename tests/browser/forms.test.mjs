// authd's forms in a real headless browser, under the strict CSP (any violation fails the
// test): the show-password toggle (a served script, no inline one), and one submit after a
// challenge added by refused attempts. AUTHD_CAPTCHA=test makes the CAPTCHA scriptable.
//
// Needs what login.test.mjs needs: the authd binary (AUTHD_BIN, default
// ../../target/debug/authd or $CARGO_TARGET_DIR) and Debian's chromium (CHROMIUM_PATH).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, stopAndRemove, waitReady } from './harness.mjs';

const here = new URL('.', import.meta.url).pathname;
const targetDir = process.env.CARGO_TARGET_DIR || resolve(here, '../../target');
const bin = process.env.AUTHD_BIN || join(targetDir, 'debug', 'authd');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ANSWER = 'browser-test-answer';

test('show-password toggle and one submit after a challenge, under the CSP', async (t) => {
  assert.ok(existsSync(bin), `authd binary not found at ${bin}`);
  const dir = mkdtempSync(join(tmpdir(), 'authd-forms-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ['serve'], {
    cwd: dir,
    // The score alone never challenges: what is challenged here is the ladder's doing.
    env: {
      PATH: process.env.PATH, AUTHD_BIND: `127.0.0.1:${port}`, AUTHD_ISSUER: base, RUST_LOG: 'error',
      AUTHD_METRICS_BIND: '', AUTHD_CAPTCHA: 'test', AUTHD_CAPTCHA_TEST_ANSWER: ANSWER,
      AUTHD_RISK_CHALLENGE_AT: '0.999', AUTHD_RISK_BLOCK_AT: '0.9999', AUTHD_STEP_UP_AT: '0.999',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  t.after(() => stopAndRemove(child, dir));
  await waitReady(base, child);

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    // Refused attempts answer 401, which Chromium reports as a failed load.
    if (/status of 401/.test(m.text())) return;
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(String(e)));

  // An account, through the page.
  const email = `forms-${Date.now()}@example.com`;
  const password = 'a forms passphrase';
  await page.goto(`${base}/register`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(/\/login\?registered=1$/), page.click('button[type=submit]')]);

  // The toggle: shown only with the script, it reveals and hides the typed password.
  const toggle = page.locator('button[data-password-toggle="password"]');
  await toggle.waitFor({ state: 'visible' });
  await page.fill('#password', 'secret to peek at');
  assert.equal(await page.locator('#password').getAttribute('type'), 'password');
  await toggle.click();
  assert.equal(await page.locator('#password').getAttribute('type'), 'text');
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
  assert.equal(await toggle.textContent(), 'Hide');
  await toggle.click();
  assert.equal(await page.locator('#password').getAttribute('type'), 'password');
  assert.equal(await toggle.getAttribute('aria-pressed'), 'false');

  // Three typos put this browser's source at the challenge rung (AUTHD_CHALLENGE_AFTER=3):
  // the third answer already shows the challenge and says so plainly.
  for (let i = 0; i < 3; i++) {
    await page.fill('#username', email);
    await page.fill('#password', `typo ${i}`);
    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login');
    await page.click('button[type=submit]');
    assert.equal((await posted).status(), 401);
    await page.waitForLoadState();
    await page.locator('#login-error').waitFor();
  }
  const box = page.locator('[data-challenge="captcha"]');
  await box.waitFor();
  const error = await page.locator('#login-error').textContent();
  assert.match(error, /not a robot and enter your password again/);
  assert.doesNotMatch(await page.content(), /You can continue/);
  assert.equal(await page.locator('#password').inputValue(), '', 'the password is never echoed');

  // One submit: the answer and the right password.
  await page.fill('#captcha_answer', ANSWER);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(`${base}/account`), page.click('button[type=submit]')]);

  assert.deepEqual(problems, [], 'console errors or CSP violations');
});
