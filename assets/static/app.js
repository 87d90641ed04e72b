// Gatehouse's own browser code: dialogs and inline editing on top of htmx.
// No inline scripts or eval anywhere: the Content Security Policy forbids them.
(function () {
  "use strict";

  function dialog() { return document.getElementById("dialog"); }

  // A fragment swapped into the dialog opens it.
  // Errors are sent to #flash; when the request came from the open dialog,
  // show them inside it, or they would sit unseen behind the backdrop.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var d = dialog();
    var elt = e.detail.requestConfig && e.detail.requestConfig.elt;
    if (d && d.open && e.detail.target && e.detail.target.id === "flash" && elt && d.contains(elt)) {
      e.detail.target = document.getElementById("dialog-flash");
    }
  });

  // The element that opened the dialog gets the focus back when it
  // closes; where a swap replaced it meanwhile (the user list reloads
  // after a change), its twin in the new markup does.
  var opener = null, openerSelector = "";
  function selectorOf(el) {
    if (el.id) { return "#" + CSS.escape(el.id); }
    var href = el.getAttribute("href") || el.getAttribute("hx-get");
    return href ? el.tagName.toLowerCase() + '[href="' + CSS.escape(href) + '"]' : "";
  }
  document.addEventListener("htmx:beforeRequest", function (e) {
    var d = dialog(), cfg = e.detail.requestConfig;
    var target = e.detail.target || (cfg && cfg.target);
    if (!d || d.open || !target || target.id !== "dialog-body") { return; }
    opener = e.detail.elt || document.activeElement;
    openerSelector = opener ? selectorOf(opener) : "";
  });
  // refocus names the control that got the focus back, for the moment
  // after: a save that closes the dialog also reloads the list it sits in
  // (gh-users-changed), which replaces that control a little later.
  var refocus = "", refocusTimer = null;
  function restoreFocus() {
    var el = opener;
    if ((!el || !el.isConnected) && openerSelector) { el = document.querySelector(openerSelector); }
    opener = null;
    openerSelector = "";
    if (el && el.isConnected && el.focus) {
      el.focus();
      refocus = selectorOf(el);
      clearTimeout(refocusTimer);
      refocusTimer = setTimeout(function () { refocus = ""; }, 5000);
    }
  }
  document.addEventListener("htmx:afterSettle", function () {
    var a = document.activeElement, d = dialog();
    if (!refocus || (d && d.open) || (a && a !== document.body && a.isConnected)) { return; }
    var el = document.querySelector(refocus);
    refocus = "";
    if (el && el.focus) { el.focus(); }
  });

  // focusInto moves the focus into the dialog: to its [autofocus] field,
  // else to its title, so that the first Tab reaches the first control
  // and a stray Enter triggers nothing.
  function focusInto(d) {
    var f = d.querySelector("#dialog-body [autofocus]");
    if (!f) {
      f = d.querySelector("#dialog-title");
      if (f) { f.setAttribute("tabindex", "-1"); }
    }
    if (f) { f.focus(); }
  }

  // A swap inside the open dialog (the next step, a refused form) may
  // remove the focused control; the focus then goes to the new content,
  // never back behind the dialog.
  document.addEventListener("htmx:afterSettle", function () {
    var d = dialog();
    if (d && d.open && !d.contains(document.activeElement)) { focusInto(d); }
  });

  document.addEventListener("htmx:afterSwap", function (e) {
    var d = dialog();
    if (d && e.detail.target && e.detail.target.id === "dialog-body" && !d.open) {
      d.showModal();
      focusInto(d);
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
    if (e.target === dialog()) {
      document.getElementById("dialog-body").innerHTML = "";
      document.getElementById("dialog-flash").innerHTML = "";
      restoreFocus();
    }
  }, true);

  // Errors are announced and tied to their field: a message
  // (.field-error[data-field]) describes the input of the same name in its
  // form, which is marked invalid, so a screen reader reads the message
  // with the field.
  function describeErrors(root) {
    if (!root || !root.querySelectorAll) { return; }
    var errs = root.querySelectorAll(".field-error[data-field]");
    for (var i = 0; i < errs.length; i++) {
      var err = errs[i], form = err.closest("form");
      if (!form || err.hidden) { continue; }
      var input = form.querySelector('[name="' + CSS.escape(err.dataset.field) + '"]');
      if (!input) { continue; }
      if (!err.id) { err.id = (form.id || "form") + "-" + err.dataset.field + "-error"; }
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", err.id);
    }
  }
  // A table, or the box around one, that scrolls (on a phone) must be
  // reachable by keyboard to be scrolled, also when it holds no control
  // (an empty list, the audit log).
  function markScrollers() {
    var tables = document.querySelectorAll("table, .scroll-box");
    for (var i = 0; i < tables.length; i++) {
      var t = tables[i];
      var scrolls = getComputedStyle(t).overflowX === "auto" && t.scrollWidth > t.clientWidth;
      if (scrolls && !t.hasAttribute("tabindex")) {
        t.setAttribute("tabindex", "0");
        t.dataset.scrollFocus = "1";
      } else if (!scrolls && t.dataset.scrollFocus) {
        t.removeAttribute("tabindex");
        delete t.dataset.scrollFocus;
      }
    }
  }
  document.addEventListener("DOMContentLoaded", markScrollers);
  document.addEventListener("htmx:afterSettle", markScrollers);
  window.addEventListener("resize", markScrollers);

  document.addEventListener("DOMContentLoaded", function () { describeErrors(document.body); });
  // An outerHTML swap settles on the replaced element, so look at the page.
  document.addEventListener("htmx:afterSettle", function () { describeErrors(document.body); });

  document.addEventListener("click", function (e) {
    var c = e.target.closest("[data-close-dialog]");
    if (c && dialog() && dialog().open) {
      e.preventDefault();
      dialog().close();
    }
  });

  document.body.addEventListener("gh-me-changed", function () { window.location.reload(); });

  // Step-up: a sensitive change refused for want of a recent
  // re-authentication comes back as the inline re-authentication form
  // (header Gatehouse-Reauth), shown where the request came from. Once it
  // is confirmed (HX-Trigger gh-reauth-done) the refused request is sent
  // again, from the same element, so the change carries on with what was
  // entered. retryStepUp is also set by the passkey registration below.
  var retryStepUp = null;
  window.ghStepUp = {
    // ask shows the re-authentication form in the dialog's flash area and
    // remembers what to do after it.
    ask: function (retry) {
      retryStepUp = retry;
      htmx.ajax("GET", "/settings/reauth", { target: "#dialog-flash", swap: "innerHTML" });
    }
  };
  document.addEventListener("htmx:beforeSwap", function (e) {
    var xhr = e.detail.xhr;
    if (!xhr || xhr.getResponseHeader("Gatehouse-Reauth") !== "required") { return; }
    var cfg = e.detail.requestConfig;
    var elt = cfg && cfg.elt;
    retryStepUp = elt ? function () { htmx.ajax(cfg.verb.toUpperCase(), cfg.path, { source: elt }); } : null;
  });
  document.body.addEventListener("gh-reauth-done", function () {
    var retry = retryStepUp;
    retryStepUp = null;
    if (retry) { retry(); }
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    var f = e.detail.target && e.detail.target.querySelector && e.detail.target.querySelector("#reauth-password");
    if (f && !f.value) { f.focus(); }
  });

  // Inline edit: Enter and blur save, Escape cancels. Enter only blurs the
  // input, so that the blur handler sends the one request of the edit.
  // After the edit the row is swapped; its link for the same field gets
  // the focus back, so the keyboard stays where it was.
  var edited = null;
  document.addEventListener("htmx:afterSettle", function () {
    if (!edited) { return; }
    var link = document.querySelector("#" + CSS.escape(edited.row) + " a[data-field=" + edited.field + "]");
    if (link) { edited = null; link.focus(); }
  });
  function remember(input) {
    var row = input.closest("tr");
    if (row && row.id) { edited = { row: row.id, field: input.name }; }
  }

  function cancel(input) {
    remember(input);
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
    remember(input);
    htmx.trigger(input.form, "gh-save");
  });

  // Ctrl+Enter (or Cmd+Enter) in a multi-line field sends its form, as
  // Enter does in the one-line fields; a plain Enter adds a line.
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey) || !t.matches || !t.matches("textarea") || !t.form) { return; }
    e.preventDefault();
    t.form.requestSubmit();
  });
})();

