// The seats' workbench: the queue this seat may work (its city's, and under 多援一 the cities its team supports),
// "take the next one", and one ticket: conversation, taken-down details, classification, timeline, suggested answers
// (one click into the reply), reply / dispatch / close / call-back / archive. Every datum from the JSON API; every
// text goes in through textContent. The queue is refetched whenever GET /v1/desk/stream (server-sent events) says a
// ticket moved, on whichever worker, and every 15 s in any case.

import { api, query } from "../console/api.js";
import { h, clear } from "../console/dom.js";
import { T } from "./strings.js";

var POLL_MS = 15000;  // a safety net: the queue is refetched as soon as the stream says a ticket moved
var state = { me: null, words: null, view: "waiting", selected: null, departments: null, codes: [], timer: null,
              typing: null, stream: null, mine: null };

function $(id) { return document.getElementById(id); }

function flash(text, bad) {
  var node = $("flash");
  node.textContent = text;
  node.className = "flash" + (bad ? " bad" : "");
  node.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(function () { node.hidden = true; }, 4000);
}

function failed(problem) { flash(problem && problem.message ? problem.message : String(problem), true); }

function word(group, key) { return (state.words && state.words[group] && state.words[group][key]) || key; }

function timeClass(seconds, urgency) {
  if (seconds == null) return "";
  if (seconds < 0) return "time-late";
  var hour = 3600;
  if (seconds < (urgency === "紧急" ? 0.25 : 0.5) * hour) return "time-urgent";
  if (seconds < 2 * hour) return "time-soon";
  return "time-ok";
}

// ---- the queue ----------------------------------------------------------------------------------------
function renderQueue(items) {
  var list = $("queue");
  clear(list);
  if (!items.length) list.appendChild(h("li", { className: "muted", testid: "queue-empty" }, [T.empty]));
  items.forEach(function (t) {
    var left = t.seconds_left == null ? "" : T.left(t.seconds_left);
    var item = h("li", { tabindex: "0", className: timeClass(t.seconds_left, t.urgency) + (t.number === state.selected ? " selected" : ""),
                         testid: "queue-item", data: { number: t.number },
                         on: { click: function () { openTicket(t.number); },
                               keydown: function (e) { if (e.key === "Enter") openTicket(t.number); } } }, [
      h("div", { className: "line" }, [h("span", {}, [t.urgency + " · " + t.request_type]),
                                        h("span", { className: "left " + timeClass(t.seconds_left, t.urgency), testid: "time-left" }, [left])]),
      h("div", { className: "summary" }, [t.summary]),
      h("div", { className: "line" }, [h("span", {}, [t.region || ""]), h("span", {}, [t.deadline_beijing || ""])]),
      t.escalation ? h("span", { className: "pill escalated" }, [T.escalated + "：" + word("escalations", t.escalation)]) : null
    ]);
    list.appendChild(item);
  });
}

// What each role works from: its queue, how it reads a ticket, whether it takes tickets (seats) or not.
function deskTicket(number) { return api("GET", "/v1/desk/tickets/" + number); }

var MODES = {
  seat: { title: T.queue, queue: function () { return "/v1/desk/queue" + query({ view: state.view }); }, ticket: deskTicket, takes: true },
  supervisor: { title: T.escalations, queue: function () { return "/v1/desk/escalations"; }, ticket: deskTicket, takes: false },
  department: {
    title: T.departmentQueue, queue: function () { return "/v1/department/tickets"; }, takes: false,
    ticket: function (number) {
      return Promise.all([api("GET", "/v1/department/tickets/" + number), api("GET", "/v1/tickets/" + number + "/timeline")])
        .then(function (r) { return { ticket: r[0], timeline: r[1], suggestions: null }; });
    }
  }
};
MODES.team_lead = MODES.seat;

function mode() { return MODES[state.me.role] || MODES.seat; }

function refreshQueue() {
  return api("GET", mode().queue()).then(renderQueue, function () {});
}

function poll() {
  clearTimeout(state.timer);
  refreshQueue().then(function () { state.timer = setTimeout(poll, POLL_MS); });
}

