// A tour of every page and every mail a user meets, in Chromium at desktop and phone widths,
// under the strict CSP (any console error or CSP violation fails the test): sign-in, register,
// the verification link, the account and security pages (with re-authentication), an app's
// consent page, the sign-out page, an error page, forgot/reset, "wasn't you?" (question,
// confirmation, reset link mailed), and each mail queued on the way
// (the HTML part, rendered as a person's mail program would; the screenshot of every kind of
// mail comes from mails.test.mjs, which meets them all).
//
// `npm run screenshot` (AUTHD_SCREENSHOT_DIR=../../docs) regenerates the screenshots
// (docs/screens/<page>-desktop.png and -phone.png); without it the tour only checks. Needs
// AUTHD_BIN (or $CARGO_TARGET_DIR/debug/authd) and Debian's chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync, readdirSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { freePort, stopAndRemove, waitReady } from './harness.mjs';

const here = new URL('.', import.meta.url).pathname;
const targetDir = process.env.CARGO_TARGET_DIR || resolve(here, '../../target');
const bin = process.env.AUTHD_BIN || join(targetDir, 'debug', 'authd');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const shots = process.env.AUTHD_SCREENSHOT_DIR ? resolve(here, process.env.AUTHD_SCREENSHOT_DIR, 'screens') : null;

// The decoded body of a MIME part (quoted-printable, base64 or plain).
function decodePart(headers, body) {
  const enc = (/content-transfer-encoding:\s*([\w-]+)/i.exec(headers) || [])[1]?.toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') {
    const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

// Every mail in the mail directory, oldest first: { subject, text, html }.
function readMails(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.eml')).sort().map((f) => {
    const raw = readFileSync(join(dir, f), 'utf8');
    const subject = (/^Subject:\s*(.*)$/mi.exec(raw) || [])[1] || '';
    const parts = {};
    for (const chunk of raw.split(/\r?\n--[^\r\n]+\r?\n/)) {
      const m = /^([\s\S]*?)\r?\n\r?\n([\s\S]*)$/.exec(chunk);
      if (!m) continue;
      if (/content-type:\s*text\/html/i.test(m[1])) parts.html = decodePart(m[1], m[2].replace(/\r?\n--[^\r\n]*--\s*$/, ''));
      else if (/content-type:\s*text\/plain/i.test(m[1])) parts.text = decodePart(m[1], m[2].replace(/\r?\n--[^\r\n]*--\s*$/, ''));
    }
    return { file: f, subject, ...parts };
  });
}

function linkIn(mail, path) {
  const m = new RegExp(`https?://[^\\s"<>]+${path.replace(/[/?]/g, '\\$&')}[^\\s"<>]*`).exec(mail.text || mail.html || '');
  assert.ok(m, `no ${path} link in "${mail.subject}"`);
  return m[0].replace(/&amp;/g, '&');
}

