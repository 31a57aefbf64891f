// The step-up after a right password, end to end in headless Chromium with its virtual
// authenticator (DevTools protocol WebAuthn.addVirtualAuthenticator): sign in, enrol a passkey
// on the security page and an authenticator app, sign out; an application asks for a second
// factor (acr_values=urn:authd:acr:mfa), so the password sign-in is stepped up: the passkey is
// offered first, the app and the e-mailed code as other ways; the passkey passes and the
// browser lands back at the application with a code. Then a passwordless sign-in with the same
// passkey. Everything under the strict CSP: any console error or CSP violation fails the test.
//
// AUTHD_SCREENSHOT_DIR=../../docs (`npm run screenshot`) also writes the security page and
// each challenge page: docs/security-page.png, docs/step-up-webauthn.png,
// docs/step-up-totp.png, docs/step-up-email.png and docs/login-captcha.png.
//
// Needs the authd binary (AUTHD_BIN, default $CARGO_TARGET_DIR/debug/authd) and Chromium
// (CHROMIUM_PATH, default /usr/bin/chromium). The public URL is http://localhost:<port>.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, stopAndRemove, waitReady } from './harness.mjs';

const here = new URL('.', import.meta.url).pathname;
const targetDir = process.env.CARGO_TARGET_DIR || resolve(here, '../../target');
const bin = process.env.AUTHD_BIN || join(targetDir, 'debug', 'authd');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const shots = process.env.AUTHD_SCREENSHOT_DIR ? resolve(here, process.env.AUTHD_SCREENSHOT_DIR) : null;

