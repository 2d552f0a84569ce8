// Unsaved edits survive a failed save, an expired session, a reload (sessionStorage, per user).

import { state } from "./state.js";
import { STASH_PREFIX } from "./config.js";
import { button, h } from "./dom.js";
import { route } from "./router.js";

function stashKey(key) { return STASH_PREFIX + (state.account ? state.account.username : "") + "." + key; }

export function stash(key, value) {
  try {
    if (value == null) window.sessionStorage.removeItem(stashKey(key));
    else window.sessionStorage.setItem(stashKey(key), JSON.stringify(value));
  } catch (e) { /* private mode: the form itself still holds it */ }
}

function unstash(key) {
  try {
    var raw = window.sessionStorage.getItem(stashKey(key));
    return raw ? JSON.parse(raw) : null;
  } catch (e) { return null; }
}

export function forgetUnsaved(all) {
  if (!all) return;
  try {
    for (var i = window.sessionStorage.length - 1; i >= 0; i--) {
      var key = window.sessionStorage.key(i);
      if (key && key.indexOf(STASH_PREFIX) === 0) window.sessionStorage.removeItem(key);
    }
  } catch (e) { /* nothing stored */ }
}

// Puts back what was typed and not saved; returns a notice node (or an empty span).
export function stashRestore(key, form, node) {
  var unsaved = unstash(key);
  var holder = h("span", { className: "save-status", testid: "save-status" });
  if (!unsaved) return holder;
  form.restore(unsaved);
  var notice = h("p", { className: "notice warn", testid: "restored-unsaved" }, [
    "已恢复您上次没有保存的内容。 ",
    button("放弃这些内容", "discard-unsaved", function () { stash(key, null); route(); }, "link")
  ]);
  node.appendChild(notice);
  return holder;
}
