// Passkeys (WebAuthn) on the account and sign-in pages: progressive enhancement.
// The passkey panels are rendered hidden; this script shows them only where the browser has
// WebAuthn, so without JS (or without WebAuthn) password and card sign-in work as before.
// Options come from the server as JSON with binary fields in base64url; the credential goes
// back the same way. Messages come from the page's <script type="application/json"> block.
(function () {
  "use strict";

  if (!window.PublicKeyCredential || !navigator.credentials ||
      typeof navigator.credentials.create !== "function" ||
      typeof navigator.credentials.get !== "function" ||
      typeof window.fetch !== "function") {
    return;
  }

  var messages = {};
  var messagesElement = document.getElementById("passkey-messages");
  if (messagesElement) {
    try { messages = JSON.parse(messagesElement.textContent); } catch (e) { messages = {}; }
  }

  function toBuffer(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = window.atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptor(item) {
    return Object.assign({}, item, { id: toBuffer(item.id) });
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      user: Object.assign({}, json.user, { id: toBuffer(json.user.id) }),
      excludeCredentials: (json.excludeCredentials || []).map(descriptor)
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      allowCredentials: (json.allowCredentials || []).map(descriptor)
    });
  }

  function credentialToJSON(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      response: { clientDataJSON: toBase64url(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      json.response.transports =
        typeof response.getTransports === "function" ? response.getTransports() : [];
    }
    if (response.authenticatorData) {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      json.response.userHandle = response.userHandle ? toBase64url(response.userHandle) : null;
    }
    return json;
  }

  function serverError(message) {
    var error = new Error(message || messages.unexpected || "");
    error.fromServer = true;
    return error;
  }

  function post(url, token, body) {
    return window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": token
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (response.ok && data) { return data; }
        throw serverError(data && data.error && data.error.message);
      });
    }, function () {
      throw serverError(messages.network);
    });
  }

  function describe(error) {
    if (error && error.fromServer) { return error.message; }
    if (error && (error.name === "NotAllowedError" || error.name === "AbortError")) {
      return messages.cancelled || "";
    }
    if (error && error.name === "InvalidStateError") { return messages.exists || ""; }
    return messages.failed || "";
  }

  function setUp(panel) {
    var button = panel.querySelector("[data-passkey-start]");
    var status = panel.querySelector("[data-passkey-status]");
    var errorBox = panel.querySelector("[data-passkey-error]");
    var tokenInput = panel.querySelector("input[name=csrfmiddlewaretoken]");
    var nameInput = panel.querySelector("[data-passkey-name]");
    var registering = panel.getAttribute("data-passkey") === "register";
    if (!button) { return; }
    panel.hidden = false;

    button.addEventListener("click", function () {
      var token = tokenInput ? tokenInput.value : "";
      button.disabled = true;
      errorBox.textContent = "";
      status.textContent = messages.working || "";
      post(panel.getAttribute("data-options-url"), token, {}).then(function (data) {
        return registering
          ? navigator.credentials.create({ publicKey: creationOptions(data.publicKey) })
          : navigator.credentials.get({ publicKey: requestOptions(data.publicKey) });
      }).then(function (credential) {
        if (!credential) { throw new Error("no credential"); }
        var body = { credential: credentialToJSON(credential) };
        if (registering) {
          body.name = nameInput ? nameInput.value : "";
        } else {
          body.next = panel.getAttribute("data-next") || "";
        }
        return post(panel.getAttribute("data-verify-url"), token, body);
      }).then(function (data) {
        window.location.assign(data.redirect);
      }).catch(function (error) {
        status.textContent = "";
        errorBox.textContent = describe(error);
        button.disabled = false;
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-passkey]"), setUp);
  Array.prototype.forEach.call(document.querySelectorAll("[data-passkey-hint]"), function (hint) {
    hint.hidden = false;
  });
})();
