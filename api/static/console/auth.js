// Who is signed in: the role checks, the sign-in overlay, the account bar and the navigation.

import { signIn, state, view } from "./state.js";
import { EXPIRED_MESSAGE, NAV, ROLE_LABEL } from "./config.js";
import { clear, h } from "./dom.js";
import { api, failure } from "./api.js";
import { showError, showFlash } from "./notices.js";
import { forgetUnsaved } from "./stash.js";
import { route } from "./router.js";

function role() { return state.account ? state.account.role : null; }

export function is() {
  var r = role();
  for (var i = 0; i < arguments.length; i++) if (arguments[i] === r) return true;
  return false;
}

function regionCovers(scope, region) {
  if (!scope) return true;
  if (!region) return scope.indexOf("/") < 0;
  return region === scope || region.indexOf(scope + "/") === 0;
}

// Mirrors accounts.roles.Account.may_change; the server decides, this only avoids offering what it refuses.
export function mayChange(region) {
  var account = state.account;
  if (!account) return false;
  if (!account.region) return true;
  if (region && regionCovers(account.region, region)) return true;
  if (regionCovers(region || "", account.region)) return !!account.may_edit_wider;
  return false;
}

export function regionLabel(region) { return region || "全部地区"; }

export function outsideRegionNote(region) {
  return h("p", { className: "notice warn", testid: "outside-region" },
           "该条目适用于「" + regionLabel(region) + "」，您的账号限于「" + regionLabel(state.account.region) +
           "」" + (state.account.may_edit_wider ? "" : "（不含更大范围的条目）") + "，不能修改。");
}

export function showSignIn(message) {
  document.getElementById("sign-in-message").textContent = message || "";
  document.getElementById("sign-in-message").hidden = !message;
  clear(document.getElementById("sign-in-error"));
  signIn.hidden = false;
  view.setAttribute("aria-hidden", "true");
  var name = document.getElementById("username");
  if (state.account && !name.value) name.value = state.account.username;
  (name.value ? document.getElementById("password") : name).focus();
}

export function sessionExpired() {
  if (signIn.hidden) showSignIn(EXPIRED_MESSAGE);
}

export function signedIn(data) {
  var previous = state.account;
  state.account = data.account;
  state.expiresAt = data.expires_at || null;
  signIn.hidden = true;
  view.removeAttribute("aria-hidden");
  document.getElementById("password").value = "";
  renderAccount();
  document.dispatchEvent(new CustomEvent("console:signed-in"));  // for what the navigation shows (pages/alerts.js)
  // Same person again (the session had expired): the page under the form is still theirs, as it was.
  if (!previous || previous.username !== state.account.username || previous.role !== state.account.role) {
    forgetUnsaved(previous && previous.username !== state.account.username);
    route();
  } else {
    // A page whose loading the expired session interrupted is loaded again.
    var current = view.firstChild;
    if (!current || current.hasAttribute("data-loading")) route();
  }
}

function renderAccount() {
  var account = state.account;
  document.getElementById("top").hidden = !account;
  if (!account) return;
  document.getElementById("who-name").textContent = account.display_name && account.display_name !== account.username
    ? account.display_name + "（" + account.username + "）" : account.username;
  var roleNode = document.getElementById("who-role");
  roleNode.textContent = ROLE_LABEL[account.role] || account.role;
  roleNode.setAttribute("data-role", account.role);
  document.getElementById("who-region").textContent = regionLabel(account.region) +
    (account.region && account.may_edit_wider ? "（可改全省条目）" : "");
  var nav = clear(document.getElementById("nav"));
  NAV.forEach(function (item) {
    if (item.roles.indexOf(account.role) < 0) return;
    nav.appendChild(h("a", { href: "#/" + item.route, testid: "nav-" + item.route, data: { route: item.route } }, item.label));
  });
}

export function submitSignIn(event) {
  event.preventDefault();
  var username = document.getElementById("username").value.trim();
  var password = document.getElementById("password").value;
  var slot = document.getElementById("sign-in-error");
  clear(slot);
  if (!username || !password) {
    showError(slot, failure(422, { code: "missing", message: "请输入用户名和密码。" }));
    return;
  }
  var submit = document.getElementById("sign-in-submit");
  submit.disabled = true;
  api("POST", "/v1/auth/login", { username: username, password: password }, { signingIn: true })
    .then(signedIn, function (problem) {
      showError(slot, problem);
      document.getElementById("password").select();
    })
    .then(function () { submit.disabled = false; });
}

export function signOut() {
  api("POST", "/v1/auth/logout", undefined, { signingIn: true }).catch(function () { return null; }).then(function () {
    forgetUnsaved(true);
    state.account = null;
    renderAccount();
    clear(view);
    showFlash("");
    document.getElementById("username").value = "";
    showSignIn("已退出登录。");
  });
}
