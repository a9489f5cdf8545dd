/* Fernleaf forms: progressive enhancement for the forms rendered from forms.yml.
 * Without it a form still works (browser checks, plain POST, thank-you page). With it:
 * the schema's checks with clear messages, fetch asking for JSON, 422 errors shown at
 * their fields, success in the live region, no double submits. Attribution without
 * cookies: the first touch (landing page, referrer, time, UTM) is kept once in
 * localStorage and sent, with the current page's URL, referrer and UTM, only in a form.
 * A booking form gets its picker: the free slots (GET /api/slots) as radios by day in the
 * visitor's own time zone, in place of the preferred-date fields, which come back when the
 * slots cannot be had or the visitor picks "none of these". */
(function () {
  "use strict";
  var KEY = "fernleaf.first-touch";
  var UTM = ["source", "medium", "campaign", "term", "content"];
  var TEL = /^\+?[0-9 ().\-\/]+$/;
  var EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
  var DATE = /^\d{4}-\d{2}-\d{2}$/;
  var SEEN = new Date().toISOString();
  var DAYS = 7; /* how many days of free slots the picker offers */

  function utm() {
    var query = new URLSearchParams(location.search), out = {};
    UTM.forEach(function (k) { out[k] = query.get("utm_" + k) || ""; });
    return out;
  }

  function firstTouch() {
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(KEY)); } catch (e) { /* blocked or bad */ }
    if (saved && typeof saved === "object") return saved;
    var now = utm();
    saved = { landing_page: location.href, first_referrer: document.referrer,
              first_seen: SEEN };
    UTM.forEach(function (k) { saved["first_utm_" + k] = now[k]; });
    try { localStorage.setItem(KEY, JSON.stringify(saved)); } catch (e) { /* private mode */ }
    return saved;
  }

  var first = null;

  function attribution() {
    var out = {}, now = utm();
    first = first || firstTouch();
    Object.keys(first).forEach(function (k) { out[k] = first[k]; });
    UTM.forEach(function (k) { out["last_utm_" + k] = now[k]; });
    out.page_url = location.href;
    out.referrer = document.referrer;
    return out;
  }

  function today(ahead) {
    var d = new Date();
    d.setMinutes(d.getMinutes() - d.getTimezoneOffset() + (ahead || 0) * 1440);
    return d.toISOString().slice(0, 10);
  }

  function fields(form) {
    return [].filter.call(form.querySelectorAll(".capture-field input, .capture-field select, .capture-field textarea"),
      function (el) { return !el.disabled; });
  }

  function labelText(el) {
    var label = el.form.querySelector('label[for="' + el.id + '"]');
    return label ? label.firstChild.textContent.trim() : el.name;
  }

  /* The same rules and messages as capture/forms.py, read from the markup the schema made. */
  function problem(el) {
    var type = el.type, value = type === "checkbox" ? el.checked : el.value.trim();
    if (!value) {
      if (!el.required) return "";
      if (type === "checkbox") return "Please tick this box to continue.";
      if (el.tagName === "SELECT") return "Please choose an option.";
      return "Please fill in \u201c" + labelText(el) + "\u201d.";
    }
    if (type === "checkbox") return "";
    if (el.maxLength > 0 && value.length > el.maxLength) {
      return "Please keep this under " + el.maxLength + " characters (it has " + value.length + ").";
    }
    if (el.tagName === "SELECT") {
      var known = [].some.call(el.options, function (o) { return o.value === value; });
      return known ? "" : "Please choose one of the options.";
    }
    if (type === "email" && !EMAIL.test(value)) return "Please enter a valid email address, like name@example.com.";
    if (type === "tel") {
      var digits = value.replace(/\D/g, "").length;
      if (!TEL.test(value) || digits < 6 || digits > 20) return "Please enter a phone number using digits, spaces and an optional +.";
    }
    if (type === "url") {
      try {
        var url = new URL(value.indexOf("://") < 0 ? "https://" + value : value);
        if (!/^https?:$/.test(url.protocol) || url.hostname.indexOf(".") < 0 || /\s/.test(value)) throw value;
      } catch (e) { return "Please enter a web address, like www.example.com."; }
    }
    if (type === "date") {
      if (!DATE.test(value) || isNaN(Date.parse(value))) return "Please enter a date as YYYY-MM-DD.";
      if (el.hasAttribute("data-not-past") && value < today()) return "Please choose a date from today onwards.";
      var ahead = el.getAttribute("data-days-ahead");
      if (ahead && value > today(+ahead)) return "Please choose a date within the next " + ahead + " days.";
      if (el.hasAttribute("data-weekdays-only") && new Date(value + "T12:00:00Z").getUTCDay() % 6 === 0) return "Please choose a weekday (Monday to Friday).";
    }
    return "";
  }

  function mark(el, message) {
    var slot = document.getElementById(el.id + "-error");
    if (slot) slot.textContent = message;
    if (message) el.setAttribute("aria-invalid", "true"); else el.removeAttribute("aria-invalid");
    el.parentNode.classList.toggle("capture-field--invalid", !!message);
  }

  function status(form, text, state) {
    var box = form.querySelector("[role=status]");
    box.textContent = text;
    if (state) box.setAttribute("data-state", state); else box.removeAttribute("data-state");
    return box;
  }

  function showErrors(form, errors) {
    var bad = fields(form).concat([].slice.call(form.querySelectorAll("fieldset[name]"))).filter(function (el) {
      mark(el, errors[el.name] || "");
      return errors[el.name] && !el.closest("[hidden]");
    });
    var n = bad.length, other = Object.keys(errors).map(function (k) { return errors[k]; })[0];
    status(form, n === 0 ? other : n === 1 ? "Please check the answer marked below."
      : "Please check the " + n + " answers marked below.", "error");
    if (bad[0]) (bad[0].querySelector("input") || bad[0]).focus();
  }

  function busy(form, on) {
    var button = form.querySelector("[type=submit]");
    [form, button].forEach(function (el) {
      if (on) el.setAttribute(el === form ? "aria-busy" : "aria-disabled", "true");
      else el.removeAttribute(el === form ? "aria-busy" : "aria-disabled");
    });
  }

  function sent(form) {
    var name = form.elements.name ? form.elements.name.value.trim().split(/\s+/)[0] : "";
    form.classList.add("capture-form--sent");
    status(form, "Thank you" + (name ? ", " + name : "") + "! We have received your message and will reply soon.", "sent").focus();
  }

  function send(form) {
    var values = attribution();
    values.time_on_form = String(Math.round(performance.now())); /* people take longer than bots */
    [].forEach.call(form.querySelectorAll("input[type=hidden]"), function (input) {
      if (input.name in values) input.value = values[input.name];
    });
    busy(form, true);
    status(form, "Sending\u2026");
    var body = new URLSearchParams(new FormData(form)), box = picker(form);
    if (box && !body.get(box.dataset.slotField)) body.delete(box.dataset.slotField); /* "none of these" */
    fetch(form.action, { method: "POST", body: body, headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (response.ok) return sent(form);
          if (response.status === 409 && box && body.errors) {
            return slots(form, box, body.errors.slot, body.slots).then(function () { showErrors(form, body.errors); });
          }
          if (response.status === 422 && body.errors) return showErrors(form, body.errors);
          status(form, body.error || "Sorry, something went wrong (" + response.status + "). Please try again.", "error");
        });
      })
      .catch(function () {
        status(form, "We could not reach our server. Please check your connection and try again.", "error");
      })
      .then(function () { busy(form, false); });
  }

  /* --- the booking picker ---------------------------------------------------------- */
  function picker(form) { return form.querySelector("[data-slot-field]"); }

  /* The fields the picker replaces: shown and sent (on), or hidden and left out. */
  function fallback(form, box, on) {
    return box.dataset.replaces.split(" ").filter(function (name) {
      var el = form.elements[name], was = el && !el.disabled && el.value;
      if (el) { el.disabled = !on; el.parentNode.hidden = !on; }
      return was;
    }).length;
  }

  /* Fetch the free slots and show them; `note` is announced first (after a 409, with `given`,
   * the server's fresh slots, used if the fetch fails). Any failure leaves the fallback. */
  function slots(form, box, note, given) {
    var url = new URL("/api/slots?form=" + form.dataset.captureForm + "&from=" +
                      new Date().toISOString().slice(0, 10) + "&days=" + DAYS, form.action);
    return fetch(url, { headers: { Accept: "application/json" }, cache: "no-cache" }) /* fresh after a 409 */
      .then(function (r) { if (!r.ok) throw r; return r.json(); })
      .catch(function () { return { slots: given || [] }; })
      .then(function (data) { show(form, box, data.slots || [], note); });
  }

  function option(name, value, text) {
    var label = document.createElement("label"), input = label.appendChild(document.createElement("input"));
    input.type = "radio"; input.name = name; input.value = value;
    label.append(text);
    return label;
  }

  function show(form, box, list, note) {
    var name = box.dataset.slotField, id = form.id + "-" + name, days = box.querySelector("div"),
        day = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" }),
        time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" }),
        zone = (Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC").split("/").pop().replace(/_/g, " "),
        group, last;
    days.textContent = "";
    box.hidden = !list.length;
    if (!list.length) return fallback(form, box, true);
    list.forEach(function (slot) {
      var start = new Date(slot.start), heading = day.format(start);
      if (heading !== last) {
        group = days.appendChild(document.createElement("fieldset"));
        group.appendChild(document.createElement("legend")).textContent = last = heading;
      }
      group.appendChild(option(name, slot.start, time.format(start)));
    });
    days.appendChild(option(name, "", "None of these times suit me \u2014 suggest a date instead"));
    document.getElementById(id + "-help").textContent = "Times shown in " + (zone === "UTC" ? zone : zone + " time") + ".";
    /* Whatever the visitor already typed in the fallback fields stays in view. */
    if (fallback(form, box, false)) { fallback(form, box, true); box.querySelector("[value='']").checked = true; }
    document.getElementById(form.id + "-picker-live").textContent =
      (note ? note + " " : "") + list.length + " free time" + (list.length > 1 ? "s" : "") + " to choose from.";
  }

  function enhance(form) {
    var box = picker(form);
    if (box) {
      slots(form, box);
      box.addEventListener("change", function (event) {
        fallback(form, box, !event.target.value);
        mark(box.querySelector("fieldset"), "");
      });
    }
    form.noValidate = true;
    fields(form).forEach(function (el) {
      if (el.hasAttribute("data-not-past")) el.min = today();
      if (el.hasAttribute("data-days-ahead")) el.max = today(+el.getAttribute("data-days-ahead"));
      el.addEventListener("change", function () { if (el.hasAttribute("aria-invalid")) mark(el, problem(el)); });
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.hasAttribute("aria-busy") || form.classList.contains("capture-form--sent")) return;
      var errors = {};
      /* Nothing picked: ask for a preferred date instead. */
      if (box && !box.hidden && !form.elements[box.dataset.slotField].value) {
        box.querySelector("[value='']").checked = true;
        fallback(form, box, true);
      }
      fields(form).forEach(function (el) { var p = problem(el); if (p) errors[el.name] = p; });
      if (Object.keys(errors).length) showErrors(form, errors); else send(form);
    });
  }

  if (window.fetch && window.URLSearchParams && window.FormData) {
    [].forEach.call(document.querySelectorAll("form[data-capture-form]"), enhance);
  }
  /* One count per page view, after load (Lighthouse) and only once shown (prerender):
   * the path, the referrer and this URL's campaign; no cookie, nothing stored. */
  function count() {
    var api = document.querySelector("meta[name=fernleaf-api]"), q = new URLSearchParams(location.search),
        view = { path: location.pathname, referrer: document.referrer };
    ["source", "medium", "campaign"].forEach(function (k) { view["utm_" + k] = q.get("utm_" + k); });
    navigator.sendBeacon((api ? api.content : "") + "/api/views", JSON.stringify(view));
  }
  function later() {
    if (!navigator.sendBeacon || !window.URLSearchParams) return;
    if (document.prerendering) document.addEventListener("prerenderingchange", count, { once: true });
    else setTimeout(count);
  }
  if (document.readyState === "complete") later(); else addEventListener("load", later);
  /* Record the first touch when the visitor moves on (storage I/O off the loading path). */
  function record() { first = first || firstTouch(); }
  addEventListener("pagehide", record);
  document.addEventListener("visibilitychange", function () { if (document.hidden) record(); });
})();
