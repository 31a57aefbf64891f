// An app's sign-in survives the detours in a real headless Chromium (issue #13, INTERFACE: a
// pending authorization request survives every detour from the sign-in page): a small client
// app sends the browser to authd; "Create an account" (and the mailed verification link), or
// "Forgot your password?" and the mailed reset link, end back at the app's redirect URI with a
// code, which the app exchanges at the token endpoint. All under the strict CSP (any console
// error or CSP violation fails the test). Mail is read from the server's outbox directory.
//
// Needs the authd binary (AUTHD_BIN, default $CARGO_TARGET_DIR/debug/authd) and Chromium
// (CHROMIUM_PATH, default /usr/bin/chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, stopAndRemove, waitReady } from './harness.mjs';

const here = new URL('.', import.meta.url).pathname;
const targetDir = process.env.CARGO_TARGET_DIR || resolve(here, '../../target');
const bin = process.env.AUTHD_BIN || join(targetDir, 'debug', 'authd');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const APP_NAME = 'Notes App';

const b64url = (buf) => buf.toString('base64url');

// The client app: /start sends the browser to authd's /authorize (PKCE, state); /callback
// checks the state, redeems the code at /token and shows the outcome in #result.
function startClientApp(port, base, clientId) {
  const pending = new Map();
  const redirectUri = `http://127.0.0.1:${port}/callback`;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, redirectUri);
    if (url.pathname === '/start') {
      const state = b64url(randomBytes(16));
      const verifier = b64url(randomBytes(32));
      pending.set(state, verifier);
      const challenge = b64url(createHash('sha256').update(verifier).digest());
      const q = new URLSearchParams({
        response_type: 'code', client_id: clientId, redirect_uri: redirectUri,
        scope: 'openid email', state, code_challenge: challenge, code_challenge_method: 'S256',
      });
      res.writeHead(302, { location: `${base}/authorize?${q}` }).end();
      return;
    }
    if (url.pathname === '/callback') {
      const verifier = pending.get(url.searchParams.get('state'));
      const code = url.searchParams.get('code');
      let result = 'no code or unknown state';
      if (verifier && code) {
        pending.delete(url.searchParams.get('state'));
        const r = await fetch(`${base}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'authorization_code', code, redirect_uri: redirectUri,
            code_verifier: verifier, client_id: clientId,
          }),
        });
        const body = await r.json();
        const claims = body.id_token
          ? JSON.parse(Buffer.from(body.id_token.split('.')[1], 'base64url').toString())
          : {};
        result = r.ok ? `signed in as ${claims.email}` : `token error ${r.status} ${JSON.stringify(body)}`;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>Notes</title><p id="result">${result}</p>`);
      return;
    }
    res.writeHead(204).end();
  });
  return new Promise((ok) => server.listen(port, '127.0.0.1', () => ok({ server, redirectUri })));
}

