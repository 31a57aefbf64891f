// Passkeys end to end in headless Chromium with its virtual authenticator (DevTools protocol
// WebAuthn.addVirtualAuthenticator: CTAP2, internal transport, resident keys, user
// verification): sign in with the password, enrol a passkey on the security page, sign out,
// sign in without a password with it, then remove it; all under the strict CSP (any console
// error or CSP violation fails the test).
//
// The public URL is http://localhost:<port>: a relying-party id must be a domain, never an IP.
// Needs the authd binary (AUTHD_BIN, default $CARGO_TARGET_DIR/debug/authd) and Chromium
// (CHROMIUM_PATH, default /usr/bin/chromium). AUTHD_SCREENSHOT_DIR=docs also writes
// docs/security-passkeys.png and docs/login-passkey.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, stopAndRemove, waitReady } from './harness.mjs';

const here = new URL('.', import.meta.url).pathname;
const targetDir = process.env.CARGO_TARGET_DIR || resolve(here, '../../target');
const bin = process.env.AUTHD_BIN || join(targetDir, 'debug', 'authd');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

test('enrol a passkey, sign out, sign in with it, remove it', async (t) => {
  assert.ok(existsSync(bin), `authd binary not found at ${bin}`);
  const dir = mkdtempSync(join(tmpdir(), 'authd-passkey-'));
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const env = {
    PATH: process.env.PATH, AUTHD_BIND: `127.0.0.1:${port}`, AUTHD_ISSUER: base,
    RUST_LOG: 'warn', AUTHD_METRICS_BIND: '',
  };
  const email = `passkey-${Date.now()}@example.com`;
  const password = 'a passkey test passphrase';
  // Only serve and migrate create the database.
  spawnSync(bin, ['migrate'], { cwd: dir, env });
  const added = spawnSync(bin, ['user', 'add', email, '--password-stdin'], { cwd: dir, env, input: password });
  assert.equal(added.status, 0, String(added.stderr));
  const child = spawn(bin, ['serve'], { cwd: dir, env, stdio: ['ignore', 'inherit', 'inherit'] });
  t.after(() => stopAndRemove(child, dir));
  await waitReady(`http://127.0.0.1:${port}`, child);

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    // A CAPTCHA on the password sign-in answers 401, which Chromium reports as a failed load.
    if (/status of 401/.test(m.text())) return;
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(String(e)));

  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });

  // Sign in with the password (a fresh sign-in: the re-authentication the change needs).
  await page.goto(`${base}/login`);
  assert.ok(await page.locator('[data-passkey-signin]').count() === 1, 'the passkey button is on /login');
  await page.fill('#username', email);
  await page.fill('#password', password);
  await page.click('form[method=post] button[type=submit]');
  // A new browser may meet the builtin CAPTCHA first; pow.js solves it, then the form again.
  await Promise.race([
    page.waitForURL(`${base}/account`),
    page.locator('[data-challenge="captcha"]').waitFor(),
  ]);
  if (!page.url().endsWith('/account')) {
    await page.locator('[data-challenge="captcha"][data-pow-solved="true"]').waitFor({ timeout: 30000 });
    await page.fill('#password', password);
    await Promise.all([page.waitForURL(`${base}/account`), page.click('form[method=post] button[type=submit]')]);
  }

  // Enrol on the security page: its own script runs the registration ceremony, then reloads it.
  await page.goto(`${base}/account/security`);
  assert.equal(await page.locator('[data-passkey]').count(), 0);
  let finish = null;
  page.on('request', (r) => {
    if (r.url().endsWith('/account/security/passkeys/finish')) finish = r.postData();
  });
  await page.fill('#passkey-name', 'Virtual key');
  await Promise.all([
    page.waitForEvent('load'),
    page.click('button[name="action"][value="passkey_add"]'),
  ]);
  const row = page.locator('[data-passkey]');
  await row.first().waitFor();
  assert.equal(await row.count(), 1);
  assert.equal(await row.locator('.passkey-name').textContent(), 'Virtual key');
  assert.equal(await row.locator('.passkey-last-used').textContent(), 'never');
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.ok(credentials[0].isResidentCredential, 'a discoverable credential (passkey)');
  // The authenticator's transports go with the registration (kept with the credential).
  assert.deepEqual(JSON.parse(finish).credential.response.transports, ['internal']);
  assert.ok(await page.locator('text=Second factor added').count() > 0, 'mfa_enrolled is listed');
  if (process.env.AUTHD_SCREENSHOT_DIR) {
    const out = resolve(here, process.env.AUTHD_SCREENSHOT_DIR);
    await page.locator('#passkeys').screenshot({ path: join(out, 'security-passkeys.png') });
  }

  // Sign out (from /account: the security page has a sign-out per session), then sign in
  // without a password.
  await page.goto(`${base}/account`);
  await Promise.all([page.waitForURL(`${base}/login`), page.click('form[action="/logout"] button')]);
  if (process.env.AUTHD_SCREENSHOT_DIR) {
    const out = resolve(here, process.env.AUTHD_SCREENSHOT_DIR);
    await page.screenshot({ path: join(out, 'login-passkey.png') });
  }
  await Promise.all([page.waitForURL(`${base}/account`), page.click('[data-passkey-signin]')]);
  assert.equal(await page.locator('#account-email').textContent(), email);
  await page.goto(`${base}/account/security`);
  assert.notEqual(await page.locator('[data-passkey] .passkey-last-used').textContent(), 'never');
  const cookies = await context.cookies();
  assert.ok(cookies.find((c) => c.name === 'authd_session'), 'a session cookie');
  assert.ok(cookies.find((c) => c.name === 'authd_device'), 'a device cookie, as after a password');

  // Removal (the passkey sign-in was the recent authentication it needs).
  await Promise.all([
    page.waitForURL(`${base}/account/security`),
    page.click('[data-passkey] button[value="passkey_remove"]'),
  ]);
  assert.equal(await page.locator('[data-passkey]').count(), 0);
  assert.ok(await page.locator('text=Second factor removed').count() > 0, 'mfa_removed is listed');

  assert.deepEqual(problems, [], 'console errors or CSP violations');
});