// Copy buttons: data-copy names the element whose text or value is copied.
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-copy]");
  if (!b) { return; }
  var src = document.querySelector(b.dataset.copy);
  if (!src) { return; }
  var text = src.value !== undefined && src.tagName === "INPUT" ? src.value : src.innerText;
  // The button says what happened for a moment, then its own label again;
  // the toast (an aria-live region) tells screen readers too.
  if (!b.dataset.label) { b.dataset.label = b.textContent; }
  function say(label, ms, toast) {
    b.textContent = label;
    clearTimeout(b.ghCopyTimer);
    b.ghCopyTimer = setTimeout(function () { b.textContent = b.dataset.label; }, ms);
    document.body.dispatchEvent(new CustomEvent("gh-toast", { detail: { value: toast } }));
  }
  // Without the clipboard (plain http on another host than localhost has
  // no navigator.clipboard; a denied permission rejects), select the text
  // so it can be copied by hand, instead of failing silently.
  function selectText() {
    if (src.select) { src.focus(); src.select(); } else { window.getSelection().selectAllChildren(src); }
    say("Press Ctrl+C", 3000, "Selected: press Ctrl+C to copy.");
  }
  if (!navigator.clipboard || !window.isSecureContext) { selectText(); return; }
  navigator.clipboard.writeText(text).then(function () {
    say("Copied", 1500, "Copied to the clipboard.");
  }, selectText);
});

