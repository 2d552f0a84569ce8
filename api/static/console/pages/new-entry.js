// #/new: a new entry, saved as a draft change.

import { state } from "../state.js";
import { button, clear, errorSlot, h } from "../dom.js";
import { api } from "../api.js";
import { showError } from "../notices.js";
import { stash, stashRestore } from "../stash.js";
import { flashNext, go, page } from "../router.js";
import { tryPanel } from "../components/try.js";
import { entryForm } from "../components/entry-form.js";

export function renderNewEntry(params) {
  var node = page("新建条目", "new-page");
  var conflicts = h("div", { testid: "conflicts-slot" });
  var form = entryForm({ id: params.id || "", question: params.question || "", samples: [], chat_answer: "", voice_answer: "",
                         region: (state.account && state.account.region) || "江苏省", request_type: "咨询" },
                       { editable: true, isNew: true, conflicts: conflicts });
  var saved = stashRestore("new", form, node);
  var slot = errorSlot();
  var save = button("保存草稿", "save-draft", function () {
    save.disabled = true;
    clear(slot);
    var entry = form.read();
    api("POST", "/v1/changes", { kind: "create", entry_id: entry.id || undefined, entry: entry }).then(function (change) {
      stash("new", null);
      flashNext("已新建草稿（修改单 #" + change.id + "）。");
      go("#/change/" + change.id);
    }, function (problem) {
      stash("new", form.values());
      form.showFieldErrors(problem);
      showError(slot, problem);
      save.disabled = false;
    });
  }, "primary");
  var columns = h("div", { className: "columns" }, [
    h("div", { className: "column wide" }, [form.node, h("div", { className: "actions sticky" }, [save, saved]), slot]),
    h("div", { className: "column" }, [tryPanel({ region: null, entry: function () { var e = form.read(); return e.question ? e : null; },
                                                  changeId: function () { return null; }, conflicts: conflicts,
                                                  note: "“使用草稿后”一栏按表单里现在的内容计算（不必先保存）。" })])
  ]);
  node.appendChild(columns);
  form.node.addEventListener("input", function () { stash("new", form.values()); });
  node.done();
}
