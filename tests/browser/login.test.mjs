// authd in a real headless browser: register, sign in through the page, land on /account,
// sign out, all under the strict CSP (any violation fails the test).
//
// Needs: the authd binary (AUTHD_BIN, default ../../target/debug/authd or $CARGO_TARGET_DIR),
// Debian's chromium at /usr/bin/chromium (CHROMIUM_PATH overrides).
// AUTHD_SCREENSHOT_DIR=docs regenerates docs/login.png and docs/login-mobile.png.
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

test('register, sign in, account, sign out in Chromium under the CSP', async (t) => {
  assert.ok(existsSync(bin), `authd binary not found at ${bin}`);
  const dir = mkdtempSync(join(tmpdir(), 'authd-browser-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ['serve'], {
    cwd: dir,
    // Every sign-in from an unknown browser meets the builtin CAPTCHA, whose proof-of-work the
    // page's own script must solve under the CSP.
    // No metrics listener (AUTHD_METRICS_BIND empty): it would take the fixed default port.
    env: { PATH: process.env.PATH, AUTHD_BIND: `127.0.0.1:${port}`, AUTHD_ISSUER: base, RUST_LOG: 'warn', AUTHD_CHALLENGE_AFTER: '0', AUTHD_METRICS_BIND: '' },
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
  // 401 is an expected outcome here (challenges, the wrong password), reported by Chromium as a
  // failed load; anything else in the console fails the test.
  let expect401 = true;
  page.on('console', (m) => {
    // The deliberate wrong-password post answers 401, which Chromium reports as a failed load.
    if (expect401 && /status of 401/.test(m.text())) return;
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(String(e)));

  await page.goto(`${base}/login`);
  assert.equal(await page.title(), 'Sign in · authd');
  // The stylesheet loaded under the CSP: the button has the accent background, not the default.
  const bg = await page.locator('button[type=submit]').first().evaluate((b) => getComputedStyle(b).backgroundColor);
  assert.equal(bg, 'rgb(11, 92, 173)');
  if (process.env.AUTHD_SCREENSHOT_DIR) {
    const out = resolve(here, process.env.AUTHD_SCREENSHOT_DIR);
    await page.screenshot({ path: join(out, 'login.png') });
    const phone = await browser.newContext({ viewport: { width: 390, height: 760 }, deviceScaleFactor: 2 });
    const p2 = await phone.newPage();
    await p2.goto(`${base}/login`);
    await p2.screenshot({ path: join(out, 'login-mobile.png') });
    await phone.close();
  }

  const email = `browser-${Date.now()}@example.com`;
  const password = 'a browser passphrase';
  const solved = '[data-challenge="captcha"][data-pow-solved="true"]';
  await page.click('text=Create an account');
  // With AUTHD_CHALLENGE_AFTER=0 every submit needs the challenge: the form shows it up front
  // and pow.js solves it, so one submit is enough.
  await page.locator(solved).waitFor({ timeout: 30000 });
  assert.equal(await page.locator('.pow-status').textContent(), 'Check complete.');
  await page.fill('#email', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(/\/login\?registered=1$/), page.click('button[type=submit]')]);

  // The sign-in page too: a new browser meets the challenge before the first submit, and
  // pow.js solves it without any reading.
  await page.locator(solved).waitFor({ timeout: 30000 });
  assert.ok(await page.locator('.pow-fallback').isHidden(), 'the image fallback is hidden once solved');
  await page.fill('#username', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(`${base}/account`), page.click('button[type=submit]')]);
  assert.equal(await page.locator('#account-email').textContent(), email);
  assert.ok(await page.locator('text=Signed in').count() > 0, 'the account page lists the sign-in event');
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'authd_session');
  assert.ok(session && session.httpOnly && session.sameSite === 'Lax');

  await Promise.all([page.waitForURL(`${base}/login`), page.click('text=Sign out')]);
  await page.goto(`${base}/account`);
  assert.match(page.url(), /\/login\?next=%2Faccount$/);

  // A wrong password after the (up-front) challenge shows the generic error; the passed
  // challenge holds for the next submit, so the right password then signs in at once.
  await page.locator(solved).waitFor({ timeout: 30000 });
  await page.fill('#username', email);
  await page.fill('#password', 'not the password');
  expect401 = true;
  await page.click('button[type=submit]');
  await page.locator('#login-error', { hasText: 'Incorrect email or password.' }).waitFor();
  assert.equal(await page.locator('#password').inputValue(), '', 'the password is never echoed');
  assert.equal(await page.locator('#password').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'password');
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(`${base}/account`), page.click('button[type=submit]')]);

  // A submit before the page's check is done is held and sent once it is: one click signs in.
  // (The check's answer is slowed here: each message from the worker arrives 1.5 s late.)
  const slow = await browser.newContext();
  await slow.addInitScript(() => {
    const d = Object.getOwnPropertyDescriptor(Worker.prototype, 'onmessage');
    Object.defineProperty(Worker.prototype, 'onmessage', {
      configurable: true,
      get() { return d.get.call(this); },
      set(fn) { d.set.call(this, (ev) => setTimeout(() => fn.call(this, ev), 1500)); },
    });
  });
  const early = await slow.newPage();
  early.on('pageerror', (e) => problems.push(String(e)));
  await early.goto(`${base}/login`);
  await early.locator('[data-challenge="captcha"][data-pow-salt]').waitFor();
  await early.fill('#username', email);
  await early.fill('#password', password);
  assert.equal(await early.locator(solved).count(), 0, 'not solved yet when sent');
  await Promise.all([early.waitForURL(`${base}/account`, { timeout: 30000 }), early.click('button[type=submit]')]);
  await slow.close();

  // A browser whose worker cannot start: the image comes back, to be typed.
  const noWorker = await browser.newContext();
  await noWorker.addInitScript(() => { window.Worker = function () { throw new Error('no workers'); }; });
  const typed = await noWorker.newPage();
  await typed.goto(`${base}/login`);
  await typed.locator('.pow-fallback img').waitFor({ state: 'visible' });
  assert.ok(await typed.locator('#captcha_answer').isVisible());
  await noWorker.close();

  assert.deepEqual(problems, [], 'console errors or CSP violations');
});
