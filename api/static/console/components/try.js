// "Try it": what the assistant answers now, and with the draft, and which samples conflict.

import { state } from "../state.js";
import { DECISION_LABEL, KNOWN_REGIONS } from "../config.js";
import { append, clear, errorSlot, h, link, muted, pill, section } from "../dom.js";
import { api } from "../api.js";
import { showError } from "../notices.js";

// opts: entry() → the proposed entry JSON or null, changeId() → a change id or null, region, note,
// conflicts (a node to show conflicts in; the panel's own when absent)
export function tryPanel(opts) {
  var text = h("input", { testid: "try-text", placeholder: "输入一个市民可能会问的问题", maxlength: "500" });
  var channel = h("select", { testid: "try-channel" }, [h("option", { value: "chat" }, "在线（文字）"), h("option", { value: "voice" }, "电话（语音）")]);
  var region = h("input", { testid: "try-region", value: opts.region || (state.account && state.account.region) || "", list: "try-region-list", placeholder: "市民所在地区" });
  var slot = errorSlot();
  var now = h("div", { className: "outcome-box", testid: "try-now" });
  var draft = h("div", { className: "outcome-box", testid: "try-draft" });
  var conflicts = opts.conflicts || h("div", { testid: "conflicts-slot" });
  var notes = h("ul", { className: "try-notes muted small" });
  var results = h("div", { className: "try-results", hidden: true, testid: "try-results" }, [
    h("div", null, [h("h4", null, "现在"), now]), h("div", null, [h("h4", null, "使用草稿后"), draft])
  ]);
  var run = h("button", { type: "submit", className: "primary", testid: "try-run" }, "试一试");
  var form = h("form", { className: "try-form", on: { submit: function (event) {
    event.preventDefault();
    var question = text.value.trim();
    if (!question) { text.focus(); return; }
    run.disabled = true;
    run.textContent = "计算中…";
    ask(question).then(function () { run.disabled = false; run.textContent = "试一试"; });
  } } }, [text, channel, region, run]);

  function ask(question) {
    clear(slot);
    var body = { text: question, channel: channel.value };
    if (region.value.trim()) body.region = region.value.trim();
    var proposed = opts.entry();
    if (proposed) body.entry = proposed;
    var changeId = opts.changeId();
    if (changeId != null) body.change_id = changeId;
    return api("POST", "/v1/try", body).then(function (data) {
      clear(now).appendChild(outcome(data.now));
      clear(draft).appendChild(data.with_draft ? outcome(data.with_draft) : muted("（没有草稿可比较）", "no-draft"));
      results.hidden = false;
      showConflicts(conflicts, data.conflicts || [], data.near_duplicates || []);
      clear(notes);
      (data.notes || []).forEach(function (n) { notes.appendChild(h("li", { testid: "try-note", data: { code: n.code } }, n.message)); });
    }, function (problem) { showError(slot, problem); });
  }

  var panel = section("试一试", "try-panel", [
    opts.note ? muted(opts.note) : null, form,
    h("datalist", { id: "try-region-list" }, KNOWN_REGIONS.map(function (r) { return h("option", { value: r }); })),
    slot, opts.conflicts ? null : conflicts, results, notes
  ]);
  // A conflict check with no question of the editor's own: the entry's title, quietly.
  panel.check = function (question) {
    var body = { text: question, channel: "chat" };
    if (region.value.trim()) body.region = region.value.trim();
    var proposed = opts.entry();
    if (proposed) body.entry = proposed;
    var changeId = opts.changeId();
    if (changeId != null) body.change_id = changeId;
    return api("POST", "/v1/try", body).then(function (data) {
      showConflicts(conflicts, data.conflicts || [], data.near_duplicates || []);
    }, function () { return null; });
  };
  return panel;
}

function outcome(o) {
  if (!o) return muted("（无）");
  var candidates = o.candidates || [];
  return h("div", { className: "outcome decision-" + o.decision, testid: "outcome", data: { decision: o.decision, "entry-id": o.entry_id } }, [
    h("div", { className: "outcome-head" }, [
      pill(DECISION_LABEL[o.decision] || o.decision, "decision-" + o.decision, "outcome-decision", { decision: o.decision }),
      h("span", { className: "confidence", testid: "outcome-confidence" }, "置信度 " + Math.round(100 * (o.confidence || 0)) + "%"),
      o.knowledge_revision != null ? h("span", { className: "muted small" }, "知识库版本 " + o.knowledge_revision) : null
    ]),
    o.entry_id ? h("p", { className: "small", testid: "outcome-entry" }, [
      link(o.entry_question || o.entry_id, "#/entry/" + encodeURIComponent(o.entry_id), "outcome-entry-link"), " ", h("span", { className: "muted mono" }, o.entry_id)]) : null,
    h("div", { className: "prose citizen", testid: "outcome-text" }, o.text || ""),
    candidates.length ? h("ol", { className: "candidates", testid: "outcome-candidates" }, candidates.slice(0, 5).map(function (c) {
      return h("li", { testid: "outcome-candidate", data: { "entry-id": c.entry_id } }, [
        h("span", null, c.question || c.entry_id), " ", h("span", { className: "muted mono small" }, c.entry_id + " · " + Number(c.score || 0).toFixed(2))
      ]);
    })) : null
  ]);
}

function conflictItem(c, testid) {
  return h("li", { testid: testid, data: { sample: c.sample, "other-entry": c.closer_entry_id, "new": c["new"] === false ? "false" : "true" } }, [
    "「", h("strong", null, c.sample), "」更接近 ",
    link((c.closer_question || "") + "（" + c.closer_entry_id + "）", "#/entry/" + encodeURIComponent(c.closer_entry_id), "conflict-entry-link"),
    h("span", { className: "muted small" }, "  本条 " + (c.own_score == null ? "—" : Number(c.own_score).toFixed(2)) +
      " / 另一条 " + Number(c.other_score || 0).toFixed(2) + (c["new"] === false ? "（已发布的版本就有这个问题）" : ""))
  ]);
}

function showConflicts(node, conflicts, duplicates) {
  clear(node);
  duplicates = duplicates || [];
  if (!conflicts.length && !duplicates.length) return;
  var box = h("div", { className: "conflicts", role: "alert", testid: "conflict-warning" });
  if (conflicts.length) {
    append(box, [h("p", { className: "conflict-title" }, "⚠ 相似问法冲突：下列问法离另一个条目更近，发布后市民这样问时可能得到另一条的答复。"),
                 h("ul", null, conflicts.map(function (c) { return conflictItem(c, "conflict"); }))]);
  }
  if (duplicates.length) {
    append(box, [h("p", { className: "conflict-title" }, "⚠ 几乎重复：下列问法与另一个条目的问法几乎一样。"),
                 h("ul", null, duplicates.map(function (c) { return conflictItem(c, "near-duplicate"); }))]);
  }
  box.appendChild(h("p", { className: "small" }, "请改写或删去这些问法，或者改为修改另一个条目。"));
  node.appendChild(box);
}
