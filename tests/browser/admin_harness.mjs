// What the admin console's Chromium tests share: an authd with one admin account (the mail
// written to a directory), a signed-in browser page past the console's step-up by the e-mailed
// code — a wrong password first, so the log has a failure to find — and the console errors and
// CSP violations seen on the way.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, stopAndRemove, waitReady } from './harness.mjs';

const here = new URL('.', import.meta.url).pathname;
const targetDir = process.env.CARGO_TARGET_DIR || resolve(here, '../../target');
export const bin = process.env.AUTHD_BIN || join(targetDir, 'debug', 'authd');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

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

// Starts authd and signs its admin in through the step-up; `name` names the temporary
// directory, `contextOptions` are Playwright's (downloads, …), `extraEnv` more AUTHD_*
// settings of the server. Returns `{ base, page, email, problems, cli, mailDir }` (`cli` runs
// an authd command against the server's database and answers its standard output);
// everything is torn down after the test `t`.
export async function adminSignedIn(t, name, contextOptions = {}, extraEnv = {}) {
  assert.ok(existsSync(bin), `authd binary not found at ${bin}`);
  const dir = mkdtempSync(join(tmpdir(), `authd-${name}-`));
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const mailDir = join(dir, 'mail');
  const env = {
    PATH: process.env.PATH, AUTHD_BIND: `127.0.0.1:${port}`, AUTHD_ISSUER: base,
    RUST_LOG: 'warn', AUTHD_METRICS_BIND: '', AUTHD_MAIL_DIR: mailDir, ...extraEnv,
  };
  const email = `admin-${Date.now()}@example.com`;
  const password = 'an admin console test passphrase';
  const cli = (args, input) => {
    const r = spawnSync(bin, args, { cwd: dir, env, input });
    assert.equal(r.status, 0, String(r.stderr));
    return String(r.stdout);
  };
  cli(['migrate']);
  cli(['user', 'add', email, '--admin', '--password-stdin'], password);
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
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, ...contextOptions });
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

  return { base, page, email, problems, cli, mailDir };
}