function listen() {
  if (state.stream || !window.EventSource) return;
  state.stream = new EventSource("/v1/desk/stream");
  state.stream.addEventListener("queue", function () {
    refreshQueue();
    if (mode().takes) checkMine();
  });
}

// ---- presence (在线 / 小休 / 离线) and the tickets the desk gives this seat ---------------------------------
function renderPresence(p) {
  var select = $("presence");
  if (!select.options.length) {
    ["online", "break", "offline"].forEach(function (s) { select.appendChild(h("option", { value: s }, [word("presence", s)])); });
  }
  select.value = p.state;
  select.setAttribute("data-state", p.state);
  select.title = p.lapsed ? state.words.presence_lapsed : "";
  $("load").textContent = T.load(p.held, p.capacity);
}

function loadPresence() {
  return api("GET", "/v1/desk/presence").then(renderPresence, function () {});
}

function setPresence() {
  api("PUT", "/v1/desk/presence", { state: $("presence").value }).then(function (p) {
    renderPresence(p);
    checkMine();
  }, function (problem) { failed(problem); loadPresence(); });
}

// A ticket the desk has given this seat (going online, or the assignment job): said, and opened if none is open.
function checkMine() {
  return api("GET", "/v1/desk/queue" + query({ view: "mine" })).then(function (items) {
    var numbers = items.map(function (t) { return t.number; });
    var known = state.mine;
    state.mine = numbers;
    if (known === null) return;
    var given = numbers.filter(function (n) { return known.indexOf(n) < 0; });
    if (!given.length) return;
    loadPresence();
    flash(T.assigned(given.join("、")));
    if (state.view === "mine") renderQueue(items);
    if (!state.selected) openTicket(given[0]);
    else if (given.indexOf(state.selected) >= 0) openTicket(state.selected);
  }, function () {});
}

function switchView(view) {
  state.view = view;
  $("tab-waiting").setAttribute("aria-selected", String(view === "waiting"));
  $("tab-mine").setAttribute("aria-selected", String(view === "mine"));
  poll();
}

// A ticket this seat took itself is known as its own at once: not announced (and its page not redrawn under the
// seat's hands) as one the desk gave it when the queue next moves.
function noteMine(ticket) {
  if (state.mine && state.mine.indexOf(ticket.number) < 0) state.mine.push(ticket.number);
}

function takeNext() {
  api("POST", "/v1/desk/next").then(function (ticket) {
    noteMine(ticket);
    loadPresence();
    switchView("mine");
    openTicket(ticket.number);
  }, function (problem) { flash(problem.code === "queue_empty" ? T.queueEmpty : problem.message, problem.code !== "queue_empty"); });
}

// ---- one ticket ----------------------------------------------------------------------------------------
function facts(rows) {
  var dl = h("dl", { className: "facts" });
  rows.forEach(function (r) { if (r[1] != null && r[1] !== "") { dl.appendChild(h("dt", {}, [r[0]])); dl.appendChild(h("dd", { testid: r[2] }, [String(r[1])])); } });
  return dl;
}

function conversation(ticket) {
  var list = h("ol", { className: "turns", testid: "conversation" });
  (ticket.transcript || []).forEach(function (turn) {
    var meta = [];
    if (turn.at) meta.push(turn.at.replace("T", " ").slice(0, 19));
    if (turn.asr_confidence != null) meta.push(T.asr + " " + Math.round(turn.asr_confidence * 100) + "%");
    if (turn.decision) meta.push(turn.decision);
    list.appendChild(h("li", {}, [h("div", {}, [turn.text || "（" + (turn.decision || "—") + "）"]), h("div", { className: "meta" }, [meta.join(" · ")])]));
  });
  return list;
}

function details(ticket) {
  var d = ticket.details;
  if (!d) return null;
  return [h("h3", {}, [T.details]), facts(Object.keys(T.detailNames).map(function (k) {
    var v = d[k];
    if (typeof v === "boolean") v = v ? T.yes : T.no;
    return [T.detailNames[k], v, "detail-" + k];
  }))];
}

