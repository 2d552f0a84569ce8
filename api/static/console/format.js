// Times (stored with their zone, shown and entered in Beijing time), badges and small readers of API values.

import { BEIJING_MS, KIND_LABEL } from "./config.js";
import { pill } from "./dom.js";

function pad(n) { return (n < 10 ? "0" : "") + n; }

function beijingParts(iso) {
  var t = Date.parse(iso);
  if (isNaN(t)) return null;
  var d = new Date(t + BEIJING_MS);
  return { date: d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()),
           time: pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) };
}

export function when(iso) {
  if (!iso) return "";
  var p = beijingParts(iso);
  return p ? p.date + " " + p.time : String(iso);
}

export function toLocalInput(iso) {
  if (!iso) return "";
  var p = beijingParts(iso);
  return p ? p.date + "T" + p.time : "";
}

export function fromLocalInput(value) {
  if (!value) return null;
  return (value.length === 16 ? value + ":00" : value) + "+08:00";
}

export function isoIn(ms) {
  return new Date(Date.now() + ms).toISOString();
}

function expiryInfo(entry) {
  var now = Date.now();
  var ends = entry.expires_at ? Date.parse(entry.expires_at) : NaN;
  var starts = entry.effective_from ? Date.parse(entry.effective_from) : NaN;
  if (!isNaN(ends) && ends <= now) return { text: "已过期", kind: "expired" };
  if (!isNaN(ends) && ends - now <= 24 * 3600e3) return { text: "24小时内到期", kind: "expiring-24h" };
  if (!isNaN(ends) && ends - now <= 7 * 24 * 3600e3) return { text: "7天内到期", kind: "expiring-7d" };
  if (!isNaN(starts) && starts > now) return { text: "未生效（" + when(entry.effective_from) + " 起）", kind: "pending" };
  if (!isNaN(ends)) return { text: "至 " + when(entry.expires_at), kind: "dated" };
  return { text: "长期有效", kind: "none" };
}

export function expiryPill(entry) {
  var info = expiryInfo(entry);
  return pill(info.text, "expiry-" + info.kind, "expiry-badge", { expiry: info.kind });
}

export function chatAnswer(entry) {
  if (!entry) return "";
  return entry.chat_answer != null ? entry.chat_answer : (entry.answer != null ? entry.answer : "");
}

export function authorOf(value) {
  if (value == null) return "";
  if (typeof value === "object") return value.username || value.display_name || "";
  return String(value);
}

export function idOf(value) {
  if (value == null) return null;
  if (typeof value === "object") return value.id != null ? value.id : null;
  return value;
}

export function changeTitle(change) {
  var entry = change.entry || {};
  return (KIND_LABEL[change.kind] || change.kind) + "：" + (entry.question || change.entry_id || "");
}
