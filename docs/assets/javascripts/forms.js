/* Fernleaf forms, progressive enhancement (without it a form still works): the schema's checks,
 * JSON posts, errors at their fields, no double submits; the first touch kept in localStorage,
 * sent only in a form; a calendar of free times (handbook/development.md, "The booking picker"). */
(function () {
  "use strict";
  var KEY = "fernleaf.first-touch";
  var UTM = ["source", "medium", "campaign", "term", "content"];
  var TEL = /^\+?[0-9 ().\-\/]+$/;
  var EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
  var DATE = /^\d{4}-\d{2}-\d{2}$/;
  var SEEN = new Date().toISOString();

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
    var first = bad[0];
    if (first) {
      (first.querySelector("[data-start], input") || first).focus({ preventScroll: true });
      first.scrollIntoView({ block: first.tagName === "FIELDSET" ? "start" : "center" });
    }
  }

  function busy(form, on) {
    var button = form.querySelector("[type=submit]");
    [form, button].forEach(function (el) {
      if (on) el.setAttribute(el === form ? "aria-busy" : "aria-disabled", "true");
      else el.removeAttribute(el === form ? "aria-busy" : "aria-disabled");
    });
  }

  function sent(form, note) {
    var name = form.elements.name ? form.elements.name.value.trim().split(/\s+/)[0] : "";
    form.classList.add("capture-form--sent");
    return status(form, "Thank you" + (name ? ", " + name : "") + "! " + (note || "We have received your message and will reply soon."), "sent");
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
          if (response.ok) return (body.booking ? booked(form, body.booking) : sent(form)).focus();
          if (response.status === 409 && box && body.errors) return taken(form, box, body);
          if (response.status === 422 && body.errors) return showErrors(form, body.errors);
          status(form, body.error || "Sorry, something went wrong (" + response.status + "). Please try again.", "error");
        });
      })
      .catch(function () {
        status(form, "We could not reach our server. Please check your connection and try again.", "error");
      })
      .then(function () { busy(form, false); });
  }

  /* --- the booking picker --- */
  var ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC", DAY_MS = 864e5,
      NONE = " None of these times suit me \u2014 suggest a date instead", PICK = "Pick a time";
  function fmt(options) { return new Intl.DateTimeFormat(undefined, options); }
  var DAY = fmt({ weekday: "long", day: "numeric", month: "long" }), TIME = fmt({ hour: "2-digit", minute: "2-digit" }),
      MONTH = fmt({ month: "long", year: "numeric" });

  function el(tag, parent, text, name) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    if (name) node.className = name;
    if (parent) parent.appendChild(node);
    return node;
  }
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  function dayOf(iso) { var d = new Date(iso); return new Date(d.getFullYear(), d.getMonth(), d.getDate()); }
  function monthOf(d) { return d.getFullYear() * 12 + d.getMonth(); }
  function zoneLine() {
    var zone = ZONE.split("/").pop().replace(/_/g, " ");
    return "Times shown in " + (zone === "UTC" ? zone : zone + " time") + ".";
  }
  function timeButton(parent, start, text) {
    var b = el("button", parent, text);
    b.type = "button"; b.dataset.start = start;
    return b;
  }

  /* The form's and the move page's calendar: the W3C APG date picker's grid, then a day's times.
   * list: [{start}] in time order; pick(start) hears the time chosen; live hears what changed. */
  function calendar(root, list, pick, live) {
    var byDay = {}, cells = {}, first = dayOf(list[0].start), last = dayOf(list[list.length - 1].start),
        head = el("div", root, "", "capture-cal__head"), prev = nav("\u2039", "Previous month", -1),
        title = el("p", head, "", "capture-cal__month"), next = nav("\u203a", "Next month", 1),
        grid = el("table", root, "", "capture-cal"), row = el("tr", el("thead", grid)), body = el("tbody", grid),
        times = el("div", root, "", "capture-picker__times"), chosen, picked, cur, shown;
    list.forEach(function (slot) { var k = +dayOf(slot.start); (byDay[k] = byDay[k] || []).push(slot.start); });
    title.id = live.id + "-month";
    grid.setAttribute("role", "grid");
    grid.setAttribute("aria-labelledby", title.id);
    for (var i = 1; i < 8; i++) el("th", row, fmt({ weekday: "short" }).format(new Date(2024, 0, i))).scope = "col";
    function say(text) { live.textContent = text; }
    function nav(text, label, step) {
      var b = el("button", head, text);
      b.type = "button"; b.setAttribute("aria-label", label);
      b.onclick = function () {
        if (b.getAttribute("aria-disabled") !== "true") {
          render(new Date(Math.floor(shown / 12), shown % 12 + step, 1));
          say(title.textContent);
        }
      };
      return b;
    }
    /* d's month; its tab stop d if exact, else the chosen or first free day */
    function render(d, exact) {
      var m = d.getMonth(), day = new Date(d.getFullYear(), m, 1), tr, td, n, k;
      shown = monthOf(day);
      title.textContent = MONTH.format(day);
      body.textContent = ""; cells = {};
      day.setDate(1 - (day.getDay() + 6) % 7); /* weeks start on Monday */
      do {
        tr = el("tr", body);
        for (i = 0; i < 7; i++, day.setDate(day.getDate() + 1)) {
          td = el("td", tr);
          if (day.getMonth() !== m) continue;
          k = +day; n = (byDay[k] || []).length; cells[k] = td;
          td.textContent = day.getDate(); td.tabIndex = -1; td.dataset.t = k;
          td.setAttribute("aria-label", DAY.format(day) + ", " + (n ? plural(n, "free time") : "no free times"));
          if (n) td.className = "capture-cal__free"; else td.setAttribute("aria-disabled", "true");
          if (k === chosen) td.setAttribute("aria-selected", "true");
        }
      } while (day.getMonth() === m);
      prev.setAttribute("aria-disabled", shown <= monthOf(first));
      next.setAttribute("aria-disabled", shown >= monthOf(last));
      cur = cells[exact ? +d : chosen] || body.querySelector(".capture-cal__free") || body.querySelector("[data-t]");
      cur.tabIndex = 0;
    }
    function go(d) { /* within the months that have free times */
      var lo = new Date(first.getFullYear(), first.getMonth(), 1), hi = new Date(last.getFullYear(), last.getMonth() + 1, 0);
      d = d < lo ? lo : d > hi ? hi : d;
      if (monthOf(d) !== shown) say(MONTH.format(d));
      render(d, true);
      cur.focus();
    }
    function showTimes(k) {
      times.textContent = "";
      var label = el("p", times, "Times on " + DAY.format(new Date(k)), "capture-picker__on"), group = el("div", times);
      label.id = live.id + "-on";
      group.setAttribute("role", "group");
      group.setAttribute("aria-labelledby", label.id);
      byDay[k].forEach(function (start) {
        timeButton(group, start, TIME.format(new Date(start))).setAttribute("aria-pressed", start === picked);
      });
    }
    function choose(td) {
      var k = +td.dataset.t;
      say(td.getAttribute("aria-label") + ".");
      if (!byDay[k]) return;
      if (cells[chosen]) cells[chosen].removeAttribute("aria-selected");
      td.setAttribute("aria-selected", "true");
      showTimes(chosen = k);
      times.querySelector("button").focus();
    }
    function select(start, focus) {
      var k = +dayOf(start);
      picked = start;
      if (k !== chosen) { byDay[k] = byDay[k] || [start]; chosen = k; render(new Date(k), true); showTimes(k); }
      press(start, focus);
      pick(start);
    }
    function press(start, focus) {
      [].forEach.call(times.querySelectorAll("[data-start]"), function (b) {
        b.setAttribute("aria-pressed", b.dataset.start === start);
        if (focus && b.dataset.start === start) b.focus();
      });
    }
    grid.onkeydown = function (e) {
      var d = new Date(+cur.dataset.t), key = e.key, wd = (d.getDay() + 6) % 7,
          step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7, Home: -wd, End: 6 - wd }[key];
      if (key === "Enter" || key === " ") choose(cur);
      else if (/^Page/.test(key)) {
        var to = new Date(d.getFullYear(), d.getMonth() + (key === "PageUp" ? -1 : 1), 1);
        to.setDate(Math.min(d.getDate(), new Date(to.getFullYear(), to.getMonth() + 1, 0).getDate()));
        go(to);
      } else if (step !== undefined) { d.setDate(d.getDate() + step); go(d); }
      else return;
      e.preventDefault();
    };
    grid.onclick = function (e) {
      var td = e.target.closest("[data-t]");
      if (td) { cur.tabIndex = -1; (cur = td).tabIndex = 0; choose(td); }
    };
    times.onclick = function (e) { var b = e.target.closest("[data-start]"); if (b) select(b.dataset.start); };
    chosen = +first;
    render(first, true);
    showTimes(chosen);
    return { select: select, clear: function () { press(picked = ""); } };
  }

  function picker(form) { return form.querySelector("[data-slot-field]"); }
  function hidden(parent, name) { var input = el("input", parent); input.type = "hidden"; input.name = name; return input; }

  /* The fields the picker replaces: shown and sent (on), or hidden and left out. */
  function fallback(form, box, on) {
    return box.dataset.replaces.split(" ").filter(function (name) {
      var el = form.elements[name], was = el && !el.disabled && el.value;
      if (el) { el.disabled = !on; el.parentNode.hidden = !on; }
      return was;
    }).length;
  }

  function setup(form, box) {
    var set = box.querySelector("fieldset"), label = el("label", set, "", "capture-picker__none"),
        none = box.none = el("input"), slot = box.input = hidden(box, box.dataset.slotField),
        zoneField = box.dataset.zoneField, zone = form.elements[zoneField || "time_zone"] || zoneField && hidden(form, zoneField);
    none.type = "checkbox";
    label.append(none, NONE);
    if (zone) zone.value = ZONE;
    box.pick = function (start) {
      slot.value = start;
      if (start) none.checked = false;
      fallback(form, box, !start && none.checked);
      mark(set, "");
      offer(box, []);
    };
    none.onchange = function () {
      if (none.checked && box.cal) box.cal.clear();
      box.pick("");
    };
  }

  /* The whole horizon, unknown here: weeks (days=7 fits any horizon of a week or more) four at
   * a time, until the fourth brings nothing new. A failure: `given` (a 409's) or the fallback. */
  function slots(form, box, note, given) {
    var found = {}, day = Date.now() - DAY_MS, end = day + 371 * DAY_MS; /* from the studio's today */
    function batch() {
      for (var asked = [], i = 0; i < 4; i++, day += 7 * DAY_MS) {
        asked.push(fetch(new URL("/api/slots?form=" + form.dataset.captureForm + "&from=" +
                                 new Date(day).toISOString().slice(0, 10) + "&days=7", form.action),
                         { headers: { Accept: "application/json" }, cache: "no-cache" }) /* fresh after a 409 */
          .then(function (r) { if (!r.ok) throw r; return r.json(); }));
      }
      return Promise.all(asked).then(function (weeks) {
        var fresh = weeks[3].slots.some(function (s) { return !found[s.start]; });
        weeks.forEach(function (w) { w.slots.forEach(function (s) { found[s.start] = s; }); });
        return fresh && day < end && batch();
      });
    }
    return batch().then(function () { return Object.values(found); }, function () { return given || []; })
      .then(function (list) { show(form, box, list.sort(function (a, b) { return Date.parse(a.start) - Date.parse(b.start); }), note); });
  }

  function show(form, box, list, note) {
    var days = box.querySelector(".capture-picker__days"), live = document.getElementById(form.id + "-picker-live"),
        typed = fallback(form, box, false); /* typed answers stay in view */
    days.textContent = "";
    box.hidden = !list.length;
    box.cal = null;
    box.pick("");
    if (!list.length) return fallback(form, box, true);
    box.cal = calendar(days, list, box.pick, live);
    document.getElementById(form.id + "-" + box.dataset.slotField + "-help").textContent = zoneLine();
    if (typed) { box.none.checked = true; fallback(form, box, true); }
    live.textContent = (note ? note + " " : "") + plural(list.length, "free time") + " to choose from.";
  }

  /* A 409's nearest free times, under its message */
  function offer(box, nearest) {
    var set = box.querySelector("fieldset"), old = set.querySelector(".capture-picker__taken");
    if (old) old.remove();
    if (!nearest.length || !box.cal) return;
    var group = el("div", null, "", "capture-picker__taken"), text = el("p", group, "The nearest free times:");
    text.id = set.id + "-nearest";
    group.setAttribute("role", "group");
    group.setAttribute("aria-labelledby", set.id + "-error " + text.id);
    nearest.forEach(function (s) {
      var d = new Date(s.start);
      timeButton(group, s.start, DAY.format(d) + ", " + TIME.format(d));
    });
    group.onclick = function (e) { var b = e.target.closest("[data-start]"); if (b) box.cal.select(b.dataset.start, true); };
    document.getElementById(set.id + "-error").after(group);
  }

  function taken(form, box, body) {
    return slots(form, box, body.errors[box.dataset.slotField], body.slots).then(function () {
      offer(box, body.slots || []);
      showErrors(form, body.errors);
    });
  }

  /* The move page's radios (without the script) feed the calendar, which checks them. */
  function moving(box) {
    var radios = [].slice.call(box.querySelectorAll("input[type=radio]")), form = box.closest("form"), checked;
    if (!radios.length) return;
    [].forEach.call(box.children, function (child) { child.hidden = true; });
    var root = el("div", box), live = el("p", box, "", "capture-sr"), error = el("p", root, "", "capture-error");
    el("p", root, zoneLine(), "capture-help");
    live.id = (box.id || "move") + "-live";
    live.setAttribute("aria-live", "polite");
    var cal = calendar(root, radios.map(function (r) { r.required = false; if (r.checked) checked = r.value; return { start: r.value }; }),
      function (start) { error.textContent = ""; radios.forEach(function (r) { r.checked = r.value === start; }); }, live);
    if (checked) cal.select(checked);
    if (form) form.addEventListener("submit", function (e) {
      if (radios.some(function (r) { return r.checked; })) return;
      e.preventDefault();
      live.textContent = error.textContent = PICK;
      root.querySelector("[data-start]").focus();
    });
  }

  /* --- the "Booked" card: text and http(s) links only --- */
  function link(parent, href, text, base) {
    var url;
    try { url = href && new URL(href, base); } catch (e) { /* not a link */ }
    if (!url || !/^https?:$/.test(url.protocol)) return null;
    var a = el("a", parent, text);
    a.setAttribute("href", url.href);
    return a;
  }

  function links(card, intro, list, base) {
    var p = el("p", card, intro);
    list.forEach(function (item) { var a = link(p, item[1], item[0], base); if (a) a.before(" "); });
  }

  function booked(form, b) {
    var card = el("div", null, "", "capture-booked"), heading = el("h2", card, "Booked"), list = el("dl", card),
        base = form.action, calendar = b.calendar || {}, manage = b.manage || {};
    heading.tabIndex = -1;
    [["What", b.what], ["When", b.when], ["Studio time", b.studio_when], ["With", b.host], ["How", b.how]].forEach(function (row) {
      if (!row[1]) return;
      el("dt", list, row[0]);
      var dd = el("dd", list, row[1]);
      if (row[0] === "How" && b.video_url && link(dd, b.video_url, row[1], base)) dd.firstChild.remove();
    });
    if (b.invitation_to) el("p", card, "Invitation sent to " + b.invitation_to + ".");
    links(card, "Add it to your calendar:", [["Google Calendar", calendar.google], ["Outlook", calendar.outlook],
                                            ["Download an .ics file", calendar.ics]], base);
    links(card, "Need to change it?", [["Move the consultation", manage.move], ["Cancel it", manage.cancel]], base);
    sent(form, "Your time is booked.").after(card); /* the fields give way to the card */
    return heading;
  }

  function enhance(form) {
    var box = picker(form);
    if (box) { setup(form, box); slots(form, box); }
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
      if (box && !box.hidden && !box.none.checked && !box.input.value) {
        errors[box.dataset.slotField] = PICK;
        document.getElementById(form.id + "-picker-live").textContent = PICK + ".";
      }
      fields(form).forEach(function (el) { var p = problem(el); if (p) errors[el.name] = p; });
      if (Object.keys(errors).length) showErrors(form, errors); else send(form);
    });
  }

  if (window.fetch && window.URLSearchParams && window.FormData) {
    [].forEach.call(document.querySelectorAll("form[data-capture-form]"), enhance);
    [].forEach.call(document.querySelectorAll("[data-move-picker]"), moving);
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
