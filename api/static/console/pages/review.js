// #/review: the changes waiting for review, published one by one or together; the review box a change page shows.

import { state } from "../state.js";
import { append, button, clear, errorSlot, h, link, muted, pill, section } from "../dom.js";
import { authorOf, changeTitle, fromLocalInput, when } from "../format.js";
import { api, failure, listOf, query } from "../api.js";
import { showError } from "../notices.js";
import { regionLabel } from "../auth.js";
import { flashNext, loadFailed, page, route } from "../router.js";
import { diffPanel, hintsPanel, staleWarning } from "../components/diff.js";

export function reviewActions(change, done) {
  var slot = errorSlot();
  var at = h("input", { type: "datetime-local", testid: "publish-at" });
  var note = h("textarea", { testid: "return-note", rows: "2", placeholder: "退回意见：告诉作者要改什么" });
  function act(buttonNode, path, body, message) {
    buttonNode.disabled = true;
    clear(slot);
    return api("POST", "/v1/changes/" + change.id + path, body).then(function (result) {
      done(typeof message === "function" ? message(result || {}) : message, result);
    }, function (problem) { showError(slot, problem); buttonNode.disabled = false; });
  }
  var own = authorOf(change.author) === state.account.username;
  var now = button("立即发布", "publish-now", function () {
    act(now, "/publish", {}, function (r) { return "已发布修改单 #" + change.id + (r.published_version ? "（条目第 " + r.published_version + " 版）" : "") + "，各渠道几秒内生效。"; });
  }, "primary");
  var later = button("定时发布", "publish-schedule", function () {
    if (!at.value) { showError(slot, failure(422, { code: "missing_time", message: "请先选择发布时间（北京时间）。" })); at.focus(); return; }
    act(later, "/publish", { at: fromLocalInput(at.value) }, function (r) {
      return r.status === "published" ? "已发布修改单 #" + change.id + "。" : "修改单 #" + change.id + " 将于 " + when(r.publish_at || fromLocalInput(at.value)) + " 发布。";
    });
  }, "secondary");
  var back = button("退回修改", "return-change", function () {
    if (!note.value.trim()) { showError(slot, failure(422, { code: "missing_note", message: "请填写退回意见，告诉作者要改什么。" })); note.focus(); return; }
    act(back, "/return", { note: note.value.trim() }, "已退回修改单 #" + change.id + "。");
  }, "ghost");
  return h("div", { className: "review-actions" }, [
    own ? h("p", { className: "notice warn", testid: "own-change" }, "这是您自己写的修改，须由另一位审核员发布。") : null,
    h("div", { className: "row" }, [now]),
    h("div", { className: "row" }, [at, later]),
    h("div", { className: "row" }, [note, back]),
    slot
  ]);
}

export function renderReview() {
  var node = page("审核发布", "review-page");
  var selected = {};
  var toolbarSlot = errorSlot();
  var count = h("span", { testid: "selected-count" }, "已选 0 项");
  var publishSelected = button("发布所选", "publish-selected", function () {
    var ids = Object.keys(selected).filter(function (k) { return selected[k]; }).map(function (k) { return isNaN(+k) ? k : +k; });
    if (!ids.length) return;
    publishSelected.disabled = true;
    clear(toolbarSlot);
    api("POST", "/v1/changes/publish", { ids: ids }).then(function (result) {
      var revision = result && (result.knowledge_revision || result.revision);
      flashNext("已一起发布 " + ids.length + " 份修改" + (revision ? "（知识库版本 " + revision + "）" : "") + "，各渠道几秒内生效。");
      route();
    }, function (problem) { showError(toolbarSlot, problem); publishSelected.disabled = false; });
  }, "primary");
  publishSelected.disabled = true;
  var selectAll = h("input", { type: "checkbox", testid: "review-select-all" });
  function refreshCount() {
    var n = Object.keys(selected).filter(function (k) { return selected[k]; }).length;
    count.textContent = "已选 " + n + " 项";
    publishSelected.disabled = n === 0;
  }
  node.appendChild(h("div", { className: "toolbar" }, [h("label", { className: "check" }, [selectAll, " 全选"]), count, publishSelected]));
  node.appendChild(toolbarSlot);
  var list = h("div", { className: "cards", testid: "review-list" });
  node.appendChild(list);
  var scheduled = h("div", { testid: "scheduled-list" });
  node.appendChild(scheduled);

  Promise.all([api("GET", "/v1/changes" + query({ status: "in_review", limit: 200 })),
               api("GET", "/v1/changes" + query({ status: "scheduled", limit: 200 })).catch(function () { return []; })])
    .then(function (results) {
      if (!node.live()) return;
      var changes = listOf(results[0], "changes").filter(function (c) { return c.status === "in_review"; });
      var boxes = [];
      if (!changes.length) list.appendChild(muted("没有待审核的修改。", "review-empty"));
      changes.forEach(function (change) {
        var box = h("input", { type: "checkbox", testid: "review-select", on: { change: function () {
          selected[change.id] = box.checked;
          refreshCount();
        } } });
        boxes.push(box);
        var card = h("article", { className: "card", testid: "review-card", data: { "change-id": change.id, "entry-id": change.entry_id } });
        append(card, [
          h("header", { className: "card-head" }, [
            h("label", { className: "check" }, [box]),
            h("h3", null, link(changeTitle(change), "#/change/" + change.id, "review-link")),
            pill(regionLabel((change.entry || {}).region), "region"),
            h("span", { className: "muted small" }, "#" + change.id + " · " + authorOf(change.author) + " · 提交于 " + when(change.submitted_at || change.updated_at) +
              (change.batch ? " · 批次 " + change.batch : ""))
          ]),
          change.stale ? staleWarning() : null,
          hintsPanel(change),
          diffPanel(change),
          reviewActions(change, function (message) {
            selected[change.id] = false;
            refreshCount();
            clear(card);
            card.classList.add("done");
            card.appendChild(h("p", { className: "notice ok", testid: "review-result" }, message));
          })
        ]);
        list.appendChild(card);
      });
      selectAll.addEventListener("change", function () {
        boxes.forEach(function (b) { if (b.isConnected) { b.checked = selectAll.checked; b.dispatchEvent(new Event("change")); } });
      });
      var later = listOf(results[1], "changes").filter(function (c) { return c.status === "scheduled"; });
      if (later.length) {
        scheduled.appendChild(section("已排期的发布", "scheduled", h("ul", null, later.map(function (c) {
          return h("li", { testid: "scheduled-change", data: { "change-id": c.id } }, [
            link(changeTitle(c), "#/change/" + c.id, "scheduled-link"), " — ", when(c.publish_at), "（" + authorOf(c.reviewer) + "）"
          ]);
        }))));
      }
      node.done();
    }, function (problem) { loadFailed(node, problem); });
}
