// The builtin CAPTCHA's proof of work as a browser runs it: the page's own worker code
// (templates/static/pow-worker.js) under V8, the engine of Chromium. Prints candidates per
// second and the expected time per answer at each level. Run with `node benches/pow-worker.mjs`.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const src = readFileSync(new URL('../templates/static/pow-worker.js', import.meta.url), 'utf8');
const search = new Function('self', `${src}\nreturn search;`)({ postMessage() {} });
const salt = '5f1c0e7a9b3d2c4e6f8a0b1c2d3e4f50';
const n = 3000000;
const hash = createHash('sha256').update(salt + n).digest('hex');
const started = process.hrtime.bigint();
if (search(salt, hash, n) !== n) { throw new Error('worker search failed'); }
const rate = n / (Number(process.hrtime.bigint() - started) / 1e9);
console.log(`worker search: ${(rate / 1e6).toFixed(2)} M SHA-256 candidates/s`);
for (const [level, max] of [[0, 100000], [1, 1000000], [2, 8000000], [3, 40000000]]) {
  console.log(`level ${level}: max ${max}, expected browser time per answer ${(max / 2 / rate * 1e3).toFixed(1)} ms`);
}
