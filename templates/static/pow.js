// authd: solves the builtin CAPTCHA's proof-of-work puzzle (find n with
// sha256_hex(salt + n) == hash) and fills in the answer, so no one has to read a distorted
// image. Without JavaScript the image stays as the fallback.
(function () {
  'use strict';
  var box = document.querySelector('[data-challenge="captcha"][data-pow-salt]');
  if (!box || !window.crypto || !window.crypto.subtle) { return; }
  var salt = box.getAttribute('data-pow-salt');
  var target = box.getAttribute('data-pow-hash');
  var max = parseInt(box.getAttribute('data-pow-max'), 10);
  var input = box.querySelector('input[name="captcha_answer"]');
  var fallback = box.querySelector('.pow-fallback');
  var status = box.querySelector('.pow-status');
  var enc = new TextEncoder();
  function hex(buf) {
    return Array.prototype.map.call(new Uint8Array(buf), function (b) {
      return ('0' + b.toString(16)).slice(-2);
    }).join('');
  }
  if (fallback) { fallback.hidden = true; }
  if (status) { status.hidden = false; }
  (async function () {
    for (var n = 0; n <= max; n++) {
      var digest = await window.crypto.subtle.digest('SHA-256', enc.encode(salt + n));
      if (hex(digest) === target) {
        input.value = 'pow:' + n;
        input.required = false;
        if (status) { status.textContent = 'Done. You can continue.'; }
        box.setAttribute('data-pow-solved', 'true');
        return;
      }
    }
    if (fallback) { fallback.hidden = false; }
    if (status) { status.hidden = true; }
  })();
})();
