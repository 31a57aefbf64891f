// What every Chromium test shares: a free loopback port, waiting for the started authd to
// answer /readyz (failing at once if it exited), and stopping it before its directory goes.
import net from 'node:net';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function freePort() {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
    srv.on('error', rej);
  });
}

export async function waitReady(base, child) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`authd exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('authd did not become ready');
}

// Stops `child` (SIGTERM, its graceful stop) and waits for it to exit before removing `dir`:
// removing the directory while the server still writes its database, WAL or event spool
// raced (`ENOTEMPTY`, and the failed hook then skipped the browser's close, so the test
// process hung). SIGKILL after ten seconds; the removal retries a little, and a directory that
// still cannot go is left behind with a note rather than failing the hook.
export async function stopAndRemove(child, dir) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((res) => child.once('exit', res));
    child.kill('SIGTERM');
    const late = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(late);
  }
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  } catch (e) {
    console.error(`# left ${dir}: ${e}`);
  }
}

// The six-digit sign-in code of the newest mail to `to` in the server's `.eml` outbox written
// at or after `since` (ms), decoded (quoted-printable); waits up to 30 s for it.
export async function mailedCode(outbox, to, since) {
  for (let i = 0; i < 300; i++) {
    const files = existsSync(outbox) ? readdirSync(outbox).filter((f) => f.endsWith('.eml')) : [];
    const fresh = files
      .map((f) => ({ f, t: statSync(join(outbox, f)).mtimeMs }))
      .filter((x) => x.t >= since - 1000)
      .sort((a, b) => b.t - a.t);
    for (const { f } of fresh) {
      const text = readFileSync(join(outbox, f), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      if (!text.includes(`To: ${to}`)) continue;
      const m = text.match(/code is:\D*(\d{6})/);
      if (m) return m[1];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no sign-in code mailed to ${to}`);
}

// The security page's step-up with the mailed code (docs/mfa.md): a verified address is the
// account's second factor, so the password alone sets up no app or passkey; this browser
// signs in again with the password and the code, and is back on the page.
export async function proveMailbox(page, base, outbox, email, password) {
  await page.goto(`${base}/account/security`);
  const since = Date.now();
  await Promise.all([
    page.waitForURL(/\/login\?reauth=1/),
    page.click('button[name="action"][value="factor_step_up"]'),
  ]);
  await page.fill('#username', email);
  await page.fill('#password', password);
  await page.click('form[method=post] button[type=submit]');
  await page.locator('[data-challenge="email"] input[name="email_code"]').waitFor();
  await page.fill('input[name="email_code"]', await mailedCode(outbox, email, since));
  await Promise.all([
    page.waitForURL(`${base}/account/security`),
    page.click('[data-challenge="email"] button[name="action"][value="step_up"]'),
  ]);
}
