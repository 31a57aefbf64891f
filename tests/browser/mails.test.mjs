// Every kind of mail, as its HTML part renders in a mail program: the samples that
// `cargo test --lib mail_samples` keeps in docs/screens/mail/<kind>.html (rendered by the real
// mail code, src/mail/samples.rs), opened as files in Chromium. Each must show text, load
// nothing from anywhere (a mail program would not) and fit a phone without scrolling sideways.
//
// `npm run screenshot` (AUTHD_SCREENSHOT_DIR=../../docs) writes docs/screens/mail-<kind>.png;
// without it the test only checks. Needs Debian's chromium, not authd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const here = new URL('.', import.meta.url).pathname;
const samples = resolve(here, '../../docs/screens/mail');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const shots = process.env.AUTHD_SCREENSHOT_DIR ? resolve(here, process.env.AUTHD_SCREENSHOT_DIR, 'screens') : null;

test('every kind of mail renders (and is screenshot)', async (t) => {
  assert.ok(existsSync(samples), `${samples} is missing: run UPDATE_MAIL_SAMPLES=1 cargo test --lib mail_samples`);
  const kinds = readdirSync(samples).filter((f) => f.endsWith('.html')).map((f) => f.slice(0, -5)).sort();
  assert.ok(kinds.length >= 9, `mail samples: ${kinds.join(', ')}`);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 700, height: 600 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${m.text()} (${page.url()})`); });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('request', (r) => { if (!r.url().startsWith('file:')) problems.push(`loads ${r.url()}`); });
  if (shots) mkdirSync(shots, { recursive: true });
  for (const kind of kinds) {
    await page.setViewportSize({ width: 700, height: 600 });
    await page.goto(pathToFileURL(join(samples, `${kind}.html`)).href);
    const text = (await page.locator('body').innerText()).trim();
    assert.ok(text.length > 40, `${kind}: the mail shows no text`);
    assert.match(text, /authd/, `${kind}: the mail does not name the product`);
    assert.doesNotMatch(text, /\{\{|\{%/, `${kind}: template syntax left in the mail`);
    await page.setViewportSize({ width: 390, height: 600 });
    const narrow = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(narrow <= 390, `${kind}: scrolls sideways on a phone (${narrow}px wide)`);
    // A short viewport: the full-page shot is as tall as the mail, no blank below.
    await page.setViewportSize({ width: 700, height: 100 });
    if (shots) await page.screenshot({ path: join(shots, `mail-${kind}.png`), fullPage: true });
  }
  assert.deepEqual(problems, [], 'console errors or outside loads');
});
