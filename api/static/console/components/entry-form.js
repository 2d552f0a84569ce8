// The entry form (a change's proposed entry), with the category list it offers.

import { state } from "../state.js";
import { CHARS_PER_SECOND, ENTRY_KEYS, KNOWN_REGIONS, REQUEST_TYPES } from "../config.js";
import { clear, field, h } from "../dom.js";
import { chatAnswer, fromLocalInput, toLocalInput } from "../format.js";
import { api, listOf } from "../api.js";
import { is } from "../auth.js";

export function fillCategories(datalist) {
  api("GET", "/v1/codes").then(function (data) {
    listOf(data, "categories").slice(0, 500).forEach(function (c) {
      if (c && c.code) datalist.appendChild(h("option", { value: c.code, label: c.code + " " + (c.name || "") }));
    });
  }, function () { /* the list is only a convenience */ });
}

export function entryForm(record, options) {
  var editable = options.editable;
  var isNew = options.isNew;
  var answerKey = record && record.chat_answer == null && record.answer != null ? "answer" : "chat_answer";
  var base = record || {};
  var inputs = {};
  var errors = {};
  function control(name, node) {
    inputs[name] = node;
    errors[name] = h("div", { className: "field-error", testid: "field-error", data: { field: name } });
    if (!editable) node.disabled = true;
    return node;
  }
  var idInput = control("id", h("input", { testid: "field-id", value: base.id || "", placeholder: "如 ev-street-light-nanjing", spellcheck: "false", readOnly: !isNew }));
  if (!isNew) idInput.readOnly = true;
  var question = control("question", h("input", { testid: "field-question", value: base.question || "", maxlength: "200" }));
  var samples = control("samples", h("textarea", { testid: "field-samples", rows: "5", value: (base.samples || []).join("\n"), placeholder: "一行一个市民的问法" }));
  var chat = control("chat_answer", h("textarea", { testid: "field-chat-answer", rows: "8", value: chatAnswer(base) }));
  var voice = control("voice_answer", h("textarea", { testid: "field-voice-answer", rows: "5", value: base.voice_answer || "", placeholder: "电话里念给市民听的答复；空着则念文字答复" }));
  var voiceCount = h("div", { className: "counter", testid: "voice-count", "aria-live": "polite" });
  var voiceHints = h("ul", { className: "hints", testid: "voice-hints" });
  var category = control("category", h("input", { testid: "field-category", value: base.category || "", list: "category-list", placeholder: "如 GG0101" }));
  var requestType = control("request_type", h("select", { testid: "field-request-type" }, REQUEST_TYPES.map(function (t) { return h("option", { value: t }, t); })));
  requestType.value = base.request_type || "咨询";
  var region = control("region", h("input", { testid: "field-region", value: base.region != null ? base.region : ((state.account && state.account.region) || "江苏省"), list: "form-region-list" }));
  var effective = control("effective_from", h("input", { type: "datetime-local", testid: "field-effective-from", value: toLocalInput(base.effective_from) }));
  var expires = control("expires_at", h("input", { type: "datetime-local", testid: "field-expires-at", value: toLocalInput(base.expires_at) }));
  var categories = h("datalist", { id: "category-list" });
  fillCategories(categories);

  function countVoice() {
    var text = voice.value.trim() || chat.value.trim();
    var n = text.replace(/\s+/g, "").length;
    var seconds = Math.round(n / CHARS_PER_SECOND);
    voiceCount.textContent = n + " 字 · 约 " + (seconds >= 60 ? Math.floor(seconds / 60) + " 分 " + (seconds % 60) + " 秒" : seconds + " 秒") +
      (voice.value.trim() ? "" : "（按文字答复计）");
    voiceCount.classList.toggle("long", seconds > 60);
  }
  voice.addEventListener("input", countVoice);
  chat.addEventListener("input", countVoice);
  countVoice();

  var node = h("form", { className: "entry-form", testid: "entry-form", novalidate: true, on: { submit: function (e) { e.preventDefault(); } } }, [
    h("div", { className: "grid-2" }, [
      field("条目编号", [idInput, errors.id]),
      field("适用地区", [region, errors.region])
    ]),
    field("标准问题", [question, errors.question]),
    field("相似问法（一行一个）", [samples, errors.samples, options.conflicts || null]),
    field("文字答复（在线、微信）", [chat, errors.chat_answer]),
    field("语音答复（电话）", [voice, voiceCount, voiceHints, errors.voice_answer]),
    h("div", { className: "grid-3" }, [
      field("分类", [category, errors.category]),
      field("诉求类型", [requestType, errors.request_type]),
      h("div")
    ]),
    h("div", { className: "grid-2" }, [
      field("生效时间（北京时间，空着为立即）", [effective, errors.effective_from]),
      field("失效时间（北京时间，空着为长期）", [expires, errors.expires_at])
    ]),
    h("datalist", { id: "form-region-list" }, KNOWN_REGIONS.map(function (r) { return h("option", { value: r }); })),
    categories
  ]);

  function read() {
    var out = {};
    Object.keys(base).forEach(function (k) { if (ENTRY_KEYS.indexOf(k) >= 0) out[k] = base[k]; });
    out.id = idInput.value.trim();
    if (!out.id) delete out.id;  // a new entry without one gets an id made from its question
    out.question = question.value.trim();
    out.samples = samples.value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
    out[answerKey] = chat.value.replace(/\s+$/, "");
    delete out[answerKey === "chat_answer" ? "answer" : "chat_answer"];
    out.voice_answer = voice.value.replace(/\s+$/, "");
    out.category = category.value.trim() || null;
    out.request_type = requestType.value;
    out.region = region.value.trim();
    out.effective_from = fromLocalInput(effective.value);
    out.expires_at = fromLocalInput(expires.value);
    return out;
  }

  // What the editor typed, to put back after a reload or an expired sign-in.
  function values() {
    return { id: idInput.value, question: question.value, samples: samples.value, chat_answer: chat.value,
             voice_answer: voice.value, category: category.value, request_type: requestType.value,
             region: region.value, effective_from: effective.value, expires_at: expires.value };
  }
  function restore(v) {
    if (isNew) idInput.value = v.id || "";
    question.value = v.question || ""; samples.value = v.samples || ""; chat.value = v.chat_answer || "";
    voice.value = v.voice_answer || ""; category.value = v.category || ""; requestType.value = v.request_type || "咨询";
    region.value = v.region || ""; effective.value = v.effective_from || ""; expires.value = v.expires_at || "";
    countVoice();
  }
  function showHints(hints) {
    clear(voiceHints);
    (hints || []).filter(function (hint) { return hint.field === "voice_answer"; }).forEach(function (hint) {
      voiceHints.appendChild(h("li", { className: "hint " + (hint.level || "info"), testid: "hint", data: { field: hint.field, level: hint.level } }, hint.message));
    });
  }
  // Attaches a validation failure's details to the fields they name; returns whether any matched.
  function showFieldErrors(problem) {
    Object.keys(errors).forEach(function (k) { clear(errors[k]); });
    var matched = false;
    var details = Array.isArray(problem && problem.details) ? problem.details : [];
    details.forEach(function (d) {
      var where = String((d && (d.where || d.field)) || "");
      var name = where.split(".").pop();
      if (name === "answer") name = "chat_answer";
      if (/^\d+$/.test(name)) name = where.split(".").slice(-2, -1)[0];
      if (errors[name]) {
        errors[name].appendChild(h("p", null, (d.problem || d.message || "")));
        matched = true;
      }
    });
    return matched;
  }
  return { node: node, read: read, values: values, restore: restore, showHints: showHints, showFieldErrors: showFieldErrors,
           inputs: inputs, question: question };
}
