// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Language switch: submit on change; the button stays for keyboard and no-JS users.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]")) {
      // Come back to the page as it is now: htmx may have pushed a search into the URL.
      var next = el.form.querySelector("input[name=next]");
      if (next) { next.value = location.pathname + location.search; }
      el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
    }
  });
  // After an HTMX swap that replaced the main list, move focus for screen readers.
  document.addEventListener("htmx:afterSwap", function (event) {
    var focusTarget = event.detail.target && event.detail.target.querySelector("[data-focus-after-swap]");
    if (focusTarget) { focusTarget.focus(); }
  });
})();
document.documentElement.classList.add("js-ready");

// Ask before destructive actions (cancel an order, remove a line...).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// Reservation countdowns: "9:41 left". The server's time stays the source of truth.
(function () {
  function tick() {
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Math.max(0, Math.floor((Date.parse(el.getAttribute("data-deadline")) - Date.now()) / 1000));
      var out = el.querySelector("[data-countdown]");
      if (!out) { return; }
      var text = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      out.textContent = "(" + text + ")";
      el.classList.toggle("urgent", left < 60);
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
})();

// Page-specific scripts (e.g. HQ's charts): an element with data-load-scripts="url url"
// loads them, in order, once per document. They can't sit in the page's <head>: boosted
// navigation swaps only the body. Same-origin files, so the CSP's script-src 'self' allows it.
(function () {
  var loaded = {};
  function load(urls) {
    if (!urls.length) { return; }
    var url = urls.shift();
    if (loaded[url]) { return load(urls); }
    loaded[url] = true;
    var script = document.createElement("script");
    script.src = url;
    script.onload = function () { load(urls); };
    document.head.appendChild(script);
  }
  function scan() {
    document.querySelectorAll("[data-load-scripts]").forEach(function (el) {
      load(el.getAttribute("data-load-scripts").split(/\s+/).filter(Boolean));
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", scan); } else { scan(); }
  document.addEventListener("htmx:afterSettle", scan);
})();

// Installable and usable with no signal (templates/storefront/sw.js): once the worker runs,
// ask it to keep the member card and ready pickups now, not only after the next page.
(function () {
  var url = document.body && document.body.getAttribute("data-sw");
  if (!url || !("serviceWorker" in navigator)) { return; }
  navigator.serviceWorker.register(url).then(function () { return navigator.serviceWorker.ready; })
    .then(function (registration) { if (registration.active) { registration.active.postMessage("keep"); } })
    .catch(function () { /* no worker: the site works as before, online only */ });
})();
