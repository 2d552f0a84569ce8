// #/changes: the list of changes.

import { state } from "../state.js";
import { KIND_LABEL } from "../config.js";
import { field, h, link, muted, pill, statusPill } from "../dom.js";
import { authorOf, when } from "../format.js";
import { api, listOf, query } from "../api.js";
import { is } from "../auth.js";
import { go, loadFailed, page } from "../router.js";

export function renderChanges(params) {
  var node = page("修改单", "changes-page");
  var status = h("select", { testid: "changes-status", value: params.status || "", on: { change: function () {
    go("#/changes" + query({ status: status.value, mine: mine.checked ? "1" : "" }));
  } } }, [h("option", { value: "" }, "全部"), h("option", { value: "draft" }, "草稿"), h("option", { value: "in_review" }, "审核中"),
           h("option", { value: "scheduled" }, "已排期"), h("option", { value: "published" }, "已发布"), h("option", { value: "withdrawn" }, "已撤回")]);
  var mine = h("input", { type: "checkbox", testid: "changes-mine", checked: params.mine === "1" || (params.mine == null && is("editor")), on: { change: function () {
    go("#/changes" + query({ status: status.value, mine: mine.checked ? "1" : "0" }));
  } } });
  node.appendChild(h("div", { className: "filters" }, [field("状态", status), h("label", { className: "check" }, [mine, " 只看我的"])]));
  var request = { status: params.status, limit: 100 };
  if (mine.checked) request.author = state.account.username;
  api("GET", "/v1/changes" + query(request)).then(function (data) {
    if (!node.live()) return;
    var changes = listOf(data, "changes");
    if (mine.checked) changes = changes.filter(function (c) { return authorOf(c.author) === state.account.username; });
    if (!changes.length) node.appendChild(muted("没有修改单。", "changes-empty"));
    else node.appendChild(h("table", { className: "table", testid: "changes-table" }, [
      h("thead", null, h("tr", null, ["#", "内容", "类型", "状态", "作者", "更新"].map(function (t) { return h("th", null, t); }))),
      h("tbody", null, changes.map(function (c) {
        return h("tr", { testid: "change-row", data: { "change-id": c.id, status: c.status } }, [
          h("td", { className: "mono" }, "#" + c.id),
          h("td", null, [link((c.entry && c.entry.question) || c.entry_id || "", "#/change/" + c.id, "change-link"),
                         c.review_note && c.status === "draft" ? pill("被退回", "status-returned", "returned-badge") : null,
                         c.stale ? pill("已过时", "status-stale") : null]),
          h("td", null, KIND_LABEL[c.kind] || c.kind),
          h("td", null, statusPill(c.status)),
          h("td", null, authorOf(c.author)),
          h("td", { className: "small" }, when(c.updated_at))
        ]);
      }))
    ]));
    node.done();
  }, function (problem) { loadFailed(node, problem); });
}
