// Gatehouse's own browser code: dialogs and inline editing on top of htmx.
// No inline scripts or eval anywhere: the Content Security Policy forbids them.
(function () {
  "use strict";

  function dialog() { return document.getElementById("dialog"); }

  // A fragment swapped into the dialog opens it.
  document.addEventListener("htmx:afterSwap", function (e) {
    var d = dialog();
    if (d && e.detail.target && e.detail.target.id === "dialog-body" && !d.open) {
      d.showModal();
      var f = d.querySelector("[autofocus]");
      if (f) { f.focus(); }
    }
    var inline = e.detail.target && e.detail.target.querySelector ? document.querySelector("input[data-inline]") : null;
    if (inline && document.activeElement !== inline) {
      inline.focus();
      // type="email" supports no selection API (it throws).
      if (inline.type !== "email") { inline.setSelectionRange(inline.value.length, inline.value.length); }
    }
  });

  // The server closes the dialog after a successful change (HX-Trigger).
  document.body.addEventListener("gh-dialog-close", function () {
    var d = dialog();
    if (d && d.open) { d.close(); }
  });
  document.addEventListener("close", function (e) {
    if (e.target === dialog()) { document.getElementById("dialog-body").innerHTML = ""; }
  }, true);

  document.addEventListener("click", function (e) {
    var c = e.target.closest("[data-close-dialog]");
    if (c && dialog() && dialog().open) {
      e.preventDefault();
      dialog().close();
    }
  });

  document.body.addEventListener("gh-me-changed", function () { window.location.reload(); });

  // Inline edit: Enter and blur save, Escape cancels. Enter only blurs the
  // input, so that the blur handler sends the one request of the edit.
  function cancel(input) {
    input.dataset.done = "1";
    var row = input.closest("tr");
    htmx.ajax("GET", input.dataset.cancelUrl, { target: row, swap: "outerHTML" });
  }

  document.addEventListener("keydown", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[data-inline]")) { return; }
    if (e.key === "Enter") {
      e.preventDefault();
      input.blur();
    } else if (e.key === "Escape") {
      e.preventDefault();
      cancel(input);
    }
  });

  document.addEventListener("focusout", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[data-inline]") || input.dataset.done) { return; }
    if (input.value === input.dataset.original && !input.hasAttribute("aria-invalid")) {
      cancel(input);
      return;
    }
    input.dataset.done = "1";
    htmx.trigger(input.form, "gh-save");
  });
})();

// Copy buttons: data-copy names the element whose text or value is copied.
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-copy]");
  if (!b) { return; }
  var src = document.querySelector(b.dataset.copy);
  if (!src) { return; }
  var text = src.value !== undefined && src.tagName === "INPUT" ? src.value : src.innerText;
  navigator.clipboard.writeText(text).then(function () {
    b.textContent = "Copied";
    setTimeout(function () { b.textContent = "Copy"; }, 1500);
  });
});
