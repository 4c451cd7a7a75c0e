// PAY.JP card entry: payjp.js mounts PAY.JP's card field and returns a token on submit.
(function () {
  "use strict";
  var form = document.getElementById("payjp-form");
  if (!form || typeof window.Payjp !== "function") { return; }
  var payjp = window.Payjp(form.getAttribute("data-public-key"));
  var card = payjp.elements().create("card");
  card.mount("#payjp-card");
  var errorBox = document.getElementById("payjp-error");
  form.addEventListener("submit", function (event) {
    var tokenInput = document.getElementById("payjp-token");
    if (tokenInput.value) { return; }
    event.preventDefault();
    payjp.createToken(card).then(function (response) {
      if (response.error) {
        errorBox.textContent = response.error.message;
        return;
      }
      tokenInput.value = response.id;
      form.submit();
    });
  });
})();
