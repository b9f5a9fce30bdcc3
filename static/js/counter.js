// The counter's camera scanner. Progressive enhancement: typing the code always works.
// Uses the browser's BarcodeDetector where it exists (Chrome on Android), and the vendored
// jsQR (static/vendor/jsqr-1.4.0.js) on a canvas otherwise. A read code fills the code field
// and submits the form, exactly as if staff had typed it.
(function () {
  "use strict";
  if (window.__mallCounter) { window.__mallCounter(document); return; }  // loaded again by a boosted visit

  function canUseCamera() {
    return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  function makeDetector() {
    if ("BarcodeDetector" in window) {
      try {
        var native = new window.BarcodeDetector({ formats: ["qr_code"] });
        return function (video) {
          return native.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
        };
      } catch (e) { /* fall through to jsQR */ }
    }
    if (typeof window.jsQR !== "function") { return null; }
    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", { willReadFrequently: true });
    return function (video) {
      var w = video.videoWidth, h = video.videoHeight;
      if (!w || !h) { return Promise.resolve(null); }
      canvas.width = w; canvas.height = h;
      context.drawImage(video, 0, 0, w, h);
      var found = window.jsQR(context.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "dontInvert" });
      return Promise.resolve(found ? found.data : null);
    };
  }

  function stop(scanner) {
    var stream = scanner._stream;
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
    scanner._stream = null;
    var video = scanner.querySelector("[data-scan-video]");
    if (video) { video.hidden = true; }
  }

  function start(scanner) {
    var form = scanner.closest("form");
    var input = form.querySelector("[data-scan-target]");
    var video = scanner.querySelector("[data-scan-video]");
    var status = scanner.querySelector("[data-scan-status]");
    var detect = makeDetector();
    if (!detect) { status.textContent = status.dataset.msgDenied; return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (stream) {
      scanner._stream = stream;
      video.srcObject = stream;
      video.hidden = false;
      status.textContent = status.dataset.msgScanning;
      return video.play().then(function () {
        function tick() {
          if (!scanner._stream || !document.body.contains(scanner)) { stop(scanner); return; }
          detect(video).then(function (text) {
            if (text) {
              stop(scanner);
              input.value = text;
              form.requestSubmit ? form.requestSubmit() : form.submit();
            } else {
              window.requestAnimationFrame(tick);
            }
          }, function () { window.requestAnimationFrame(tick); });
        }
        tick();
      });
    }).catch(function () {
      stop(scanner);
      status.textContent = status.dataset.msgDenied;
      input.focus();
    });
  }

  function enhance(root) {
    if (!canUseCamera()) { return; }
    root.querySelectorAll("[data-scanner]").forEach(function (scanner) {
      if (scanner._ready) { return; }
      scanner._ready = true;
      scanner.hidden = false;
      scanner.querySelector("[data-scan-start]").addEventListener("click", function () { start(scanner); });
    });
  }

  window.__mallCounter = enhance;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  } else {
    enhance(document);
  }
  // The pickup card is swapped whole by HTMX: enhance the new one, and stop a camera left on.
  document.addEventListener("htmx:afterSwap", function (event) { enhance(event.detail.target.ownerDocument || document); });
  // A 429 from the counter comes back as the card with the reason next to the field: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 429 && event.detail.target.closest &&
        event.detail.target.closest(".counter-pickup, .counter-receipt")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    event.detail.target.querySelectorAll && event.detail.target.querySelectorAll("[data-scanner]").forEach(stop);
  });
})();
