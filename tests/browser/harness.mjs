// What every Chromium test shares: a free loopback port, waiting for the started authd to
// answer /readyz (failing at once if it exited), and stopping it before its directory goes.
import net from 'node:net';
import { rmSync } from 'node:fs';

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