// Expiration Time fields (Access Tokens): a datetime-local input works in
// the browser's time zone; its form's Time zone select (tz_offset: minutes
// to add to get UTC, as getTimezoneOffset) is set to that zone's offset
// for the chosen date, so the server can store UTC. data-utc carries a time from the server, shown
// here in local time. A value the server echoes back (a refused form)
// keeps the offset it was sent with until it is edited. Quick picks set
// now + N days or years.
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localValue(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  // syncOffset chooses, in the Time zone select (tz_offset), the
  // browser's zone for the input's value read as local time; a zone the
  // list lacks is added.
  function syncOffset(input) {
    var tz = input.form && input.form.querySelector("[name=tz_offset]");
    if (!tz) { return; }
    var d = input.value ? new Date(input.value) : new Date();
    if (isNaN(d.getTime())) { return; }
    var v = String(d.getTimezoneOffset());
    if (tz.tagName === "SELECT" && !tz.querySelector('option[value="' + v + '"]')) {
      var east = -d.getTimezoneOffset(), m = Math.abs(east);
      var o = document.createElement("option");
      o.value = v;
      o.textContent = "UTC" + (east < 0 ? "\u2212" : "+") + pad(Math.floor(m / 60)) + ":" + pad(m % 60);
      tz.appendChild(o);
    }
    tz.value = v;
  }
  function init(root) {
    var inputs = root.querySelectorAll ? root.querySelectorAll("input[data-tz-local][data-utc]") : [];
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      var utc = input.getAttribute("data-utc");
      input.removeAttribute("data-utc");
      var d = new Date(utc);
      if (!utc || isNaN(d.getTime())) { continue; }
      input.value = localValue(d);
      syncOffset(input);
    }
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (e) { init(e.target); });
  // Right after a swap too, before htmx settles: a person (or a test)
  // must never see or submit the UTC value as if it were local time.
  document.addEventListener("htmx:afterSwap", function () { init(document); });
  function edited(e) {
    if (e.target.matches && e.target.matches("input[data-tz-local]")) { syncOffset(e.target); }
  }
  document.addEventListener("input", edited);
  document.addEventListener("change", edited);
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("[data-expires-days],[data-expires-years]");
    if (!b || !b.form) { return; }
    var input = b.form.querySelector("input[data-tz-local]");
    if (!input) { return; }
    var d = new Date();
    d.setSeconds(0, 0);
    d.setMinutes(d.getMinutes() + 1);
    if (b.dataset.expiresDays) { d.setDate(d.getDate() + Number(b.dataset.expiresDays)); }
    if (b.dataset.expiresYears) { d.setFullYear(d.getFullYear() + Number(b.dataset.expiresYears)); }
    input.value = localValue(d);
    input.removeAttribute("aria-invalid");
    syncOffset(input);
    input.focus();
  });
})();