test('every page and mail renders under the CSP at desktop and phone widths', async (t) => {
  assert.ok(existsSync(bin), `authd binary not found at ${bin}`);
  const dir = mkdtempSync(join(tmpdir(), 'authd-tour-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH, AUTHD_BIND: `127.0.0.1:${port}`, AUTHD_ISSUER: base, RUST_LOG: 'warn',
    AUTHD_METRICS_BIND: '', AUTHD_CAPTCHA: 'test', AUTHD_CAPTCHA_TEST_ANSWER: 'tour', AUTHD_MAIL_POLL_MS: '50',
  };
  const cli = (...args) => JSON.parse(execFileSync(bin, args, { cwd: dir, env, encoding: 'utf8' }));
  cli('migrate');
  cli('client', 'add', 'tea-shop', '--redirect-uri', 'http://127.0.0.1:9/callback', '--name', 'Tea shop');
  const child = spawn(bin, ['serve'], { cwd: dir, env, stdio: ['ignore', 'inherit', 'inherit'] });
  t.after(() => stopAndRemove(child, dir));
  await waitReady(base, child);
  const outbox = join(dir, 'outbox');
  const mailWith = async (pred) => {
    for (let i = 0; i < 200; i++) {
      const found = readMails(outbox).filter(pred);
      if (found.length) return found[found.length - 1];
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the expected mail did not arrive');
  };

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    // 401 and 4xx answers are expected outcomes (challenges, errors), reported as failed loads.
    if (/status of 4\d\d/.test(m.text())) return;
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`${m.text()} (${page.url()})`);
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  if (shots) mkdirSync(shots, { recursive: true });
  const seen = [];
  // Checks the page is whole (a heading, no stack trace) and, when asked, shoots both widths.
  const shoot = async (name) => {
    await page.waitForLoadState('load');
    assert.ok(await page.locator('h1').count() > 0, `${name}: no heading`);
    assert.doesNotMatch(await page.content(), /panicked|stack backtrace|RUST_BACKTRACE/);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    await page.setViewportSize({ width: 390, height: 844 });
    const narrow = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(narrow <= 390, `${name}: scrolls sideways on a phone (${narrow}px wide)`);
    if (shots) await page.screenshot({ path: join(shots, `${name}-phone.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    if (shots) await page.screenshot({ path: join(shots, `${name}-desktop.png`), fullPage: true });
    assert.ok(wide <= 1280);
    seen.push(name);
  };
  // Submits the form holding `button`, answering the CAPTCHA (and the password again) if asked.
  const submit = async (button, password) => {
    await Promise.all([page.waitForLoadState('load'), page.click(button)]);
    if (await page.locator('[data-challenge="captcha"]').count() > 0) {
      await page.fill('#captcha_answer', 'tour');
      if (password && await page.locator('#password').count() > 0) await page.fill('#password', password);
      await Promise.all([page.waitForLoadState('load'), page.click(button)]);
    }
  };

  const email = 'tour@example.com';
  const password = 'a tour of the pages';
  await page.goto(`${base}/login`);
  await shoot('login');

  await page.click('text=Create an account');
  await shoot('register');
  await page.fill('#email', email);
  await page.fill('#password', password);
  await submit('button[type=submit]', password);

  // The verification link: the GET asks, the POST confirms.
  const verify = await mailWith((m) => /verify-email/.test(m.text || ''));
  await page.goto(linkIn(verify, '/verify-email'));
  await shoot('verify-email');
  await Promise.all([page.waitForLoadState('load'), page.click('button[value=verify]')]);
  await page.locator('#email-verified').waitFor();

  await page.goto(`${base}/login`);
  await page.fill('#username', email);
  await page.fill('#password', password);
  await submit('button[type=submit]', password);
  assert.equal(new URL(page.url()).pathname, '/account', `signed in: ${page.url()}`);
  await shoot('account');

  await page.goto(`${base}/account/security`);
  await shoot('security-reauth');
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForLoadState('load'), page.locator('input[name=password]').press('Enter')]);
  await page.locator('[data-session][data-current]').waitFor();
  await shoot('security');

  // An app's authorization request: the consent page names the app.
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  await page.goto(`${base}/authorize?response_type=code&client_id=tea-shop&redirect_uri=${encodeURIComponent('http://127.0.0.1:9/callback')}`
    + `&scope=openid%20email&state=tour&code_challenge=${challenge}&code_challenge_method=S256`);
  assert.ok(await page.locator('button[name=consent][value=allow]').count() > 0, 'the consent page');
  assert.match(await page.content(), /Tea shop/);
  await shoot('consent');

  await page.goto(`${base}/authorize?response_type=code&client_id=no-such-app&redirect_uri=x`);
  await shoot('error');

  await page.goto(`${base}/logout`);
  await shoot('logout');
  await Promise.all([page.waitForLoadState('load'), page.click('form[action="/logout"] button')]);

  await page.goto(`${base}/password/forgot`);
  await shoot('forgot');
  await page.fill('#email', email);
  await submit('button[type=submit]');
  await shoot('forgot-sent');
  const reset = await mailWith((m) => /password\/reset/.test(m.text || ''));
  await page.goto(linkIn(reset, '/password/reset'));
  await shoot('reset');

  // "Wasn't you?": a browser the account has not used signs in (this one, its cookies cleared),
  // and the owner follows the alert's link: the question, the confirmation of what was done,
  // and the button that mails a reset link.
  await context.clearCookies();
  await page.goto(`${base}/login`);
  await page.fill('#username', email);
  await page.fill('#password', password);
  await submit('button[type=submit]', password);
  const alert = await mailWith((m) => /not-me/.test(m.text || ''));
  await page.goto(linkIn(alert, '/not-me'));
  await shoot('not-me');
  await Promise.all([page.waitForLoadState('load'), page.click('form[action="/not-me"] button')]);
  await page.locator('#not-me-done').waitFor();
  await shoot('not-me-done');
  const resets = () => readMails(outbox).filter((m) => /password\/reset/.test(m.text || '')).length;
  const before = resets();
  await Promise.all([page.waitForLoadState('load'), page.click('form[action="/not-me/reset"] button')]);
  await page.locator('#reset-sent').waitFor();
  await shoot('not-me-sent');
  await mailWith(() => resets() > before);

  // Each mail met on the way, as its HTML part renders (mails.test.mjs screenshots every kind).
  const mails = readMails(outbox);
  assert.ok(mails.length >= 2, 'mails were sent');
  const mailPage = await context.newPage();
  for (const m of mails) {
    assert.ok(m.html && m.text, `"${m.subject}" has a text and an HTML part`);
    assert.doesNotMatch(m.text, /\d{2}:\d{2}:\d{2}\.\d{6,}/, `"${m.subject}" shows a raw timestamp`);
    await mailPage.setViewportSize({ width: 700, height: 600 });
    await mailPage.setContent(m.html);
    assert.ok((await mailPage.locator('body').innerText()).trim().length > 0, `"${m.subject}" shows text`);
  }
  await mailPage.close();

  assert.deepEqual(problems, [], 'console errors or CSP violations');
  assert.ok(seen.length >= 11, `pages toured: ${seen.join(', ')}`);
});
