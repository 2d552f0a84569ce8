// Hash routes (#/name/part?key=value): which page to draw, the page node it draws into, and where to go next.

import { state, view } from "./state.js";
import { HOME, ROLE_LABEL } from "./config.js";
import { clear, errorSlot, h, muted } from "./dom.js";
import { showError, showFlash } from "./notices.js";

function parseHash() {
  var hash = window.location.hash.replace(/^#\/?/, "");
  var at = hash.indexOf("?");
  var path = at >= 0 ? hash.slice(0, at) : hash;
  var params = {};
  if (at >= 0) {
    hash.slice(at + 1).split("&").forEach(function (pair) {
      if (!pair) return;
      var eq = pair.indexOf("=");
      var key = decodeURIComponent(eq >= 0 ? pair.slice(0, eq) : pair);
      params[key] = eq >= 0 ? decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, " ")) : "";
    });
  }
  var parts = path.split("/").filter(Boolean).map(function (p) {
    try { return decodeURIComponent(p); } catch (e) { return p; }
  });
  return { parts: parts, params: params };
}

export function go(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

// The route table; main.js fills it in (so that this module needs none of the pages).
var ROUTES = {};

export function defineRoutes(table) {
  ROUTES = table;
}

// Each render gets a fresh page node; a render that finishes after the editor moved on is dropped.
export function page(title, testid) {
  var id = ++state.renderId;
  clear(view);
  var node = h("div", { className: "page", testid: testid, data: { loading: "true", hash: window.location.hash } });
  if (title) node.appendChild(h("h2", { className: "page-title" }, title));
  view.appendChild(node);
  node.live = function () { return id === state.renderId; };
  node.done = function () { node.removeAttribute("data-loading"); };
  return node;
}

export function route() {
  if (!state.account) return;
  var r = parseHash();
  var name = r.parts[0] || HOME[state.account.role] || "entries";
  if (!r.parts[0] && window.location.hash !== "#/" + name) {
    window.location.replace("#/" + name);
    return;
  }
  var links = document.querySelectorAll("#nav a");
  for (var i = 0; i < links.length; i++) {
    links[i].classList.toggle("active", links[i].getAttribute("data-route") === name ||
      (name === "entry" || name === "new") && links[i].getAttribute("data-route") === "entries");
  }
  showFlash(state.pendingFlash || "", state.pendingFlashKind);
  state.pendingFlash = null;
  var target = ROUTES[name];
  if (!target) {
    var missing = page("找不到这个页面", "not-found");
    missing.appendChild(muted("地址有误。请从上方的菜单进入。"));
    missing.done();
    return;
  }
  if (target.roles.indexOf(state.account.role) < 0) {
    var denied = page("没有权限", "not-allowed");
    denied.appendChild(muted("您的账号（" + ROLE_LABEL[state.account.role] + "）不能使用这个页面。"));
    denied.done();
    return;
  }
  target.render(r);
}

export function flashNext(text, kind) {
  state.pendingFlash = text;
  state.pendingFlashKind = kind;
}

export function loadFailed(node, problem) {
  if (!node.live()) return;
  if (problem && problem.status === 401) return;  // the sign-in form is up; the page stays as it was
  var slot = errorSlot();
  node.appendChild(slot);
  showError(slot, problem);
  node.done();
}