// Passkeys (WebAuthn): registration in the Passkeys dialog, and sign-in on
// the login page, by button and by browser autofill (conditional
// mediation, WebAuthn §5.1.4 with mediation "conditional"). The server
// keeps every challenge and checks every answer; this code only converts
// between the JSON the server speaks (binary fields in base64url) and the
// ArrayBuffers that navigator.credentials takes and returns.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) { return; }

  function toBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return bytes.buffer;
  }
  function fromBuf(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  // PublicKeyCredentialCreationOptions (WebAuthn §5.4) from the server's JSON.
  function creationOptions(json) {
    var o = json.publicKey;
    o.challenge = toBuf(o.challenge);
    o.user.id = toBuf(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = toBuf(c.id); });
    return o;
  }
  // PublicKeyCredentialRequestOptions (WebAuthn §5.5) from the server's JSON.
  function requestOptions(json) {
    var o = json.publicKey;
    o.challenge = toBuf(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = toBuf(c.id); });
    return o;
  }
  // The credential as JSON (the RegistrationResponseJSON and
  // AuthenticationResponseJSON shapes of WebAuthn §5.1).
  function credentialJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: fromBuf(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: fromBuf(r.clientDataJSON) }
    };
    if (cred.authenticatorAttachment) { out.authenticatorAttachment = cred.authenticatorAttachment; }
    if (r.attestationObject) {
      out.response.attestationObject = fromBuf(r.attestationObject);
      if (r.getTransports) { out.response.transports = r.getTransports(); }
    } else {
      out.response.authenticatorData = fromBuf(r.authenticatorData);
      out.response.signature = fromBuf(r.signature);
      if (r.userHandle) { out.response.userHandle = fromBuf(r.userHandle); }
    }
    return out;
  }
  // post sends body and resolves with the JSON answer; a refusal rejects
  // with the server's message: the detail (or else the title) of its
  // problem+json answer (RFC 9457).
  function post(url, body, headers) {
    return fetch(url, { method: "POST", credentials: "same-origin", headers: headers || {}, body: body })
      .then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          if (!resp.ok) {
            var err = new Error(data.detail || data.title || "The server refused the request (status " + resp.status + ").");
            err.server = true;
            err.reauth = typeof data.type === "string" && /\/reauth-required$/.test(data.type);
            throw err;
          }
          return data;
        });
      });
  }
  function message(err) {
    if (err && err.server) { return err.message; }
    switch (err && err.name) {
    case "NotAllowedError": return "No passkey was used: the request was cancelled or timed out.";
    case "InvalidStateError": return "This device already holds a passkey for this account.";
    case "SecurityError": return "The browser refused passkeys at this address.";
    }
    return "The passkey could not be used: " + (err && err.message ? err.message : String(err));
  }
  function show(el, text) {
    if (!el) { return; }
    el.textContent = text;
    el.hidden = !text;
  }

  // Registration: the name first, then the authenticator, then the list
  // is reloaded.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f.matches || !f.matches("form[data-passkey-register]")) { return; }
    e.preventDefault();
    var errEl = f.querySelector("#passkey-register-error");
    var button = f.querySelector("button[type=submit]");
    var name = f.querySelector("input[name=name]");
    var csrf = f.querySelector("input[name=_csrf]").value;
    show(errEl, "");
    name.removeAttribute("aria-invalid");
    button.disabled = true;
    post(f.dataset.optionsUrl, new URLSearchParams({ name: name.value }), { "X-CSRF-Token": csrf })
      .then(function (json) { return navigator.credentials.create({ publicKey: creationOptions(json) }); })
      .then(function (cred) {
        return post(f.dataset.finishUrl, JSON.stringify(credentialJSON(cred)),
          { "Content-Type": "application/json", "X-CSRF-Token": csrf });
      })
      .then(function () {
        var box = f.closest("#passkeys");
        htmx.ajax("GET", box.dataset.dialogUrl, { target: box, swap: "outerHTML" });
        htmx.trigger(document.body, "gh-users-changed");
      })
      .catch(function (err) {
        button.disabled = false;
        if (err && err.reauth && window.ghStepUp) {
          // Confirm it is you first; then the registration starts again.
          window.ghStepUp.ask(function () { f.requestSubmit(); });
          return;
        }
        show(errEl, message(err));
        name.setAttribute("aria-invalid", "true");
      });
  });

  // Re-authentication with a passkey (the step-up rule): one of the
  // user's own passkeys confirms it is them; then the refused change
  // carries on (gh-reauth-done, see above).
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("#reauth-passkey");
    if (!button) { return; }
    var box = button.closest("#reauth");
    var errEl = box.querySelector("#reauth-passkey-error");
    var csrf = box.querySelector("input[name=_csrf]").value;
    show(errEl, "");
    button.disabled = true;
    post(button.dataset.optionsUrl, new URLSearchParams({}), { "X-CSRF-Token": csrf })
      .then(function (json) { return navigator.credentials.get({ publicKey: requestOptions(json) }); })
      .then(function (cred) {
        return fetch(button.dataset.finishUrl, { method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(credentialJSON(cred)) })
          .then(function (resp) {
            if (resp.ok) { return; }
            return resp.json().catch(function () { return {}; }).then(function (data) {
              var err = new Error(data.detail || data.title || "The server refused the passkey (status " + resp.status + ").");
              err.server = true;
              throw err;
            });
          });
      })
      .then(function () {
        var done = document.createElement("p");
        done.id = "reauth";
        done.className = "ok";
        done.setAttribute("role", "status");
        done.textContent = "Confirmed.";
        box.replaceWith(done);
        htmx.trigger(document.body, "gh-reauth-done");
      })
      .catch(function (err) {
        show(errEl, message(err));
        button.disabled = false;
      });
  });

  // Sign-in: usernameless; the server answers where to go next.
  var autofill = null; // AbortController of the conditional request
  function nextPath() {
    var n = document.querySelector('form[action="/login"] input[name=next]');
    return n ? n.value : "";
  }
  function signIn(button, mediation, ctrl) {
    return post(button.dataset.optionsUrl, new URLSearchParams({ next: nextPath() }))
      .then(function (json) {
        var o = { publicKey: requestOptions(json), signal: ctrl.signal };
        if (mediation) { o.mediation = mediation; }
        return navigator.credentials.get(o);
      })
      .then(function (cred) {
        return post(button.dataset.finishUrl, JSON.stringify(credentialJSON(cred)), { "Content-Type": "application/json" });
      })
      .then(function (res) { window.location.assign(res.redirect || "/"); });
  }
  function startAutofill(button, errEl) {
    if (!PublicKeyCredential.isConditionalMediationAvailable) { return; }
    PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (!ok) { return; }
      var ctrl = new AbortController();
      autofill = ctrl;
      signIn(button, "conditional", ctrl).catch(function (err) {
        // Aborted for the button, or the browser gave up: stay quiet; a
        // passkey the server refused is worth saying.
        if (err && err.server && autofill === ctrl) { show(errEl, message(err)); }
      });
    }).catch(function () {});
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("#passkey-login");
    if (!button) { return; }
    var errEl = document.getElementById("passkey-login-error");
    if (autofill) { autofill.abort(); autofill = null; }
    show(errEl, "");
    button.disabled = true;
    signIn(button, "", new AbortController()).catch(function (err) {
      show(errEl, message(err));
      button.disabled = false;
    });
  });
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("passkey-login-box");
    var button = document.getElementById("passkey-login");
    if (!box || !button) { return; }
    box.hidden = false;
    startAutofill(button, document.getElementById("passkey-login-error"));
  });
})();

