// Passkey ceremonies under the strict CSP (no inline script): served as /static/passkey.js.
// - On the security page, the form #passkey-add (its button name="action" value="passkey_add")
//   registers a passkey: POST its action for the options, navigator.credentials.create, POST
//   data-finish with the answer, then reload the page (which lists the new passkey).
// - On /login, the button carrying data-passkey-signin signs in without a password: POST
//   data-start, navigator.credentials.get (a discoverable credential), POST data-finish, then
//   go where the answer says (next, or the pending authorization request).
// - On a step-up after the password, the element data-challenge="webauthn" and its button
//   data-passkey-assert run the same assertion for the account signing in.
// Every POST carries the page's CSRF token in the x-csrf-token header. Binary fields travel as
// unpadded base64url, as the server (webauthn-rs) writes and reads them.
(function () {
  'use strict';

  function toBytes(b64url) {
    const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }

  function toB64url(buf) {
    const bytes = new Uint8Array(buf);
    let bin = '';
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  async function post(url, csrf, body) {
    const res = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body || {}),
    });
    let json = {};
    try { json = await res.json(); } catch (e) { /* not JSON */ }
    if (!res.ok) {
      const err = new Error(json.message || 'The request failed.');
      err.code = json.error;
      throw err;
    }
    return json;
  }

  function showError(el, message) {
    if (!el) return;
    el.textContent = message;
    el.hidden = false;
  }

  function creationOptions(pk) {
    pk.challenge = toBytes(pk.challenge);
    pk.user.id = toBytes(pk.user.id);
    (pk.excludeCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
    return pk;
  }

  function requestOptions(pk) {
    pk.challenge = toBytes(pk.challenge);
    (pk.allowCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
    return pk;
  }

  function registration(cred) {
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: toB64url(cred.response.attestationObject),
        clientDataJSON: toB64url(cred.response.clientDataJSON),
        // Kept with the credential, so a later step-up's allowCredentials names how to reach
        // it (the platform authenticator, not a QR code or a security-key prompt).
        transports: cred.response.getTransports ? cred.response.getTransports() : undefined,
      },
      extensions: {},
    };
  }

  function assertion(cred) {
    const r = cred.response;
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toB64url(r.authenticatorData),
        clientDataJSON: toB64url(r.clientDataJSON),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : null,
      },
      extensions: {},
    };
  }

  // Runs an assertion ceremony: start URL → navigator.credentials.get → finish URL.
  async function assert(start, finish, csrf) {
    const opts = await post(start, csrf);
    const cred = await navigator.credentials.get({ publicKey: requestOptions(opts.publicKey) });
    if (!cred) throw new Error('No passkey was chosen.');
    return post(finish, csrf, { credential: assertion(cred) });
  }

  function unsupported() {
    return !window.PublicKeyCredential || !navigator.credentials;
  }

  const add = document.getElementById('passkey-add');
  if (add) {
    const error = document.getElementById('passkey-error');
    add.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (unsupported()) { showError(error, 'This browser does not support passkeys.'); return; }
      const button = add.querySelector('button[value="passkey_add"]');
      button.disabled = true;
      try {
        const csrf = add.dataset.csrf;
        const opts = await post(add.getAttribute('action'), csrf);
        const cred = await navigator.credentials.create({ publicKey: creationOptions(opts.publicKey) });
        if (!cred) throw new Error('No passkey was created.');
        const name = add.querySelector('#passkey-name').value;
        await post(add.dataset.finish, csrf, { name, credential: registration(cred) });
        window.location.reload();
      } catch (e) {
        if (e && e.code === 'reauth_required') {
          window.location.assign('/login?reauth=1&next=' + encodeURIComponent(window.location.pathname));
          return;
        }
        showError(error, e && e.name === 'NotAllowedError' ? 'The passkey was not created.' : e.message);
        button.disabled = false;
      }
    });
  }

  document.querySelectorAll('[data-passkey-signin]').forEach((button) => {
    const error = document.getElementById('passkey-error');
    button.addEventListener('click', async () => {
      if (unsupported()) { showError(error, 'This browser does not support passkeys.'); return; }
      button.disabled = true;
      try {
        const done = await assert(button.dataset.start, button.dataset.finish, button.dataset.csrf);
        window.location.assign(done.redirect);
      } catch (e) {
        showError(error, e && e.name === 'NotAllowedError' ? 'No passkey was used.' : e.message);
        button.disabled = false;
      }
    });
  });

  // The step-up challenge (data-challenge="webauthn"): the same assertion for the account in
  // the sign-in (data-start asks the server for it), posted to the element's data-finish. A
  // step-up that is gone (expired, or dropped after too many failures) starts the sign-in
  // again at data-restart.
  document.querySelectorAll('[data-challenge="webauthn"][data-start]').forEach((box) => {
    const button = box.querySelector('button[data-passkey-assert]');
    const error = box.querySelector('.passkey-error');
    if (!button) return;
    button.addEventListener('click', async () => {
      if (unsupported()) { showError(error, 'This browser does not support passkeys.'); return; }
      button.disabled = true;
      try {
        const done = await assert(box.dataset.start, box.dataset.finish, box.dataset.csrf);
        window.location.assign(done.redirect);
      } catch (e) {
        if (e && e.code === 'sign_in_again' && box.dataset.restart) {
          window.location.assign(box.dataset.restart);
          return;
        }
        showError(error, e && e.name === 'NotAllowedError' ? 'No passkey was used.' : e.message);
        button.disabled = false;
      }
    });
  });
})();
