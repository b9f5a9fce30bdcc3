// The card form on the order page. Stripe.js comes from js.stripe.com (Stripe requires it);
// if it can't load, say so and keep the rest of the page working.
(function () {
  "use strict";
  var box = document.getElementById("card-payment");
  if (!box) { return; }
  var unavailable = box.querySelector(".card-unavailable");
  var button = document.getElementById("card-pay");
  var waited = 0;

  function giveUp() { unavailable.hidden = false; button.hidden = true; }

  function start() {
    if (typeof window.Stripe !== "function") {
      waited += 250;
      if (waited > 8000) { giveUp(); return; }
      setTimeout(start, 250);
      return;
    }
    var stripe = window.Stripe(box.getAttribute("data-stripe-key"));
    var elements = stripe.elements({ clientSecret: box.getAttribute("data-client-secret") });
    elements.create("payment").mount("#card-element");
    button.disabled = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      stripe.confirmPayment({ elements: elements, confirmParams: { return_url: box.getAttribute("data-return-url") } })
        .then(function (result) {
          if (result.error) { button.disabled = false; unavailable.textContent = result.error.message; unavailable.hidden = false; }
        });
    });
  }
  start();
})();
