// Smartphone signing hand-off: progressive enhancement of the 「確認する」 button.
// Without JS the resident presses 「確認する」 after signing on the phone; with it, the page asks
// every few seconds whether the phone's signature has arrived and then presses the button
// itself (the same POST the resident would send). It reads only this browser's own request.
(function () {
  "use strict";
  var panel = document.getElementById("signing-handoff");
  var button = document.getElementById("handoff-confirm");
  if (!panel || !button || typeof window.fetch !== "function") { return; }
  var url = panel.getAttribute("data-status-url");
  if (!url) { return; }
  var tries = 0;
  var maxTries = 200; // about 10 minutes: the request's lifetime
  function poll() {
    tries += 1;
    if (tries > maxTries) { return; }
    window.fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (status && status.answered) { button.click(); return; }
        if (status && status.expired) { return; }
        window.setTimeout(poll, 3000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 3000);
})();