// RFC 6238 (SHA-1, 30 s, 6 digits) from a base32 key, as an authenticator app computes it.
function totp(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

async function shot(page, name) {
  if (shots) await page.screenshot({ path: join(shots, name), fullPage: true });
}

test('stepped up to a passkey after the password, then passwordless', async (t) => {
  assert.ok(existsSync(bin), `authd binary not found at ${bin}`);
  const dir = mkdtempSync(join(tmpdir(), 'authd-step-up-'));
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const env = {
    PATH: process.env.PATH, AUTHD_BIND: `127.0.0.1:${port}`, AUTHD_ISSUER: base,
    RUST_LOG: 'warn', AUTHD_METRICS_BIND: '', AUTHD_MAIL_DIR: join(dir, 'mail'),
  };
  const email = `step-up-${Date.now()}@example.com`;
  const password = 'a step-up test passphrase';
  const cli = (args, input) => {
    const r = spawnSync(bin, args, { cwd: dir, env, input });
    assert.equal(r.status, 0, String(r.stderr));
  };
  cli(['migrate']); // only serve and migrate create the database
  cli(['user', 'add', email, '--password-stdin'], password); // verified: the e-mailed code too
  cli(['client', 'add', 'demo', '--redirect-uri', `${base}/cb`, '--public', '--first-party', '--name', 'Demo']);
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
  const problems = [];
  const watch = (page) => {
    page.on('console', (m) => {
      // A challenge or a step-up answers 401, which Chromium reports as a failed load.
      if (/status of 401/.test(m.text())) return;
      // The application's redirect URI: the code arrives there, and authd does not serve it.
      if (/status of 404/.test(m.text()) && m.location().url.startsWith(`${base}/cb?`)) return;
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => problems.push(String(e)));
  };
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const page = await context.newPage();
  watch(page);

  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });

  // The password form, and the CAPTCHA a new browser may meet first (pow.js solves it).
  async function passwordSignIn() {
    await page.fill('#username', email);
    await page.fill('#password', password);
    await Promise.all([page.waitForEvent('load'), page.click('form[method=post] button[type=submit]')]);
    if (await page.locator('[data-challenge="captcha"]').count() > 0) {
      await page.locator('[data-challenge="captcha"][data-pow-solved="true"]').waitFor({ timeout: 30000 });
      await page.fill('#password', password);
      await Promise.all([page.waitForEvent('load'), page.click('form[method=post] button[type=submit]')]);
    }
  }

  await page.goto(`${base}/login`);
  await passwordSignIn();
  assert.ok(page.url().endsWith('/account'), page.url());

  // Enrol a passkey on the security page (its own script runs the ceremony, then reloads).
  await page.goto(`${base}/account/security`);
  await page.fill('#passkey-name', 'Virtual key');
  await Promise.all([page.waitForEvent('load'), page.click('button[name="action"][value="passkey_add"]')]);
  await page.locator('[data-passkey]').first().waitFor();
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1);

  // And an authenticator app (on the security page, or the factors page it links to).
  if (await page.locator('button[name="action"][value="totp_start"]').count() === 0) {
    await page.goto(`${base}/account/factors`);
  }
  // The security page asks for the password again before a change (its five-minute mark).
  if (await page.locator('form[data-reauth] input[name="password"]').count() > 0) {
    await page.fill('form[data-reauth] input[name="password"]', password);
    await Promise.all([page.waitForEvent('load'), page.locator('form[data-reauth] input[name="password"]').press('Enter')]);
  }
  await page.click('button[name="action"][value="totp_start"]');
  const secret = await page.locator('[data-totp-secret]').getAttribute('data-totp-secret');
  await page.fill('input[name="totp_code"]', totp(secret));
  await page.click('button[name="action"][value="totp_confirm"]');
  await page.locator('[data-recovery-codes]').waitFor();
  await page.goto(`${base}/account/security`);
  await shot(page, 'security-page.png');

  await page.goto(`${base}/account`);
  await Promise.all([page.waitForURL(`${base}/login`), page.click('form[action="/logout"] button')]);

  // An application asks for a second factor: the password sign-in is stepped up.
  const authorize = `${base}/authorize?response_type=code&client_id=demo&redirect_uri=${encodeURIComponent(`${base}/cb`)}` +
    '&scope=openid&state=st&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256' +
    `&acr_values=${encodeURIComponent('urn:authd:acr:mfa')}`;
  await page.goto(authorize);
  assert.match(page.url(), /\/login\?next=/);
  await passwordSignIn();
  const box = page.locator('[data-challenge="webauthn"]');
  await box.waitFor();
  assert.equal(await box.locator('[data-passkey-assert]').count(), 1);
  assert.equal(await page.locator('input[name="password"]').count(), 0, 'the password is not asked again');
  await shot(page, 'step-up-webauthn.png');

  // The other ways the account has: the app, the e-mailed code; then back to the passkey.
  await page.click('button[name="factor"][value="totp"]');
  await page.locator('[data-challenge="totp"] input[name="totp_code"]').waitFor();
  await shot(page, 'step-up-totp.png');
  await page.click('button[name="factor"][value="email"]');
  await page.locator('[data-challenge="email"] input[name="email_code"]').waitFor();
  await shot(page, 'step-up-email.png');
  await page.click('button[name="factor"][value="webauthn"]');
  await page.locator('[data-challenge="webauthn"] [data-passkey-assert]').waitFor();

  // The passkey passes: back at the application with a code.
  await Promise.all([page.waitForURL(/\/cb\?/), page.click('[data-passkey-assert]')]);
  const back = new URL(page.url());
  assert.ok(back.searchParams.get('code'), page.url());
  assert.equal(back.searchParams.get('state'), 'st');
  await page.goto(`${base}/account`);
  assert.equal(await page.locator('#account-email').textContent(), email);

  // Passwordless sign-in still works with the same passkey.
  await Promise.all([page.waitForURL(`${base}/login`), page.click('form[action="/logout"] button')]);
  await Promise.all([page.waitForURL(`${base}/account`), page.click('[data-passkey-signin]')]);
  assert.equal(await page.locator('#account-email').textContent(), email);

  // The CAPTCHA, for the record: a fresh browser after three wrong passwords.
  const other = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  const guest = await other.newPage();
  watch(guest);
  await guest.goto(`${base}/login`);
  for (let i = 0; i < 6 && await guest.locator('[data-challenge="captcha"]').count() === 0; i++) {
    await guest.fill('#username', 'nobody@example.com');
    await guest.fill('#password', 'not the password');
    await Promise.all([guest.waitForEvent('load'), guest.click('form[method=post] button[type=submit]')]);
  }
  await guest.locator('[data-challenge="captcha"]').waitFor();
  // The first level's no-script fallback, an image the page fetches from its own URL (drawn
  // then, once per challenge, for this session only): it loads under the CSP.
  const img = guest.locator('[data-challenge="captcha"] img');
  assert.match(await img.getAttribute('src'), /^\/captcha\/image\?c=[0-9a-f]{32}$/);
  const width = await img.evaluate((i) => (i.complete ? i.naturalWidth : new Promise((done) => {
    i.addEventListener('load', () => done(i.naturalWidth));
    i.addEventListener('error', () => done(0));
  })));
  assert.equal(width, 220, 'the CAPTCHA image loaded');
  await shot(guest, 'login-captcha.png');
  await other.close();

  assert.deepEqual(problems, [], 'console errors or CSP violations');
});
