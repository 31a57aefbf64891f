// authd: solves the builtin CAPTCHA's proof-of-work puzzle (find n with
// sha256_hex(salt + n) == hash) in a worker (/static/pow-worker.js) and fills in the answer,
// so no one has to read a distorted image. Without JavaScript the image stays as the fallback
// (at the lower work levels only; the upper ones need the script). A submit before the check
// is done is held and sent once it is (an empty answer would only earn a new puzzle); if the
// worker cannot run, the image comes back.
(function () {
  'use strict';
  var box = document.querySelector('[data-challenge="captcha"][data-pow-salt]');
  if (!box || !window.Worker) { return; }
  var input = box.querySelector('input[name="captcha_answer"]');
  var fallback = box.querySelector('.pow-fallback');
  var status = box.querySelector('.pow-status');
  var form = (input && input.form) || box.closest('form');
  var base = status ? status.textContent : '';
  var done = false;
  var held = null;
  function showFallback() {
    done = true;
    if (fallback) { fallback.hidden = false; }
    if (status) { status.hidden = true; }
    held = null;
  }
  if (form) {
    form.addEventListener('submit', function (ev) {
      if (done) { return; }
      ev.preventDefault();
      held = ev.submitter || form;
      if (status) { status.textContent = base + ' Your form is sent as soon as it is done.'; }
    });
  }
  var worker;
  try {
    worker = new Worker('/static/pow-worker.js');
  } catch (e) {
    showFallback();
    return;
  }
  if (fallback) { fallback.hidden = true; }
  if (status) { status.hidden = false; }
  worker.onerror = function () { worker.terminate(); showFallback(); };
  worker.onmessage = function (ev) {
    var m = ev.data;
    if (typeof m.progress === 'number') {
      if (status && !held) { status.textContent = base + ' ' + Math.min(99, Math.round(m.progress * 100)) + ' %'; }
      return;
    }
    worker.terminate();
    if (m.n === null || m.n === undefined) {
      showFallback();
      return;
    }
    input.value = 'pow:' + m.n;
    input.required = false;
    done = true;
    if (status) { status.textContent = 'Check complete.'; }
    box.setAttribute('data-pow-solved', 'true');
    if (held && form) {
      var submitter = held !== form ? held : undefined;
      held = null;
      if (form.requestSubmit) { form.requestSubmit(submitter); } else { form.submit(); }
    }
  };
  worker.postMessage({
    salt: box.getAttribute('data-pow-salt'),
    hash: box.getAttribute('data-pow-hash'),
    max: parseInt(box.getAttribute('data-pow-max'), 10)
  });
})();
