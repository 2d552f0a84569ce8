// #/alerts: the surge alarm's alerts of the last day (reports/surge_alarm.py), each with where to write the answer.
// The navigation's link carries the count, refreshed every minute, so an editor on another page sees one arrive.

import { append, button, h, muted, pill } from "../dom.js";
import { when } from "../format.js";
import { api, listOf, query } from "../api.js";
import { state } from "../state.js";
import { go, loadFailed, page } from "../router.js";

var HOURS = 24;
export var ALERT_ROLES = ["editor", "reviewer"];
var NAV_LABEL = "热点预警";

function where(region) { return region === "*" ? "全省" : region; }

// "/console#/entry/x" → "#/entry/x": the alert names a place in this console.
function consoleHash(link) {
  var at = (link || "").indexOf("#");
  return at >= 0 ? link.slice(at) : "#/gaps";
}

function action(alert) {
  var kind = (alert.topic || "").split(":")[0];
  if (kind === "entry") return "查看并更新此条目的答复";
  if (kind === "gap") return "去未解答问题里写答复";
  return "查看相关条目";
}

export function renderAlerts() {
  var node = page("热点预警（近24小时）", "alerts-page");
  node.appendChild(muted("某个问题在某地的提问量突然高出它平时所占的比例时预警。请尽快补充或更新答复，让市民自助得到答案。"));
  api("GET", "/v1/alerts" + query({ hours: HOURS, limit: 100 })).then(function (data) {
    if (!node.live()) return;
    var alerts = listOf(data, "alerts");
    if (!alerts.length) node.appendChild(muted("近24小时没有预警。", "alerts-empty"));
    var list = h("div", { className: "cards", testid: "alert-list" });
    alerts.forEach(function (alert) { list.appendChild(alertCard(alert)); });
    node.appendChild(list);
    node.done();
  }, function (problem) { loadFailed(node, problem); });
}

function alertCard(alert) {
  var minutes = Math.round((Date.parse(alert.window_end) - Date.parse(alert.window_start)) / 60000);
  return append(h("article", { className: "card alert", testid: "alert", data: { topic: alert.topic, region: alert.region } }), [
    h("h3", { testid: "alert-label" }, alert.label),
    h("p", null, [pill(where(alert.region), "region", "alert-region"), " ",
                  h("span", { testid: "alert-count" }, minutes + "分钟内 " + alert.count + " 次，平时约 " +
                    (Math.round(alert.expected * 10) / 10) + " 次")]),
    h("p", { className: "small muted" }, "预警时间 " + when(alert.raised_at)),
    button(action(alert), "alert-open", function () { go(consoleHash(alert.link)); }, "primary")
  ]);
}

// The navigation's "热点预警" link, with the day's count when there are any.
export function refreshAlertCount() {
  var link = document.querySelector('[data-testid="nav-alerts"]');
  if (!link || !state.account || ALERT_ROLES.indexOf(state.account.role) < 0) return;
  api("GET", "/v1/alerts" + query({ hours: HOURS, limit: 100 })).then(function (data) {
    var count = listOf(data, "alerts").length;
    link.textContent = count ? NAV_LABEL + "（" + count + "）" : NAV_LABEL;
    link.classList.toggle("alerting", count > 0);
    link.setAttribute("data-count", String(count));
  }, function () { /* the count is a hint; the page itself says what went wrong */ });
}
