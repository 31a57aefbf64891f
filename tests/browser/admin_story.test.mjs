// The operator's whole story in headless Chromium under the strict CSP: an admin signs in and is
// stepped up with the e-mailed code; 30 failed sign-ins on one account from ten networks
// (driven over HTTP here, through the real form, until the account locks) and then a short
// run of the traffic simulator (`authd simulate`) give the console something to show; the
// admin finds that account on the overview's most attacked list, follows it to the explorer
// and to the account's page, labels one of the failed sign-ins an attack, unlocks the account
// (the lock is gone; the explorer shows the `admin_action` records of both acts), and exports
// the account's events and the admin's own acts as CSV (parsed: the labelled event and both
// records are in them). A console error or CSP violation anywhere in the run fails the test.
//
// Every page it passes is screenshot at desktop and phone width, the overview, the account's
// page and the explorer: on every run the PNGs are taken (and the page must not scroll
// sideways on the phone), and `npm run screenshot` (AUTHD_SCREENSHOT_DIR=../../docs) writes
// them as docs/screens/admin-{overview,user,events}-{desktop,phone}.png.
//
// Needs the authd binary (AUTHD_BIN, default $CARGO_TARGET_DIR/debug/authd) and Chromium
// (CHROMIUM_PATH, default /usr/bin/chromium). With AUTHD_TEST_GEOIP_DB (set by .ci/run) the
// server and the simulator read that country database, and the overview shows countries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { adminSignedIn, bin } from './admin_harness.mjs';

const here = new URL('.', import.meta.url).pathname;
const shots = process.env.AUTHD_SCREENSHOT_DIR ? resolve(here, process.env.AUTHD_SCREENSHOT_DIR, 'screens') : null;
const geoip = process.env.AUTHD_TEST_GEOIP_DB && existsSync(process.env.AUTHD_TEST_GEOIP_DB)
  ? process.env.AUTHD_TEST_GEOIP_DB : null;
const ANSWER = 'story-answer';

// What the simulator needs of the server (as tests/api/risk.rs sets it): its sources are
// X-Forwarded-For addresses from loopback, its users answer the `test` CAPTCHA, it compresses
// days into seconds (so the per-minute rates are raised), and hashing is not what is shown.
// Two settings only save wall time: the growing delay after a failed answer (the simulator's
// attackers fail a few hundred times; the delay is a real sleep, ~35 s of the run) and the mail
// worker's poll (the simulated owners wait for their verification mails).
const serverEnv = {
  AUTHD_TRUSTED_PROXIES: '127.0.0.1/32',
  AUTHD_CAPTCHA: 'test',
  AUTHD_CAPTCHA_TEST_ANSWER: ANSWER,
  AUTHD_RATE_LOGIN_PER_IP: '100000',
  AUTHD_RATE_LOGIN_PER_ACCOUNT: '100000',
  AUTHD_RATE_REGISTER_PER_IP: '100000',
  AUTHD_ARGON2_MEMORY_KIB: '64',
  AUTHD_ARGON2_ITERATIONS: '1',
  AUTHD_FAILURE_DELAY_MS: '0',
  AUTHD_MAIL_POLL_MS: '50',
  ...(geoip ? { AUTHD_GEOIP_DB: geoip } : {}),
};

// A short simulation (both phases, training in between): 5 regular users and 3 thin owners, a
// day of history, a few takeovers, brute force, a stuffing wave from 30 addresses, spraying.
// About 8 s against a debug build. Answers the report.
async function simulate(base, mailDir, adminPair) {
  const args = ['simulate', '--target', base, '--seed', '7', '--users', '5', '--thin-users', '3',
    '--days', '1', '--attacks', '3', '--naive', '5', '--stuffing-addresses', '30',
    '--captcha-answer', ANSWER, '--mail-dir', mailDir, '--admin-client', adminPair];
  if (geoip) args.push('--geoip', geoip);
  const { stdout } = await promisify(execFile)(bin, args, {
    env: { PATH: process.env.PATH, RUST_LOG: 'warn' }, timeout: 180_000, maxBuffer: 64 << 20,
  });
  return JSON.parse(stdout);
}

// The guessing script's user agent, as the account's events show it.
const AGENT = 'guess-bot/1.0 (authd browser test)';

