// A small DOM toolkit: every text goes in through textContent, nothing from the server is parsed as HTML.

import { STATUS_LABEL } from "./config.js";

var PROPERTIES = { value: 1, checked: 1, disabled: 1, hidden: 1, selected: 1, readOnly: 1, multiple: 1 };

export function append(node, children) {
  if (children == null || children === false) return node;
  if (!Array.isArray(children)) children = [children];
  children.forEach(function (child) {
    if (child == null || child === false) return;
    if (Array.isArray(child)) append(node, child);
    else if (typeof child === "object") node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  });
  return node;
}

// h("button", {testid: "save", on: {click: f}}, ["保存"]): children first, so a select's value sticks.
export function h(tag, props, children) {
  var node = document.createElement(tag);
  append(node, children);
  props = props || {};
  Object.keys(props).forEach(function (key) {
    var value = props[key];
    if (value == null || value === false) return;
    if (key === "text") node.textContent = String(value);
    else if (key === "className") node.className = value;
    else if (key === "testid") node.setAttribute("data-testid", value);
    else if (key === "on") Object.keys(value).forEach(function (name) { node.addEventListener(name, value[name]); });
    else if (key === "data") Object.keys(value).forEach(function (name) {
      if (value[name] != null) node.setAttribute("data-" + name, String(value[name]));
    });
    else if (PROPERTIES[key]) node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  });
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function button(label, testid, onClick, className) {
  return h("button", { type: "button", testid: testid, className: className || null, on: { click: onClick } }, label);
}

export function link(label, hash, testid) {
  return h("a", { href: hash, testid: testid || null }, label);
}

export function pill(text, kind, testid, data) {
  return h("span", { className: "pill " + (kind || ""), testid: testid || null, data: data || null }, text);
}

export function statusPill(status, testid) {
  return pill(STATUS_LABEL[status] || status || "—", "status-" + status, testid || "status-badge", { status: status });
}

export function section(title, testid, children) {
  return h("section", { className: "panel", testid: testid || null }, [h("h3", null, title), children]);
}

export function muted(text, testid) {
  return h("p", { className: "muted", testid: testid || null }, text);
}

export function field(label, control, hint) {
  return h("label", { className: "field" }, [h("span", { className: "label" }, label), control, hint || null]);
}

export function errorSlot(testid) {
  return h("div", { className: "error-slot", "aria-live": "polite", testid: testid || null });
}