// The newest mail to `to` holding a link that matches `re`, decoded (quoted-printable).
async function mailedLink(outbox, to, re) {
  for (let i = 0; i < 300; i++) {
    const files = existsSync(outbox) ? readdirSync(outbox).filter((f) => f.endsWith('.eml')) : [];
    for (const f of files) {
      const text = readFileSync(join(outbox, f), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      if (!text.includes(`To: ${to}`)) continue;
      const m = text.match(re);
      if (m) return m[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no mail to ${to} matching ${re}`);
}

// Fills the sign-in form and submits it until the browser leaves /login (a CAPTCHA, if the
// server asks for one, is solved by the page's own script).
async function signIn(page, email, password) {
  await page.fill('#username', email);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForLoadState();
  if (new URL(page.url()).pathname === '/login') {
    await page.locator('[data-challenge="captcha"][data-pow-solved="true"]').waitFor({ timeout: 30000 });
    await page.fill('#password', password);
    await page.click('button[type=submit]');
  }
}

test('an app sign-in survives register, verification, forgot and reset in Chromium', async (t) => {
  assert.ok(existsSync(bin), `authd binary not found at ${bin}`);
  const dir = mkdtempSync(join(tmpdir(), 'authd-detours-'));
  const [port, appPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH, AUTHD_BIND: `127.0.0.1:${port}`, AUTHD_ISSUER: base,
    RUST_LOG: 'warn', AUTHD_METRICS_BIND: '',
  };
  const redirect = `http://127.0.0.1:${appPort}/callback`;
  const migrated = spawnSync(bin, ['migrate'], { cwd: dir, env });
  assert.equal(migrated.status, 0, String(migrated.stderr));
  const added = spawnSync(bin, ['client', 'add', 'notes', '--public', '--first-party',
    '--redirect-uri', redirect, '--name', APP_NAME],
  { cwd: dir, env });
  assert.equal(added.status, 0, String(added.stderr));
  const child = spawn(bin, ['serve'], { cwd: dir, env, stdio: ['ignore', 'inherit', 'inherit'] });
  t.after(() => stopAndRemove(child, dir));
  await waitReady(base, child);
  const { server } = await startClientApp(appPort, base, 'notes');
  t.after(() => server.close());
  const outbox = join(dir, 'outbox');

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
      // A challenged sign-in answers 401, which Chromium reports as a failed load.
      if (/status of 401/.test(m.text())) return;
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (e) => problems.push(String(e)));
    return page;
  };
  const atApp = (page) => page.waitForURL((u) => u.href.startsWith(`${redirect}?`), { timeout: 30000 });

  // 1. Register from the app's sign-in page, confirm the address from the mail, sign in.
  const email = `detour-${Date.now()}@example.com`;
  const password = 'a detour passphrase';
  const ctx1 = await browser.newContext();
  const page = watch(await ctx1.newPage());
  await page.goto(`http://127.0.0.1:${appPort}/start`);
  assert.match(page.url(), /\/login\?next=%2Fauthorize%3F/);
  assert.equal(await page.locator('[data-client-name]').textContent(), APP_NAME);
  await page.click('text=Create an account');
  assert.match(page.url(), /\/register\?next=%2Fauthorize%3F/);
  assert.equal(await page.locator('[data-client-name]').textContent(), APP_NAME);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(/\/login\?registered=1&next=%2Fauthorize%3F/), page.click('button[type=submit]')]);
  assert.equal(await page.locator('[data-client-name]').textContent(), APP_NAME);

  // The verification link, opened in the same browser before signing in, continues to the app.
  const verify = await mailedLink(outbox, email, /http:\/\/127\.0\.0\.1:\d+\/verify-email\?token=[A-Za-z0-9._-]+/);
  assert.ok(!verify.includes('next'), verify);
  const mailTab = watch(await ctx1.newPage());
  await mailTab.goto(verify);
  await mailTab.click('button[value=verify]');
  await mailTab.locator('#email-verified').waitFor();
  const onward = mailTab.locator('#verify-continue');
  assert.equal(await onward.locator('[data-client-name]').textContent(), APP_NAME);
  await onward.click();
  await mailTab.waitForURL(/\/login\?next=%2Fauthorize%3F/);
  await signIn(mailTab, email, password);
  await atApp(mailTab);
  assert.equal(await mailTab.locator('#result').textContent(), `signed in as ${email}`);
  await ctx1.close();

  // 2. A new browser: "Forgot your password?" from the app's sign-in page, the mailed link,
  // a new password, sign in: back at the app.
  const ctx2 = await browser.newContext();
  const p2 = watch(await ctx2.newPage());
  await p2.goto(`http://127.0.0.1:${appPort}/start`);
  await p2.click('text=Forgot your password?');
  assert.match(p2.url(), /\/password\/forgot\?next=%2Fauthorize%3F/);
  assert.equal(await p2.locator('[data-client-name]').textContent(), APP_NAME);
  await p2.fill('#email', email);
  await p2.click('button[type=submit]');
  await p2.locator('#forgot-sent').waitFor();
  const reset = await mailedLink(outbox, email, /http:\/\/127\.0\.0\.1:\d+\/password\/reset\?token=[A-Za-z0-9._-]+/);
  await p2.goto(reset);
  assert.equal(await p2.locator('[data-client-name]').textContent(), APP_NAME);
  const newPassword = 'a new detour passphrase';
  await p2.fill('#password', newPassword);
  await p2.fill('#password_confirm', newPassword);
  await Promise.all([p2.waitForURL(/\/login\?reset=1&next=%2Fauthorize%3F/), p2.click('button[type=submit]')]);
  await signIn(p2, email, newPassword);
  await atApp(p2);
  assert.equal(await p2.locator('#result').textContent(), `signed in as ${email}`);
  await ctx2.close();

  assert.deepEqual(problems, [], 'console errors or CSP violations');
});
