// authgate's passkey buttons on the hosted pages (issue 13), served as /assets/passkeys.js and
// loaded with the page's CSP nonce. Without WebAuthn in the browser it does nothing and the
// passkey blocks stay hidden: every page works without it.
//
// Each block carries `data-passkey` (signin, mfa or register) and the page's CSRF token in
// `data-csrf`; the calls go to this server's page routes with it in X-CSRF-Token. The options
// come as webauthn-rs writes them (binary fields base64url) and the credentials go back the same
// way, as PublicKeyCredential.toJSON() would write them.
(function () {
  'use strict';

  if (!window.PublicKeyCredential || !navigator.credentials) return;

  function toBuffer(b64u) {
    var b64 = b64u.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) b64 += '=';
    var bin = atob(b64);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64u(buffer) {
    var bytes = new Uint8Array(buffer);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function withIds(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: toBuffer(c.id) }); });
  }

  // CreationChallengeResponse → the argument of navigator.credentials.create.
  function creationOptions(options) {
    var pk = Object.assign({}, options.publicKey);
    pk.challenge = toBuffer(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: toBuffer(pk.user.id) });
    if (pk.excludeCredentials) pk.excludeCredentials = withIds(pk.excludeCredentials);
    return { publicKey: pk };
  }

  // RequestChallengeResponse → the argument of navigator.credentials.get.
  function requestOptions(options) {
    var pk = Object.assign({}, options.publicKey);
    pk.challenge = toBuffer(pk.challenge);
    if (pk.allowCredentials) pk.allowCredentials = withIds(pk.allowCredentials);
    return { publicKey: pk };
  }

  function extensions(cred) {
    return typeof cred.getClientExtensionResults === 'function' ? cred.getClientExtensionResults() : {};
  }

  function registrationJSON(cred) {
    var r = cred.response;
    return {
      id: cred.id, rawId: toB64u(cred.rawId), type: cred.type,
      response: {
        attestationObject: toB64u(r.attestationObject),
        clientDataJSON: toB64u(r.clientDataJSON),
        transports: typeof r.getTransports === 'function' ? r.getTransports() : undefined,
      },
      clientExtensionResults: extensions(cred),
    };
  }

  function assertionJSON(cred) {
    var r = cred.response;
    return {
      id: cred.id, rawId: toB64u(cred.rawId), type: cred.type,
      response: {
        authenticatorData: toB64u(r.authenticatorData),
        clientDataJSON: toB64u(r.clientDataJSON),
        signature: toB64u(r.signature),
        userHandle: r.userHandle ? toB64u(r.userHandle) : null,
      },
      clientExtensionResults: extensions(cred),
    };
  }

  // A page session that ended meanwhile answers with a redirect to /signin: follow it.
  function Moved() {}

  function post(url, csrf, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body),
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (data) {
        if (!data && res.redirected) { window.location.assign(res.url); throw new Moved(); }
        if (!res.ok || !data) {
          throw new Error((data && data.detail) || 'The server refused the request (' + res.status + '). Reload the page and try again.');
        }
        return data;
      });
    });
  }

  function message(err) {
    if (err && err.name === 'NotAllowedError') return 'The passkey prompt was closed or timed out. Try again.';
    if (err && err.name === 'InvalidStateError') return 'This device already holds a passkey for your account.';
    if (err && err.name === 'SecurityError') return 'Passkeys are not available on this address of the site.';
    return (err && err.message) || 'Something went wrong. Reload the page and try again.';
  }

  function wire(block, run) {
    var button = block.querySelector('[data-passkey-button]');
    var error = block.querySelector('[data-passkey-error]');
    if (!button) return;
    block.hidden = false;
    button.addEventListener('click', function () {
      button.disabled = true;
      error.hidden = true;
      run(block).then(function (done) {
        window.location.assign(done.redirect);
      }).catch(function (err) {
        if (err instanceof Moved) return;
        error.textContent = message(err);
        error.hidden = false;
        button.disabled = false;
      });
    });
  }

  var flows = {
    // Username-less sign-in with a discoverable passkey, from /signin.
    signin: function (block) {
      var csrf = block.dataset.csrf;
      var remember = document.getElementById('remember_me');
      return post('/signin/passkey/start', csrf, {}).then(function (c) {
        return navigator.credentials.get(requestOptions(c.options)).then(function (cred) {
          return post('/signin/passkey/finish', csrf, {
            ceremony_id: c.ceremony_id, credential: assertionJSON(cred),
            remember_me: !!(remember && remember.checked), return_to: block.dataset.returnTo || null,
          });
        });
      });
    },
    // The second-factor step of a password sign-in, from /signin/mfa's page.
    mfa: function (block) {
      var csrf = block.dataset.csrf;
      var token = block.dataset.mfaToken;
      return post('/signin/mfa/passkey/start', csrf, { mfa_token: token }).then(function (c) {
        return navigator.credentials.get(requestOptions(c.options)).then(function (cred) {
          return post('/signin/mfa/passkey/finish', csrf, {
            mfa_token: token, ceremony_id: c.ceremony_id, credential: assertionJSON(cred),
            remember_me: block.dataset.rememberMe === 'on', return_to: block.dataset.returnTo || null,
          });
        });
      });
    },
    // "Add a passkey" on /account.
    register: function (block) {
      var csrf = block.dataset.csrf;
      var password = block.querySelector('[data-passkey-password]');
      var name = block.querySelector('[data-passkey-name]');
      var start = password ? { current_password: password.value } : {};
      return post('/account/passkeys/start', csrf, start).then(function (c) {
        return navigator.credentials.create(creationOptions(c.options)).then(function (cred) {
          return post('/account/passkeys/finish', csrf, {
            ceremony_id: c.ceremony_id, credential: registrationJSON(cred),
            name: (name && name.value.trim()) || null,
          });
        });
      });
    },
  };

  document.querySelectorAll('[data-passkey]').forEach(function (block) {
    var run = flows[block.dataset.passkey];
    if (run) wire(block, run);
  });
})();