function timeline(events) {
  var list = h("ol", { className: "timeline", testid: "timeline" });
  events.forEach(function (e) {
    var extra = e.detail && (e.detail.escalation ? word("escalations", e.detail.escalation) : e.detail.result ? word("callback_results", e.detail.result)
      : [e.detail.department, e.detail.note].filter(Boolean).join(" "));
    list.appendChild(h("li", { data: { kind: e.kind } }, [e.at_beijing + "  " + word("events", e.kind) + "  " + e.actor +
      (e.actor_city ? "（" + e.actor_city + "）" : "") + (extra ? "  " + extra : "")]));
  });
  return list;
}

function suggestionList(number, items) {
  var list = h("ol", { className: "suggestions", testid: "suggestions" });
  items.forEach(function (s) {
    list.appendChild(h("li", { testid: "suggestion", data: { entry: s.entry_id } }, [
      h("strong", {}, [s.question]), " ", h("span", { className: "muted small" }, [s.region]),
      h("div", { className: "answer" }, [s.answer]),
      h("div", { className: "actions" }, [
        h("button", { type: "button", testid: "insert-suggestion", on: { click: function () { insert(s.answer); } } }, [T.insert]),
        h("button", { type: "button", className: "ghost", testid: "label-suggestion", on: { click: function (e) {
          var button = e.target;
          api("PUT", "/v1/tickets/" + number + "/label", { entry_id: s.entry_id }).then(function () {
            button.textContent = T.labelled; button.disabled = true; }, failed);
        } } }, [T.wouldAnswer])
      ])
    ]));
  });
  return list;
}

function insert(text) {
  var box = $("reply-text");
  if (!box) return;
  box.value = box.value ? box.value.replace(/\s*$/, "") + "\n" + text : text;
  box.focus();
}

function refreshSuggestions(number, text) {
  api("GET", "/v1/tickets/" + number + "/suggestions" + query({ text: text })).then(function (items) {
    var old = document.querySelector('[data-testid="suggestions"]');
    if (old && state.selected === number) old.replaceWith(suggestionList(number, items));
  }, function () {});
}

function act(method, path, body, after) {
  return api(method, path, body).then(function (result) {
    if (after) after(result);
    refreshQueue();
    openTicket(state.selected);
  }, failed);
}

// The code-table picker: any category of the province's table, by code or by name.
function classification(ticket) {
  var live = ["open", "claimed", "replied", "dispatched", "handling", "answered"].indexOf(ticket.status) >= 0;
  if (!live || state.me.role === "department" || !state.codes.length) return [];
  var input = h("input", { list: "codes", testid: "category-input", placeholder: T.pickCategory, size: 28 });
  return [h("div", { className: "actions" }, [input, h("button", { type: "button", testid: "reclassify", on: { click: function () {
    var code = input.value.trim().split(/\s+/)[0];
    if (code) act("PUT", "/v1/tickets/" + ticket.number + "/classification", { code: code });
  } } }, [T.reclassify])])];
}

function codeList(codes) {
  var list = h("datalist", { id: "codes" });
  codes.forEach(function (c) { list.appendChild(h("option", { value: c.code + " " + c.path.join(" / ") })); });
  document.body.appendChild(list);
}

function departmentActions(ticket) {
  var base = "/v1/department/tickets/" + ticket.number, out = [];
  if (ticket.status === "dispatched") out.push(h("button", { type: "button", testid: "department-claim",
    on: { click: function () { act("POST", base + "/claim"); } } }, [T.claim]));
  if (ticket.status === "dispatched" || ticket.status === "handling") {
    var box = h("textarea", { testid: "department-answer-text", placeholder: T.departmentAnswer });
    out.push(h("div", { className: "reply" }, [box]));
    out.push(h("div", { className: "actions" }, [h("button", { type: "button", className: "primary", testid: "department-answer",
      on: { click: function () { if (box.value.trim()) act("POST", base + "/answer", { text: box.value.trim() }); } } }, [T.answer])]));
  }
  return out;
}