// `perSource` failed sign-ins on `email` from each of `sources` (X-Forwarded-For), each through
// the real form: its page (for the CSRF cookie and token), then the post. Answers the statuses.
async function failSignIns(base, email, sources, perSource) {
  const statuses = [];
  for (const ip of sources) {
    for (let i = 0; i < perSource; i++) {
      const form = await fetch(`${base}/login`, { headers: { 'x-forwarded-for': ip, 'user-agent': AGENT } });
      const html = await form.text();
      const token = /name="csrf_token" value="([^"]+)"/.exec(html);
      assert.ok(token, `no CSRF token on /login from ${ip}`);
      assert.doesNotMatch(html, /data-challenge=/, `a challenge before the failure ${i + 1} from ${ip}`);
      const cookie = form.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      const r = await fetch(`${base}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'x-forwarded-for': ip, 'user-agent': AGENT, cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf_token: token[1], username: email, password: `wrong guess ${i}` }),
      });
      statuses.push(r.status);
    }
  }
  return statuses;
}

// RFC 4180: every cell quoted or bare, quotes doubled, rows ending in \r\n.
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell); rows.push(row); row = []; cell = ''; i++;
    } else cell += c;
  }
  assert.equal(quoted, false, 'unterminated quote');
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  const [header, ...body] = rows;
  return body.map((r) => {
    assert.equal(r.length, header.length, `a row of ${r.length} cells: ${r}`);
    return Object.fromEntries(header.map((h, k) => [h, r[k]]));
  });
}

// The view's CSV export, downloaded through its link and parsed.
async function exportCsv(page) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[data-export="csv"]')]);
  assert.equal(download.suggestedFilename(), 'authd-events.csv');
  return parseCsv(readFileSync(await download.path(), 'utf8'));
}

// Screenshots the whole page at phone and desktop width (on every run; written only for `npm
// run screenshot`); the page must not scroll sideways on the phone.
async function shoot(page, name) {
  for (const [size, viewport] of [['phone', { width: 390, height: 844 }], ['desktop', { width: 1200, height: 900 }]]) {
    await page.setViewportSize(viewport);
    const png = await page.screenshot({ fullPage: true });
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    if (shots) writeFileSync(join(shots, `admin-${name}-${size}.png`), png);
    // What sticks out of the viewport, if anything (the tables scroll in their own box).
    const out = await page.evaluate((w) => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > w && !e.closest('.table-wrap'))
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''} ${Math.round(e.getBoundingClientRect().right)}px`), viewport.width);
    assert.deepEqual(out, [], `${name} at ${size} width: wider than the screen`);
  }
}

test("an operator's story: overview, attacked account, label, unlock, export", async (t) => {
  const { base, page, email: admin, problems, cli, mailDir } = await adminSignedIn(t, 'admin-story', { acceptDownloads: true }, serverEnv);
  if (shots) mkdirSync(shots, { recursive: true });

  // Traffic: an account under attack until it locks (30 failures from unknown sources,
  // AUTHD_LOCK_AFTER; three from each network stays under the CAPTCHA rung), then the
  // simulator (whose stuffing wave, once on, would make these guesses `login_challenged`).
  const victim = 'victim@example.com';
  cli(['user', 'add', victim, '--password-stdin'], 'the victim passphrase, never guessed');
  const sources = Array.from({ length: 10 }, (_, i) => `198.51.100.${10 + i}`);
  const statuses = await failSignIns(base, victim, sources, 3);
  assert.deepEqual([...new Set(statuses)], [401], 'every guess refused');
  const sim = JSON.parse(cli(['client', 'add', 'story-sim-admin', '--grant', 'client_credentials', '--scope', 'admin']));
  const report = await simulate(base, mailDir, `${sim.client_id}:${sim.client_secret}`);
  assert.ok(report.untrained.legit_attempts > 0 && report.trained.legit_attempts > 0, 'the simulator ran both phases');

  // The overview has the simulation's data: charts, series, histogram, sources, the wave.
  await page.goto(`${base}/admin`);
  assert.equal(await page.locator('[data-wave="on"]').count(), 1, 'the stuffing wave is on');
  assert.match(await page.locator('#wave-text').textContent(), /^stuffing; start /);
  const failedHour = Number(await page.locator('#outcomes tr[data-window="hour"] td[data-outcome="failed"]').textContent());
  assert.ok(failedHour >= 30, `failed sign-ins in the last hour: ${failedHour}`);
  for (const chart of ['hour', 'day', 'week']) {
    const widths = await page.locator(`svg[data-chart="${chart}"] rect`).evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('width'))));
    assert.ok(widths.filter((w) => w > 0).length >= 3, `chart ${chart}: ${widths}`);
  }
  for (const series of ['hours', 'days']) {
    assert.ok(await page.locator(`svg[data-series="${series}"] rect`).count() >= 3, `series ${series} is empty`);
  }
  assert.ok(await page.locator('svg[data-chart="risk"] rect').count() >= 2, 'the risk histogram is empty');
  assert.ok(await page.locator('#top-sources tbody tr').count() >= 5, 'few top sources');
  assert.ok(await page.locator('#top-networks tbody tr').count() >= 5, 'few top networks');
  if (geoip) assert.ok(await page.locator('#top-countries tbody tr').count() >= 2, 'few countries');

  // The attacked account is on the most attacked list (a top 10: the simulation's 8 accounts
  // and the admin cannot push it off); its events, then its page.
  const row = page.locator('#top-accounts tbody tr', { hasText: victim });
  assert.equal(await row.count(), 1, 'the victim is among the most attacked accounts');
  assert.ok(Number(await row.locator('[data-count]').textContent()) >= 30);
  await shoot(page, 'overview');
  await Promise.all([page.waitForEvent('load'), row.locator('a').click()]);
  assert.equal(await page.inputValue('#f-user'), victim);
  const link = page.locator('#events tr[data-event] a[href^="/admin/users/"]').first();
  await Promise.all([page.waitForEvent('load'), link.click()]);
  assert.equal(await page.locator('#user-email').textContent(), victim);
  const victimId = page.url().split('/admin/users/')[1];
  assert.equal(await page.locator('[data-locked]').getAttribute('data-locked'), 'true', 'the account is locked');
  const failed = page.locator('#user-events tr[data-event]', { hasText: 'login_failed' });
  assert.equal(await failed.count(), 30);
  await shoot(page, 'user');

  // Label the newest failed sign-in an attack.
  const labelled = await failed.first().getAttribute('data-event');
  await Promise.all([page.waitForEvent('load'), failed.first().locator('button[value="attack"]').click()]);
  assert.match(page.url(), /done=labelled-attack/);
  assert.match(await page.locator('#admin-notice').textContent(), /labelled an attack/);

  // Unlock: the lock is gone.
  await Promise.all([page.waitForEvent('load'), page.click('button[value="unlock"]')]);
  assert.match(await page.locator('#admin-notice').textContent(), /lifted/);
  assert.equal(await page.locator('[data-locked]').getAttribute('data-locked'), 'false', 'the lock is gone');

  // The account's events in the explorer, one opened; their export holds the labelled event.
  await Promise.all([page.waitForEvent('load'), page.click('#user-events-link')]);
  const unlocked = page.locator('#events tr[data-event]', { hasText: 'account_unlocked' });
  assert.equal(await unlocked.count(), 1);
  await unlocked.locator('summary').click();
  assert.match(await unlocked.locator('[data-decision]').textContent(), /admin/);
  const guess = page.locator(`#events tr[data-event="${labelled}"]`);
  await guess.locator('summary').click();
  assert.equal(await guess.locator('[data-decision]').getAttribute('data-decision'), 'deny');
  assert.ok(await guess.locator('[data-reasons] li').count() >= 1, 'the failed sign-in\'s risk reasons');
  await shoot(page, 'events');
  const events = await exportCsv(page);
  assert.ok(events.every((e) => e.user_id === victimId), 'only the account\'s events');
  const theOne = events.filter((e) => e.id === labelled);
  assert.equal(theOne.length, 1, `the labelled event ${labelled} is in the export`);
  assert.equal(theOne[0].kind, 'login_failed');
  assert.equal(events.filter((e) => e.kind === 'login_failed').length, 30);

  // The admin's own acts: the explorer shows the export, the unlock and the label as
  // admin_action records (newest first), after the admin's own making on the command line
  // (`user_add`, on the account); so does the export, which records itself first.
  await page.fill('#f-kind', 'admin_action');
  await page.fill('#f-user', admin);
  await Promise.all([page.waitForEvent('load'), page.click('#event-filters button[type=submit]')]);
  const acts = page.locator('#events tr[data-event]');
  assert.equal(await acts.count(), 4);
  assert.match(await acts.nth(0).textContent(), /events_export; target .*user=/);
  assert.match(await acts.nth(1).textContent(), new RegExp(`unlock; target ${victimId}`));
  assert.match(await acts.nth(2).textContent(), new RegExp(`label; target ${victimId}; event ${labelled}; attack`));
  assert.match(await acts.nth(3).textContent(), /user_add; actor cli; admin true/);
  const rows = await exportCsv(page);
  assert.equal(rows.length, 5, JSON.stringify(rows));
  assert.match(rows[0].decision, /^events_export; target kind=admin_action user=/);
  assert.match(rows[1].decision, /^events_export; target .*user=/);
  assert.deepEqual(rows.slice(2).map((r) => [r.kind, r.decision]), [
    ['admin_action', `unlock; target ${victimId}`],
    ['admin_action', `label; target ${victimId}; event ${labelled}; attack`],
    ['admin_action', 'user_add; actor cli; admin true'],
  ]);

  assert.deepEqual(problems, [], 'console errors or CSP violations');
});
