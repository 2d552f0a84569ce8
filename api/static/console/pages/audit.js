// #/audit: the audit log, filtered and paged.

import { ACTION_LABEL } from "../config.js";
import { button, errorSlot, field, h, link } from "../dom.js";
import { when } from "../format.js";
import { api, listOf, query } from "../api.js";
import { showError } from "../notices.js";
import { go, page } from "../router.js";

export function renderAudit(params) {
  var node = page("操作记录", "audit-page");
  var actor = h("input", { testid: "audit-actor", value: params.actor || "", placeholder: "用户名" });
  var target = h("input", { testid: "audit-target", value: params.target || "", placeholder: "如 entry:hc-code-colors、change:12" });
  var action = h("input", { testid: "audit-action", value: params.action || "", placeholder: "如 change.publish", list: "audit-actions" });
  node.appendChild(h("form", { className: "filters", on: { submit: function (event) {
    event.preventDefault();
    go("#/audit" + query({ actor: actor.value.trim(), target: target.value.trim(), action: action.value.trim() }));
  } } }, [field("操作人", actor), field("对象", target), field("操作", action),
          h("div", { className: "filter-actions" }, [h("button", { type: "submit", className: "primary", testid: "audit-search" }, "查询")]),
          h("datalist", { id: "audit-actions" }, Object.keys(ACTION_LABEL).map(function (a) { return h("option", { value: a, label: ACTION_LABEL[a] }); }))]));
  var body = h("tbody");
  var table = h("table", { className: "table", testid: "audit-table" }, [
    h("thead", null, h("tr", null, ["时间", "操作人", "操作", "对象", "详情"].map(function (t) { return h("th", null, t); }))), body]);
  var slot = errorSlot();
  var more = button("更早的记录", "audit-more", function () { load(lastId); }, "ghost");
  more.hidden = true;
  var lastId = null;
  node.appendChild(table);
  node.appendChild(slot);
  node.appendChild(more);

  function load(before) {
    more.disabled = true;
    api("GET", "/v1/audit" + query({ actor: params.actor, target: params.target, action: params.action, before_id: before, limit: 100 })).then(function (data) {
      if (!node.live()) return;
      var events = listOf(data, "events");
      if (!events.length && before == null) body.appendChild(h("tr", null, h("td", { colspan: "5", className: "muted", testid: "audit-empty" }, "没有记录。")));
      events.forEach(function (event) {
        body.appendChild(h("tr", { testid: "audit-row", data: { action: event.action, actor: event.actor, target: event.target } }, [
          h("td", { className: "small" }, when(event.at)),
          h("td", null, event.actor),
          h("td", null, [ACTION_LABEL[event.action] || event.action, h("br"), h("span", { className: "muted mono small" }, event.action)]),
          h("td", null, targetLink(event.target)),
          h("td", { className: "small detail" }, detailText(event.detail))
        ]));
        lastId = event.id;
      });
      more.hidden = events.length < 100;
      more.disabled = false;
      node.done();
    }, function (problem) { showError(slot, problem); more.disabled = false; node.done(); });
  }
  load(null);
}

function targetLink(target) {
  target = String(target || "");
  var m = /^(entry|change):(.+)$/.exec(target);
  if (!m) return target;
  return link(target, "#/" + m[1] + "/" + encodeURIComponent(m[2]), "audit-target-link");
}

function detailText(detail) {
  if (detail == null) return "";
  if (typeof detail !== "object") return String(detail);
  return Object.keys(detail).map(function (k) {
    var v = detail[k];
    if (v != null && typeof v === "object") { try { v = JSON.stringify(v); } catch (e) { v = String(v); } }
    return k + "：" + v;
  }).join("；");
}
