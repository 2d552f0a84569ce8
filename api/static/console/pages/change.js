// #/change/{id}: a change: edit, save, submit, withdraw, and review it.

import { state } from "../state.js";
import { KIND_LABEL } from "../config.js";
import { append, button, clear, errorSlot, h, link, muted, pill, section, statusPill } from "../dom.js";
import { authorOf, changeTitle, when } from "../format.js";
import { api } from "../api.js";
import { showError } from "../notices.js";
import { is, mayChange, outsideRegionNote, regionLabel } from "../auth.js";
import { stash, stashRestore } from "../stash.js";
import { flashNext, loadFailed, page, route } from "../router.js";
import { tryPanel } from "../components/try.js";
import { entryForm } from "../components/entry-form.js";
import { diffPanel, hintsPanel, staleWarning } from "../components/diff.js";
import { reviewActions } from "./review.js";

export function renderChange(changeId) {
  var node = page(null, "change-page");
  api("GET", "/v1/changes/" + encodeURIComponent(changeId)).then(function (change) {
    if (!node.live()) return;
    drawChange(node, change);
    node.done();
  }, function (problem) { loadFailed(node, problem); });
}

function drawChange(node, change) {
  var me = state.account.username;
  var entry = change.entry || {};
  var author = authorOf(change.author);
  var canEdit = is("editor") && change.status === "draft" && author === me && change.kind !== "retire";
  node.setAttribute("data-change-id", change.id);
  node.setAttribute("data-status", change.status);
  node.appendChild(h("p", { className: "crumbs" }, [link("修改单", "#/changes", "crumb"), " / #" + change.id,
    change.entry_id && change.kind !== "create" ? [" · ", link("查看条目", "#/entry/" + encodeURIComponent(change.entry_id), "change-entry-link")] : null]));
  node.appendChild(h("h2", { className: "page-title", testid: "change-title" }, changeTitle(change)));
  node.appendChild(h("div", { className: "badges" }, [
    statusPill(change.status, "change-status"), pill(KIND_LABEL[change.kind] || change.kind, "kind"),
    pill(regionLabel(entry.region), "region"),
    h("span", { className: "muted small" }, "作者 " + author + " · 创建 " + when(change.created_at) + " · 保存 " + when(change.updated_at) +
      (change.submitted_at ? " · 提交 " + when(change.submitted_at) : "") + (change.publish_at ? " · 计划发布 " + when(change.publish_at) : "") +
      (change.source ? " · 来源 " + change.source : ""))
  ]));
  if (change.review_note) {
    node.appendChild(h("p", { className: "notice warn", testid: "review-note" }, "审核意见（" + authorOf(change.reviewer) + "，" + when(change.reviewed_at) + "）：" + change.review_note));
  }
  if (change.stale) node.appendChild(staleWarning());
  if (is("editor") && change.status === "draft" && author !== me) {
    node.appendChild(muted("这份草稿属于 " + author + "，只有作者本人可以修改和提交。", "not-author"));
  }
  if (is("editor") && !mayChange(entry.region)) node.appendChild(outsideRegionNote(entry.region));

  var conflicts = h("div", { testid: "conflicts-slot" });
  var form = entryForm(entry, { editable: canEdit, isNew: false, conflicts: conflicts });
  form.showHints(change.hints);
  var slot = errorSlot("change-error");
  var lastSaved = JSON.stringify(form.read());
  var status = canEdit ? stashRestore("change." + change.id, form, node) : h("span", { className: "save-status", testid: "save-status" });
  var dirty = JSON.stringify(form.read()) !== lastSaved;
  if (dirty) status.textContent = "有未保存的修改";
  var diffHolder = h("div", null, diffPanel(change));
  var hintsHolder = h("div", null, hintsPanel(change, "voice_answer"));  // the form shows those under the voice answer
  var tryer = tryPanel({ region: entry.region, conflicts: conflicts,
                        entry: function () { return change.kind === "retire" ? null : form.read(); },
                        changeId: function () { return change.id; },
                        note: canEdit ? "“使用草稿后”一栏按表单里现在的内容计算（不必先保存）。" : null });
  if (canEdit) {
    form.node.addEventListener("input", function () {
      dirty = JSON.stringify(form.read()) !== lastSaved;
      stash("change." + change.id, dirty ? form.values() : null);
      status.textContent = dirty ? "有未保存的修改" : "";
    });
  }

  function saveDraft() {
    clear(slot);
    var entryNow = form.read();
    return api("PUT", "/v1/changes/" + change.id, { entry: entryNow }).then(function (saved) {
      lastSaved = JSON.stringify(entryNow);
      dirty = false;
      stash("change." + change.id, null);
      form.showFieldErrors(null);
      change = saved || change;
      form.showHints(change.hints);
      clear(diffHolder).appendChild(diffPanel(change));
      clear(hintsHolder).appendChild(hintsPanel(change, "voice_answer"));
      status.textContent = "已保存 " + when(new Date().toISOString()).slice(11);
      tryer.check(entryNow.samples[0] || entryNow.question || "测试");
      return change;
    }, function (problem) {
      stash("change." + change.id, form.values());
      form.showFieldErrors(problem);
      showError(slot, problem);
      status.textContent = "保存失败，内容仍在表单里";
      throw problem;
    });
  }

  var actions = h("div", { className: "actions sticky", testid: "change-actions" });
  if (canEdit) {
    var save = button("保存草稿", "save-draft", function () {
      save.disabled = true;
      saveDraft().catch(function () { return null; }).then(function () { save.disabled = false; });
    }, "secondary");
    var submit = button("提交审核", "submit-review", function () {
      submit.disabled = true;
      (dirty || JSON.stringify(form.read()) !== lastSaved ? saveDraft() : Promise.resolve(change)).then(function () {
        return api("POST", "/v1/changes/" + change.id + "/submit", {}).then(function () {
          flashNext("已提交审核（修改单 #" + change.id + "）。");
          route();
        }, function (problem) { showError(slot, problem); throw problem; });
      }).catch(function () { submit.disabled = false; });
    }, "primary");
    save.title = "Ctrl+S";
    append(actions, [save, submit, status]);
  } else if (is("editor") && change.kind === "retire" && change.status === "draft" && author === me) {
    var submitRetire = button("提交停用审核", "submit-review", function () {
      submitRetire.disabled = true;
      api("POST", "/v1/changes/" + change.id + "/submit", {}).then(function () {
        flashNext("已提交审核（修改单 #" + change.id + "）。");
        route();
      }, function (problem) { showError(slot, problem); submitRetire.disabled = false; });
    }, "primary");
    actions.appendChild(submitRetire);
  }
  if (is("editor") && author === me && ["draft", "in_review", "scheduled"].indexOf(change.status) >= 0) {
    var withdraw = button("撤回修改单", "withdraw", function () {
      withdraw.disabled = true;
      api("POST", "/v1/changes/" + change.id + "/withdraw", {}).then(function () {
        stash("change." + change.id, null);
        flashNext("已撤回修改单 #" + change.id + "。");
        route();
      }, function (problem) { showError(slot, problem); withdraw.disabled = false; });
    }, "ghost");
    actions.appendChild(withdraw);
  }

  var left = h("div", { className: "column wide" }, [
    change.kind === "retire" ? h("p", { className: "notice warn" }, "这份修改单发布后，条目将停用，各渠道不再用它答复。") : null,
    form.node, actions, slot
  ]);
  var right = h("div", { className: "column" }, [tryer, diffHolder, hintsHolder]);
  if (is("reviewer") && change.status === "in_review") {
    right.insertBefore(section("审核", "review-box", reviewActions(change, function (message) {
      flashNext(message);
      route();
    })), right.firstChild);
  }
  node.appendChild(h("div", { className: "columns" }, [left, right]));
}