// The password rule while typing: an input with data-password-input names
// the rule box (templates/partials/password_rule.html) whose data-
// attributes carry the numbers of the server's rule (model.ValidatePassword,
// which stays the authority). Each part is marked met or not; the list is
// an aria-live region, so a screen reader hears a part change, not every
// keystroke. The classes follow Go's unicode.IsLetter (L) and IsDigit (Nd);
// everything else counts as special, a space too. Length counts code
// points, as Go counts runes.
(function () {
  "use strict";
  var letter = /\p{L}/u, digit = /\p{Nd}/u;

  function check(input) {
    var box = document.getElementById(input.dataset.passwordInput);
    if (!box) { return; }
    var list = box.querySelector(".rule-parts");
    list.hidden = false;
    var chars = Array.from(input.value);
    var has = { letter: false, digit: false, other: false };
    chars.forEach(function (ch) {
      if (letter.test(ch)) { has.letter = true; } else if (digit.test(ch)) { has.digit = true; } else { has.other = true; }
    });
    var classes = (has.letter ? 1 : 0) + (has.digit ? 1 : 0) + (has.other ? 1 : 0);
    var met = {
      length: chars.length >= Number(box.dataset.minLen) && chars.length <= Number(box.dataset.maxLen),
      letter: has.letter, digit: has.digit, other: has.other,
      classes: classes >= Number(box.dataset.minClasses)
    };
    list.querySelectorAll("li[data-part]").forEach(function (li) {
      var ok = !!met[li.dataset.part];
      // Only a change is written: the live region then speaks only it.
      if (li.classList.contains("met") === ok) { return; }
      li.classList.toggle("met", ok);
      li.querySelector("[data-state]").textContent = ok ? ": met" : ": not met";
    });
  }

  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("input[data-password-input]")) { check(e.target); }
  });
})();

