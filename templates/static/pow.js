// authd: solves the builtin CAPTCHA's proof-of-work puzzle (find n with
// sha256_hex(salt + n) == hash) in a worker (/static/pow-worker.js) and fills in the answer,
// so no one has to read a distorted image. Without JavaScript the image stays as the fallback
// (at the lower work levels only; the upper ones need the script).
(function () {
  'use strict';
  var box = document.querySelector('[data-challenge="captcha"][data-pow-salt]');
  if (!box || !window.Worker) { return; }
  var input = box.querySelector('input[name="captcha_answer"]');
  var fallback = box.querySelector('.pow-fallback');
  var status = box.querySelector('.pow-status');
  var base = status ? status.textContent : '';
  if (fallback) { fallback.hidden = true; }
  if (status) { status.hidden = false; }
  var worker = new Worker('/static/pow-worker.js');
  worker.onmessage = function (ev) {
    var m = ev.data;
    if (typeof m.progress === 'number') {
      if (status) { status.textContent = base + ' ' + Math.min(99, Math.round(m.progress * 100)) + ' %'; }
      return;
    }
    worker.terminate();
    if (m.n === null || m.n === undefined) {
      if (fallback) { fallback.hidden = false; }
      if (status) { status.hidden = true; }
      return;
    }
    input.value = 'pow:' + m.n;
    input.required = false;
    if (status) { status.textContent = 'Check complete.'; }
    box.setAttribute('data-pow-solved', 'true');
  };
  worker.postMessage({
    salt: box.getAttribute('data-pow-salt'),
    hash: box.getAttribute('data-pow-hash'),
    max: parseInt(box.getAttribute('data-pow-max'), 10)
  });
})();