function urgeAction(ticket) {
  if (["claimed", "dispatched", "handling"].indexOf(ticket.status) < 0) return [];
  var note = h("input", { testid: "urge-note", placeholder: T.urgeNote });
  return [h("div", { className: "actions" }, [note, h("button", { type: "button", testid: "urge",
    on: { click: function () { act("POST", "/v1/tickets/" + ticket.number + "/urge", { note: note.value.trim() }); } } }, [T.urge])])];
}

function actions(ticket) {
  if (state.me.role === "department") return departmentActions(ticket);
  var me = state.me.username, n = ticket.number, mine = ticket.seat === me, status = ticket.status, out = [];
  var base = "/v1/tickets/" + n;
  if (state.me.role === "supervisor") out = out.concat(urgeAction(ticket));
  if (status === "open" && mode().takes) out.push(h("button", { type: "button", className: "primary", testid: "claim",
    on: { click: function () { act("POST", base + "/claim", {}, noteMine); } } }, [T.claim]));
  if (mine && ["claimed", "replied", "answered"].indexOf(status) >= 0) {
    var box = h("textarea", { id: "reply-text", testid: "reply-text", placeholder: T.replyPlaceholder, on: { input: function () {
      clearTimeout(state.typing);
      var text = box.value.trim();
      state.typing = setTimeout(function () { refreshSuggestions(n, text); }, 400);
    } } });
    var select = h("select", { testid: "department" }, [h("option", { value: "" }, [T.pickDepartment])].concat(
      (state.departments || []).map(function (d) { return h("option", { value: d.code }, [d.name + "（" + d.region + "）"]); })));
    out.push(h("div", { className: "reply" }, [box]));
    out.push(h("div", { className: "actions" }, [
      h("button", { type: "button", className: "primary", testid: "send-reply", on: { click: function () {
        if (!box.value.trim()) return;
        act("POST", base + "/reply", { text: box.value.trim() }, function (r) { flash(T.replied(r.delivered)); });
      } } }, [T.reply]),
      select,
      h("button", { type: "button", testid: "dispatch", on: { click: function () {
        if (select.value) act("POST", base + "/dispatch", { department: select.value });
      } } }, [T.dispatch]),
      h("button", { type: "button", testid: "close", on: { click: function () { act("POST", base + "/close", {}); } } }, [T.close])
    ]));
    var parent = h("input", { testid: "parent-number", placeholder: T.parentNumber, size: 16 });
    out.push(h("div", { className: "actions" }, [parent, h("button", { type: "button", testid: "link", on: { click: function () {
      if (parent.value.trim()) act("POST", base + "/link", { parent: parent.value.trim() });
    } } }, [T.link])]));
  }
  if (status === "closed" && !ticket.callback_result) {
    var result = h("select", { testid: "callback-result" }, ["satisfied", "basically_satisfied", "unsatisfied", "unreachable"].map(function (r) {
      return h("option", { value: r }, [word("callback_results", r)]); }));
    out.push(h("div", { className: "actions" }, [result, h("button", { type: "button", testid: "callback", on: { click: function () {
      act("POST", base + "/callback", { result: result.value }); } } }, [T.callback])]));
  }
  if (status === "closed" && ticket.callback_result) out.push(h("button", { type: "button", testid: "archive",
    on: { click: function () { act("POST", base + "/archive"); } } }, [T.archive]));
  return out;
}