// Feedback: a request indicator on every htmx action (aria-busy on the
// element that asked and a thin bar at the top of the page), a toast after
// saves and deletes (the server's HX-Trigger gh-toast carries the message),
// and relative times ("3 days ago") on every <time datetime>, with the
// exact local time on hover. All progressive: without JavaScript the
// pages show the exact UTC times and the pages that follow a form say
// what happened.
(function () {
  "use strict";

  // A filter form (GET) leaves its empty fields out of the address that
  // htmx requests and pushes into the history: ?event=x, not
  // ?user=&event=x&since=&until=.
  document.addEventListener("htmx:configRequest", function (e) {
    if (e.detail.verb !== "get") { return; }
    var p = e.detail.parameters;
    Object.keys(p).forEach(function (k) { if (p[k] === "") { delete p[k]; } });
  });

  var busy = 0;
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail.elt;
    if (elt && elt.setAttribute) { elt.setAttribute("aria-busy", "true"); }
    busy++;
    document.documentElement.classList.add("gh-busy");
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var elt = e.detail.elt;
    if (elt && elt.removeAttribute) { elt.removeAttribute("aria-busy"); }
    busy = Math.max(0, busy - 1);
    if (!busy) { document.documentElement.classList.remove("gh-busy"); }
  });

  // The toast lives in the open dialog while there is one: a modal
  // dialog makes the rest of the page inert, and an inert live region is
  // neither seen nor announced.
  var toastTimer = null;
  function showToast(msg) {
    var t = document.getElementById("toast");
    if (!t || !msg) { return; }
    var d = document.getElementById("dialog");
    var host = d && d.open ? d : document.body;
    if (t.parentNode !== host) { host.appendChild(t); }
    t.textContent = msg;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { t.hidden = true; t.textContent = ""; }, 4000);
  }
  document.body.addEventListener("gh-toast", function (e) {
    var v = e.detail && (typeof e.detail === "string" ? e.detail : e.detail.value);
    showToast(v);
  });
  // Back in the page when the dialog closes, where the next one shows.
  document.addEventListener("close", function (e) {
    var t = document.getElementById("toast");
    if (t && e.target.id === "dialog" && t.parentNode === e.target) { document.body.appendChild(t); }
  }, true);

  var units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  var rtf = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat("en", { numeric: "auto" }) : null;
  function relative(d, now) {
    var s = (d.getTime() - now) / 1000;
    if (Math.abs(s) < 45) { return "just now"; }
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(s) >= units[i][1] || units[i][0] === "second") {
        return rtf.format(Math.round(s / units[i][1]), units[i][0]);
      }
    }
    return "";
  }
  function exact(d) {
    try {
      return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short", timeZoneName: "short" });
    } catch (err) {
      return d.toLocaleString();
    }
  }
  function relTimes(root) {
    if (!rtf || !root.querySelectorAll) { return; }
    var now = Date.now();
    var list = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < list.length; i++) {
      var el = list[i];
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) { continue; }
      // An age ("12 days", the Password Age column) keeps its text from
      // the server; only its hover becomes the local time.
      if (el.hasAttribute("data-age")) { el.title = "Set " + exact(d); continue; }
      el.textContent = relative(d, now);
      el.title = exact(d);
      el.setAttribute("data-relative", "");
    }
  }
  document.addEventListener("DOMContentLoaded", function () { relTimes(document); });
  document.addEventListener("htmx:load", function (e) { relTimes(e.target); });
  setInterval(function () { relTimes(document); }, 60000);
})();
