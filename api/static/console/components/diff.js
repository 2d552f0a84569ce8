// A change against the published entry: the diff, the hints, the stale warning.

import { FIELD_LABEL, STATUS_LABEL } from "../config.js";
import { h, muted, section } from "../dom.js";
import { when } from "../format.js";

export function staleWarning() {
  return h("p", { className: "notice bad", role: "alert", testid: "stale-warning" },
           "⚠ 这个条目在草稿保存之后已经发布过新的内容。下面的差异按现在发布的版本计算，请核对是否会覆盖别人的修改。");
}

export function diffPanel(change) {
  var diff = change.diff || [];
  return section("与已发布版本的差异", "diff", diff.length ? diffList(diff) : muted("与已发布的版本相同。", "diff-empty"));
}

export function diffList(diff) {
  return h("div", { className: "diff-list" }, diff.map(function (d) {
    var segments = d.field === "status" || /_at$|_from$/.test(d.field) ? [] : (d.segments || []);
    // A rewrite shares little with what it replaces: the old text struck out, then the new, read better
    // than a confetti of one-character changes.
    var kept = 0, longest = Math.max(fmtValue(d.before || "", d.field).length, fmtValue(d.after || "", d.field).length);
    segments.forEach(function (s) { if (s.op === "equal") kept += s.text.length; });
    if (d.field !== "samples" && longest > 40 && kept < 0.4 * longest) segments = [];
    var body = segments.length
      ? h("div", { className: "prose diff-text" }, segments.map(function (s) {
          if (s.op === "insert") return h("ins", { testid: "diff-insert" }, s.text);
          if (s.op === "delete") return h("del", { testid: "diff-delete" }, s.text);
          return h("span", null, s.text);
        }))
      : h("div", { className: "prose diff-text" }, [
          d.before != null && d.before !== "" ? h("del", { testid: "diff-delete" }, fmtValue(d.before, d.field)) : null,
          d.before != null && d.before !== "" && d.after != null && d.after !== "" ? "\n" : null,
          d.after != null && d.after !== "" ? h("ins", { testid: "diff-insert" }, fmtValue(d.after, d.field)) : null
        ]);
    return h("div", { className: "diff-field", testid: "diff-field", data: { field: d.field } }, [
      h("h4", null, FIELD_LABEL[d.field] || d.field), body
    ]);
  }));
}

function fmtValue(value, fieldName) {
  if (fieldName === "status" && STATUS_LABEL[value]) return STATUS_LABEL[value];
  if (Array.isArray(value)) return value.join("\n");
  if (value && typeof value === "object") { try { return JSON.stringify(value); } catch (e) { return String(value); } }
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return when(value);
  return String(value);
}

export function hintsPanel(change, except) {
  var hints = (change.hints || []).filter(function (hint) { return hint.field !== except; });
  if (!hints.length) return h("span");
  return section("提示", "hints", h("ul", { className: "hints" }, hints.map(function (hint) {
    return h("li", { className: "hint " + (hint.level || "info"), testid: "change-hint", data: { field: hint.field, level: hint.level } }, [
      h("strong", null, (FIELD_LABEL[hint.field] || hint.field || "") + "："), hint.message
    ]);
  })));
}