function openTicket(number) {
  if (!number) return;
  state.selected = number;
  document.querySelectorAll("#queue li").forEach(function (li) { li.classList.toggle("selected", li.getAttribute("data-number") === number); });
  mode().ticket(number).then(function (data) {
    if (state.selected !== number) return;
    var t = data.ticket, pane = $("ticket");
    clear(pane);
    pane.setAttribute("data-number", number);
    pane.appendChild(h("h2", { testid: "ticket-number" }, [t.number + "  " + word("states", t.status)]));
    pane.appendChild(h("p", { className: "summary", testid: "ticket-summary" }, [t.summary]));
    pane.appendChild(facts([
      [T.status, word("states", t.status), "ticket-status"], [T.urgency, t.urgency], [T.type, t.request_type],
      [T.category, t.category_name ? t.category_name + (t.category_code ? "（" + t.category_code + "）" : "") : null, "ticket-category"],
      [T.region, t.region], [T.channel, t.channel], [T.caller, t.caller], [T.reason, t.reason],
      [T.seat, t.seat ? t.seat + (t.seat_city ? "（" + t.seat_city + "）" : "") : null, "ticket-seat"],
      [T.department, t.department], [T.parent, t.parent_number, "parent"], [T.departmentReply, t.department_reply, "department-reply"],
      [T.reply, t.reply, "ticket-reply"], [T.escalated, t.escalation ? word("escalations", t.escalation) : null]
    ]));
    pane.appendChild(h("div", {}, classification(t).concat(actions(t))));
    if (data.suggestions) {
      pane.appendChild(h("h3", {}, [T.suggestions]));
      pane.appendChild(suggestionList(number, data.suggestions));
    }
    pane.appendChild(h("h3", {}, [T.conversation]));
    pane.appendChild(conversation(t));
    (details(t) || []).forEach(function (node) { pane.appendChild(node); });
    pane.appendChild(h("h3", {}, [T.timeline]));
    pane.appendChild(timeline(data.timeline));
  }, failed);
}

// ---- signing in ---------------------------------------------------------------------------------------
function signedIn(data) {
  var me = data.account || data;
  state.me = me;
  $("sign-in").hidden = true;
  $("top").hidden = false;
  $("bench").hidden = false;
  $("who-name").textContent = me.display_name || me.username;
  $("who-region").textContent = me.region || "";
  $("queue-title").textContent = mode().title;
  $("take-next").hidden = !mode().takes;
  $("tab-waiting").hidden = $("tab-mine").hidden = !mode().takes;
  Promise.all([api("GET", "/v1/desk/words"), api("GET", "/v1/departments").catch(function () { return []; }),
               api("GET", "/v1/codes").catch(function () { return []; })]).then(function (r) {
    state.words = r[0];
    state.departments = r[1];
    state.codes = r[2];
    if (!document.getElementById("codes")) codeList(state.codes);
    switchView("waiting");
    $("presence-bar").hidden = !mode().takes;
    if (mode().takes) { loadPresence(); checkMine(); }
    listen();
  }, failed);
  clear($("ticket")).appendChild(h("p", { className: "muted" }, [T.pickOne]));
}

function showSignIn() {
  clearTimeout(state.timer);
  state.mine = null;
  if (state.stream) { state.stream.close(); state.stream = null; }
  $("sign-in").hidden = false;
  $("top").hidden = true;
  $("bench").hidden = true;
}

function start() {
  document.title = "12345 " + T.title;
  $("title").textContent = T.title;
  $("sign-in-title").textContent = T.signInTitle;
  $("username-label").textContent = T.username;
  $("password-label").textContent = T.password;
  $("sign-in-submit").textContent = T.signIn;
  $("sign-out").textContent = T.signOut;
  $("queue-title").textContent = T.queue;
  $("take-next").textContent = T.takeNext;
  $("tab-waiting").textContent = T.waiting;
  $("tab-mine").textContent = T.mine;
  $("queue-note").textContent = T.pollNote;
  $("presence-label").textContent = T.presence;
  $("presence").addEventListener("change", setPresence);
  $("take-next").addEventListener("click", takeNext);
  $("tab-waiting").addEventListener("click", function () { switchView("waiting"); });
  $("tab-mine").addEventListener("click", function () { switchView("mine"); });
  $("sign-out").addEventListener("click", function () { api("POST", "/v1/auth/logout").then(showSignIn, showSignIn); });
  $("sign-in-form").addEventListener("submit", function (event) {
    event.preventDefault();
    api("POST", "/v1/auth/login", { username: $("username").value.trim(), password: $("password").value }, { signingIn: true })
      .then(function () { return api("GET", "/v1/auth/me"); })
      .then(signedIn, function (problem) { $("sign-in-error").textContent = problem.message; });
  });
  api("GET", "/v1/auth/me", undefined, { signingIn: true }).then(signedIn, showSignIn).then(function () {
    document.body.setAttribute("data-ready", "true");
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
