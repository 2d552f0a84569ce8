// #/accounts: accounts for admins: create, deactivate, reset passwords, API tokens.

import { state } from "../state.js";
import { KNOWN_REGIONS, ROLE_LABEL } from "../config.js";
import { append, button, clear, errorSlot, field, h, pill, section } from "../dom.js";
import { when } from "../format.js";
import { api, listOf } from "../api.js";
import { showError, showFlash } from "../notices.js";
import { regionLabel } from "../auth.js";
import { page } from "../router.js";

export function renderAccounts() {
  var node = page("账号管理", "accounts-page");
  var tokenBox = h("div", { testid: "token-holder" });
  var listHolder = h("div");
  var listSlot = errorSlot();
  node.appendChild(tokenBox);
  node.appendChild(createAccountForm(function (account) {
    showFlash("已开通账号 " + account.username + "。");
    loadList();
  }));
  node.appendChild(section("全部账号", "accounts-list", [listSlot, listHolder]));

  function loadList() {
    api("GET", "/v1/accounts").then(function (data) {
      if (!node.live()) return;
      clear(listHolder).appendChild(accountsTable(listOf(data, "accounts"), listSlot, tokenBox, loadList));
      node.done();
    }, function (problem) { showError(listSlot, problem); node.done(); });
  }
  loadList();
}

function createAccountForm(created) {
  var slot = errorSlot();
  var username = h("input", { testid: "new-username", autocomplete: "off", spellcheck: "false", placeholder: "字母、数字" });
  var displayName = h("input", { testid: "new-display-name", autocomplete: "off", placeholder: "如 张三（扬州）" });
  var roleSelect = h("select", { testid: "new-role" }, ["editor", "reviewer", "seat", "admin"].map(function (r) { return h("option", { value: r }, ROLE_LABEL[r]); }));
  var region = h("input", { testid: "new-region", list: "account-region-list", placeholder: "空着为全部地区" });
  var wider = h("input", { type: "checkbox", testid: "new-may-edit-wider" });
  var password = h("input", { type: "password", testid: "new-password", autocomplete: "new-password", placeholder: "至少 10 个字符" });
  var submit = h("button", { type: "submit", className: "primary", testid: "create-account" }, "开通账号");
  var form = h("form", { className: "panel", testid: "account-form", on: { submit: function (event) {
    event.preventDefault();
    submit.disabled = true;
    clear(slot);
    var body = { username: username.value.trim(), display_name: displayName.value.trim() || username.value.trim(), role: roleSelect.value,
                 region: region.value.trim(), may_edit_wider: wider.checked, password: password.value };
    api("POST", "/v1/accounts", body).then(function (result) {
      var account = (result && result.account) || result || body;
      username.value = ""; displayName.value = ""; password.value = ""; region.value = ""; wider.checked = false;
      created(account);
    }, function (problem) { showError(slot, problem); }).then(function () { submit.disabled = false; });
  } } }, [
    h("h3", null, "开通账号"),
    h("div", { className: "grid-3" }, [field("用户名", username), field("显示名", displayName), field("角色", roleSelect)]),
    h("div", { className: "grid-3" }, [field("地区", region), h("label", { className: "check" }, [wider, " 也可修改全省（更大范围）的条目"]), field("初始密码", password)]),
    h("datalist", { id: "account-region-list" }, KNOWN_REGIONS.map(function (r) { return h("option", { value: r }); })),
    h("div", { className: "actions" }, [submit]), slot
  ]);
  return form;
}

function accountsTable(accounts, slot, tokenBox, reload) {
  return h("table", { className: "table", testid: "accounts-table" }, [
    h("thead", null, h("tr", null, ["用户名", "显示名", "角色", "地区", "状态", "操作"].map(function (t) { return h("th", null, t); }))),
    h("tbody", null, accounts.map(function (a) {
      var actions = h("div", { className: "row-actions" });
      var active = a.active !== false;
      var self = a.username === state.account.username;
      var toggle = button(active ? "停用" : "启用", "account-toggle-active", function () {
        toggle.disabled = true;
        clear(slot);
        api("PATCH", "/v1/accounts/" + encodeURIComponent(a.username), { active: !active }).then(function () {
          showFlash((active ? "已停用 " : "已启用 ") + a.username + "。");
          reload();
        }, function (problem) { showError(slot, problem); toggle.disabled = false; });
      }, active ? "warn" : "secondary");
      if (self) toggle.disabled = true;
      var resetBox = h("span", { className: "inline-form", hidden: true });
      var newPassword = h("input", { type: "password", testid: "reset-password", autocomplete: "new-password", placeholder: "新密码" });
      var resetConfirm = button("确定", "reset-confirm", function () {
        resetConfirm.disabled = true;
        clear(slot);
        api("PATCH", "/v1/accounts/" + encodeURIComponent(a.username), { password: newPassword.value }).then(function () {
          showFlash("已重置 " + a.username + " 的密码；原有登录已失效。");
          resetBox.hidden = true;
          newPassword.value = "";
          resetConfirm.disabled = false;
        }, function (problem) { showError(slot, problem); resetConfirm.disabled = false; });
      }, "primary");
      append(resetBox, [newPassword, resetConfirm]);
      var reset = button("重置密码", "account-reset", function () { resetBox.hidden = !resetBox.hidden; if (!resetBox.hidden) newPassword.focus(); }, "ghost");
      var token = button("生成 API 令牌", "account-token", function () {
        token.disabled = true;
        clear(slot);
        api("POST", "/v1/accounts/" + encodeURIComponent(a.username) + "/tokens", {}).then(function (result) {
          var value = result && (result.token || result.value);
          clear(tokenBox).appendChild(h("div", { className: "notice warn token", role: "alert", testid: "token-box" }, [
            h("p", null, "账号 " + a.username + " 的 API 令牌（只显示这一次，请立即复制保存" + (result && result.expires_at ? "；" + when(result.expires_at) + " 到期" : "") + "）："),
            h("input", { className: "mono token-value", testid: "token-value", readOnly: true, value: value || "", on: { focus: function (e) { e.target.select(); } } }),
            button("我已保存，关闭", "token-close", function () { clear(tokenBox); }, "ghost")
          ]));
          token.disabled = false;
        }, function (problem) { showError(slot, problem); token.disabled = false; });
      }, "ghost");
      append(actions, [toggle, reset, token, resetBox]);
      return h("tr", { testid: "account-row", data: { username: a.username, role: a.role, active: active ? "true" : "false" } }, [
        h("td", { className: "mono" }, a.username),
        h("td", null, a.display_name || ""),
        h("td", null, pill(ROLE_LABEL[a.role] || a.role, "role", "account-row-role")),
        h("td", null, regionLabel(a.region) + (a.region && a.may_edit_wider ? "（可改全省）" : "")),
        h("td", null, active ? pill("正常", "status-published") : pill("已停用", "status-retired")),
        h("td", null, actions)
      ]);
    }))
  ]);
}
