// Telling the editor what went wrong (next to what caused it) or what just happened (the flash line).

import { flash } from "./state.js";
import { EXPIRED_MESSAGE } from "./config.js";
import { clear, h } from "./dom.js";
import { failure } from "./api.js";

function headline(problem) {
  if (problem.status === 0) return "网络连接失败，请检查网络后重试。";
  if (problem.code === "bad_credentials") return "用户名或密码不正确。";
  if (problem.code === "locked_out") return "登录失败次数太多，这个用户名已暂时锁定，请稍后再试。";
  if (problem.code === "stale") return "这个条目在草稿之后已被别人修改并发布，不能按原样发布；请退回作者核对。";
  if (problem.code === "own_change") return "不能发布自己写的修改，须由另一位审核员发布。";
  if (problem.status === 401) return EXPIRED_MESSAGE;
  if (problem.code === "outside_region") return "这条内容不在您账号负责的地区范围内。";
  if (problem.code === "change_open") return "这个条目已有一份未发布的修改单。";
  if (problem.status === 403) return "您的账号没有这项操作的权限。";
  if (problem.status === 404) return "没有找到，可能已被删除或编号有误。";
  if (problem.status === 409) return "操作与当前状态冲突，请刷新后再试。";
  if (problem.status === 413) return "内容太大，请精简后再试。";
  if (problem.status === 422 || problem.status === 400) return "内容不符合要求，请按提示修改后再试。";
  if (problem.status === 429) return "操作太频繁，请稍等片刻再试。";
  if (problem.status >= 500) return "服务暂时出错，请稍后再试；您填写的内容仍保留在页面上。";
  return "操作没有成功。";
}

export function describeDetail(d) {
  if (d == null) return "";
  if (typeof d !== "object") return String(d);
  var where = [d.entry_id, d.where || d.field || (d.row != null ? "第 " + d.row + " 行" : "") || (d.line != null ? "第 " + d.line + " 行" : "")]
    .filter(Boolean).join(" · ");
  var what = d.problem || d.message || d.msg || "";
  if (!what) {
    try { what = JSON.stringify(d); } catch (e) { what = String(d); }
  }
  return (where ? where + "：" : "") + what;
}

// Shows a failure in `slot`, next to what caused it; returns the slot.
export function showError(slot, problem) {
  clear(slot);
  if (!problem) return slot;
  if (!problem.failed) problem = failure(500, { code: "script_error", message: String(problem && problem.message || problem) });
  var box = h("div", { className: "error", role: "alert", testid: "error", data: { code: problem.code, status: problem.status } }, [
    h("p", { className: "error-title", testid: "error-title" }, headline(problem)),
    h("p", { className: "error-message", testid: "error-message" }, problem.message)
  ]);
  var details = Array.isArray(problem.details) ? problem.details : (problem.details ? [problem.details] : []);
  if (details.length) {
    box.appendChild(h("ul", { className: "error-details" }, details.slice(0, 20).map(function (d) {
      return h("li", null, describeDetail(d));
    })));
  }
  if (problem.status) box.appendChild(h("p", { className: "error-code" }, "错误代码：" + problem.code + "（HTTP " + problem.status + "）"));
  slot.appendChild(box);
  return slot;
}

export function showFlash(text, kind) {
  flash.textContent = text;
  flash.className = "flash " + (kind || "ok");
  flash.hidden = !text;
}
