// The editors' console: one page, hash routes, every datum from the JSON API.
// Nothing from the server is ever parsed as HTML: every text goes in through textContent.
(function () {
  "use strict";

  var PAGE_SIZE = 50;
  var CHARS_PER_SECOND = 3;          // how fast a synthesised voice reads Chinese, roughly
  var BEIJING_MS = 8 * 3600 * 1000;   // the console shows and takes times in Beijing time (UTC+8)
  var STASH_PREFIX = "frontdoor.console.unsaved.";
  var EXPIRED_MESSAGE = "登录已过期，请重新登录";

  var ROLE_LABEL = { editor: "编辑", reviewer: "审核员", seat: "坐席", admin: "管理员" };
  var STATUS_LABEL = { draft: "草稿", in_review: "审核中", published: "已发布", retired: "已停用",
                       scheduled: "已排期", withdrawn: "已撤回", has_draft: "有未发布修改", open: "待处理",
                       resolved: "已处理", dismissed: "已忽略" };
  var KIND_LABEL = { create: "新建", edit: "修改", retire: "停用" };
  var DECISION_LABEL = { answer: "直接答复", clarify: "追问确认", handoff: "转人工", redirect: "转紧急电话",
                         refuse: "不予答复" };
  var CHANNEL_LABEL = { chat: "在线", voice: "电话", wechat: "微信" };
  var REQUEST_TYPES = ["咨询", "求助", "投诉", "举报", "建议"];
  var FIELD_LABEL = { id: "条目编号", question: "标准问题", samples: "相似问法", chat_answer: "文字答复",
                      answer: "文字答复", voice_answer: "语音答复", category: "分类", request_type: "诉求类型",
                      region: "适用地区", variant_of: "替代的上级条目", effective_from: "生效时间",
                      expires_at: "失效时间", status: "状态", source: "来源" };
  var ACTION_LABEL = { "account.create": "开通账号", "account.update": "修改账号", "account.token": "生成令牌",
                       "auth.login": "登录", "auth.logout": "退出", "change.create": "新建修改单",
                       "change.save": "保存草稿", "change.submit": "提交审核", "change.return": "退回修改",
                       "change.withdraw": "撤回", "change.publish": "发布", "change.schedule": "定时发布",
                       "entry.rollback": "回滚", "import.create": "批量导入", "gap.new_entry": "由问题新建条目",
                       "gap.add_samples": "加入相似问法", "gap.dismiss": "忽略问题", "codes.import": "导入分类代码" };
  // What an entry JSON may hold (knowledge_base/io.py); anything else the API refuses.
  var ENTRY_KEYS = ["id", "question", "answer", "chat_answer", "samples", "category", "voice_answer", "request_type",
                    "region", "variant_of", "effective_from", "expires_at", "status", "version", "updated_by",
                    "updated_at", "source"];
  var KNOWN_REGIONS = ["江苏省", "江苏省/南京市", "江苏省/扬州市"];
  var NAV = [
    { route: "entries", label: "条目", roles: ["editor", "reviewer", "seat", "admin"] },
    { route: "changes", label: "修改单", roles: ["editor", "reviewer"] },
    { route: "review", label: "审核发布", roles: ["reviewer"] },
    { route: "gaps", label: "未解答问题", roles: ["editor", "reviewer"] },
    { route: "import", label: "批量导入", roles: ["editor"] },
    { route: "audit", label: "操作记录", roles: ["reviewer", "admin"] },
    { route: "accounts", label: "账号管理", roles: ["admin"] }
  ];
  var HOME = { editor: "entries", reviewer: "review", seat: "entries", admin: "accounts" };

  var state = { account: null, expiresAt: null, renderId: 0 };
  var view, flash, signIn;

  // ---- DOM ----------------------------------------------------------------------------------------
  var PROPERTIES = { value: 1, checked: 1, disabled: 1, hidden: 1, selected: 1, readOnly: 1, multiple: 1 };

  function append(node, children) {
    if (children == null || children === false) return node;
    if (!Array.isArray(children)) children = [children];
    children.forEach(function (child) {
      if (child == null || child === false) return;
      if (Array.isArray(child)) append(node, child);
      else if (typeof child === "object") node.appendChild(child);
      else node.appendChild(document.createTextNode(String(child)));
    });
    return node;
  }

  // h("button", {testid: "save", on: {click: f}}, ["保存"]): children first, so a select's value sticks.
  function h(tag, props, children) {
    var node = document.createElement(tag);
    append(node, children);
    props = props || {};
    Object.keys(props).forEach(function (key) {
      var value = props[key];
      if (value == null || value === false) return;
      if (key === "text") node.textContent = String(value);
      else if (key === "className") node.className = value;
      else if (key === "testid") node.setAttribute("data-testid", value);
      else if (key === "on") Object.keys(value).forEach(function (name) { node.addEventListener(name, value[name]); });
      else if (key === "data") Object.keys(value).forEach(function (name) {
        if (value[name] != null) node.setAttribute("data-" + name, String(value[name]));
      });
      else if (PROPERTIES[key]) node[key] = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function button(label, testid, onClick, className) {
    return h("button", { type: "button", testid: testid, className: className || null, on: { click: onClick } }, label);
  }

  function link(label, hash, testid) {
    return h("a", { href: hash, testid: testid || null }, label);
  }

  function pill(text, kind, testid, data) {
    return h("span", { className: "pill " + (kind || ""), testid: testid || null, data: data || null }, text);
  }

  function statusPill(status, testid) {
    return pill(STATUS_LABEL[status] || status || "—", "status-" + status, testid || "status-badge", { status: status });
  }

  function section(title, testid, children) {
    return h("section", { className: "panel", testid: testid || null }, [h("h3", null, title), children]);
  }

  function muted(text, testid) {
    return h("p", { className: "muted", testid: testid || null }, text);
  }

  function field(label, control, hint) {
    return h("label", { className: "field" }, [h("span", { className: "label" }, label), control, hint || null]);
  }

  function errorSlot(testid) {
    return h("div", { className: "error-slot", "aria-live": "polite", testid: testid || null });
  }

  // ---- times: stored with their zone, shown and entered in Beijing time ------------------------------
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function beijingParts(iso) {
    var t = Date.parse(iso);
    if (isNaN(t)) return null;
    var d = new Date(t + BEIJING_MS);
    return { date: d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()),
             time: pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) };
  }

  function when(iso) {
    if (!iso) return "";
    var p = beijingParts(iso);
    return p ? p.date + " " + p.time : String(iso);
  }

  function toLocalInput(iso) {
    if (!iso) return "";
    var p = beijingParts(iso);
    return p ? p.date + "T" + p.time : "";
  }

  function fromLocalInput(value) {
    if (!value) return null;
    return (value.length === 16 ? value + ":00" : value) + "+08:00";
  }

  function isoIn(ms) {
    return new Date(Date.now() + ms).toISOString();
  }

  // ---- the API ---------------------------------------------------------------------------------------
  function failure(status, error) {
    error = error || {};
    return { failed: true, status: status, code: error.code || (status ? "http_error" : "network"),
             message: error.message || (status ? "HTTP " + status : "网络连接失败，请检查网络后重试。"),
             details: error.details || null, error: error };
  }

  // Resolves with the JSON body (null for 204); rejects with a `failure`. A 401 asks for a new sign-in
  // over the page, so that nothing on it is lost.
  function api(method, path, body, options) {
    options = options || {};
    var headers = { "Accept": "application/json" };
    var payload;
    if (options.raw != null) {
      payload = options.raw;
      headers["Content-Type"] = "application/octet-stream";
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    Object.keys(options.headers || {}).forEach(function (k) { headers[k] = options.headers[k]; });
    return fetch(path, { method: method, headers: headers, body: payload, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 204) return null;
        return response.json().catch(function () { return null; }).then(function (data) {
          if (response.ok) return data;
          var problem = failure(response.status, data && data.error);
          if (response.status === 401 && !options.signingIn) sessionExpired();
          throw problem;
        });
      }, function () {
        throw failure(0, null);
      });
  }

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (key) {
      var value = params[key];
      if (value == null || value === "") return;
      parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(value));
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  function listOf(data, key) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data[key])) return data[key];
    if (data && Array.isArray(data.items)) return data.items;
    return [];
  }

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

  function describeDetail(d) {
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
  function showError(slot, problem) {
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

  function showFlash(text, kind) {
    flash.textContent = text;
    flash.className = "flash " + (kind || "ok");
    flash.hidden = !text;
  }

  // ---- who is signed in ------------------------------------------------------------------------------
  function role() { return state.account ? state.account.role : null; }
  function is() {
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
  function mayChange(region) {
    var account = state.account;
    if (!account) return false;
    if (!account.region) return true;
    if (region && regionCovers(account.region, region)) return true;
    if (regionCovers(region || "", account.region)) return !!account.may_edit_wider;
    return false;
  }

  function regionLabel(region) { return region || "全部地区"; }

  function outsideRegionNote(region) {
    return h("p", { className: "notice warn", testid: "outside-region" },
             "该条目适用于「" + regionLabel(region) + "」，您的账号限于「" + regionLabel(state.account.region) +
             "」" + (state.account.may_edit_wider ? "" : "（不含更大范围的条目）") + "，不能修改。");
  }

  function showSignIn(message) {
    document.getElementById("sign-in-message").textContent = message || "";
    document.getElementById("sign-in-message").hidden = !message;
    clear(document.getElementById("sign-in-error"));
    signIn.hidden = false;
    view.setAttribute("aria-hidden", "true");
    var name = document.getElementById("username");
    if (state.account && !name.value) name.value = state.account.username;
    (name.value ? document.getElementById("password") : name).focus();
  }

  function sessionExpired() {
    if (signIn.hidden) showSignIn(EXPIRED_MESSAGE);
  }

  function signedIn(data) {
    var previous = state.account;
    state.account = data.account;
    state.expiresAt = data.expires_at || null;
    signIn.hidden = true;
    view.removeAttribute("aria-hidden");
    document.getElementById("password").value = "";
    renderAccount();
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

  function submitSignIn(event) {
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

  function signOut() {
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

  // ---- unsaved edits survive a failed save, an expired session, a reload --------------------------------
  function stashKey(key) { return STASH_PREFIX + (state.account ? state.account.username : "") + "." + key; }

  function stash(key, value) {
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

  function forgetUnsaved(all) {
    if (!all) return;
    try {
      for (var i = window.sessionStorage.length - 1; i >= 0; i--) {
        var key = window.sessionStorage.key(i);
        if (key && key.indexOf(STASH_PREFIX) === 0) window.sessionStorage.removeItem(key);
      }
    } catch (e) { /* nothing stored */ }
  }

  // ---- routing ---------------------------------------------------------------------------------------
  function parseHash() {
    var hash = window.location.hash.replace(/^#\/?/, "");
    var at = hash.indexOf("?");
    var path = at >= 0 ? hash.slice(0, at) : hash;
    var params = {};
    if (at >= 0) {
      hash.slice(at + 1).split("&").forEach(function (pair) {
        if (!pair) return;
        var eq = pair.indexOf("=");
        var key = decodeURIComponent(eq >= 0 ? pair.slice(0, eq) : pair);
        params[key] = eq >= 0 ? decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, " ")) : "";
      });
    }
    var parts = path.split("/").filter(Boolean).map(function (p) {
      try { return decodeURIComponent(p); } catch (e) { return p; }
    });
    return { parts: parts, params: params };
  }

  function go(hash) {
    if (window.location.hash === hash) route();
    else window.location.hash = hash;
  }

  var ROUTES = {
    entries: { roles: ["editor", "reviewer", "seat", "admin"], render: function (r) { return renderEntries(r.params); } },
    entry: { roles: ["editor", "reviewer", "seat", "admin"], render: function (r) { return renderEntry(r.parts[1]); } },
    "new": { roles: ["editor"], render: function (r) { return renderNewEntry(r.params); } },
    change: { roles: ["editor", "reviewer"], render: function (r) { return renderChange(r.parts[1]); } },
    changes: { roles: ["editor", "reviewer"], render: function (r) { return renderChanges(r.params); } },
    review: { roles: ["reviewer"], render: function () { return renderReview(); } },
    gaps: { roles: ["editor", "reviewer"], render: function () { return renderGaps(); } },
    "import": { roles: ["editor"], render: function () { return renderImport(); } },
    audit: { roles: ["reviewer", "admin"], render: function (r) { return renderAudit(r.params); } },
    accounts: { roles: ["admin"], render: function () { return renderAccounts(); } }
  };

  // Each render gets a fresh page node; a render that finishes after the editor moved on is dropped.
  function page(title, testid) {
    var id = ++state.renderId;
    clear(view);
    var node = h("div", { className: "page", testid: testid, data: { loading: "true", hash: window.location.hash } });
    if (title) node.appendChild(h("h2", { className: "page-title" }, title));
    view.appendChild(node);
    node.live = function () { return id === state.renderId; };
    node.done = function () { node.removeAttribute("data-loading"); };
    return node;
  }

  function route() {
    if (!state.account) return;
    var r = parseHash();
    var name = r.parts[0] || HOME[state.account.role] || "entries";
    if (!r.parts[0] && window.location.hash !== "#/" + name) {
      window.location.replace("#/" + name);
      return;
    }
    var links = document.querySelectorAll("#nav a");
    for (var i = 0; i < links.length; i++) {
      links[i].classList.toggle("active", links[i].getAttribute("data-route") === name ||
        (name === "entry" || name === "new") && links[i].getAttribute("data-route") === "entries");
    }
    showFlash(state.pendingFlash || "", state.pendingFlashKind);
    state.pendingFlash = null;
    var target = ROUTES[name];
    if (!target) {
      var missing = page("找不到这个页面", "not-found");
      missing.appendChild(muted("地址有误。请从上方的菜单进入。"));
      missing.done();
      return;
    }
    if (target.roles.indexOf(state.account.role) < 0) {
      var denied = page("没有权限", "not-allowed");
      denied.appendChild(muted("您的账号（" + ROLE_LABEL[state.account.role] + "）不能使用这个页面。"));
      denied.done();
      return;
    }
    target.render(r);
  }

  function flashNext(text, kind) {
    state.pendingFlash = text;
    state.pendingFlashKind = kind;
  }

  function loadFailed(node, problem) {
    if (!node.live()) return;
    if (problem && problem.status === 401) return;  // the sign-in form is up; the page stays as it was
    var slot = errorSlot();
    node.appendChild(slot);
    showError(slot, problem);
    node.done();
  }

  // ---- badges ----------------------------------------------------------------------------------------
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

  function expiryPill(entry) {
    var info = expiryInfo(entry);
    return pill(info.text, "expiry-" + info.kind, "expiry-badge", { expiry: info.kind });
  }

  function chatAnswer(entry) {
    if (!entry) return "";
    return entry.chat_answer != null ? entry.chat_answer : (entry.answer != null ? entry.answer : "");
  }

  function authorOf(value) {
    if (value == null) return "";
    if (typeof value === "object") return value.username || value.display_name || "";
    return String(value);
  }

  function idOf(value) {
    if (value == null) return null;
    if (typeof value === "object") return value.id != null ? value.id : null;
    return value;
  }

  // ---- #/entries -------------------------------------------------------------------------------------
  var EXPIRY_FILTERS = { expired: 0, "24h": 24 * 3600e3, "7d": 7 * 24 * 3600e3 };

  function renderEntries(params) {
    var node = page("条目", "entries-page");
    var offset = Math.max(0, parseInt(params.offset || "0", 10) || 0);

    var text = h("input", { type: "search", testid: "filter-text", placeholder: "问题、相似问法、答复或编号", value: params.text || "" });
    var category = h("input", { testid: "filter-category", placeholder: "如 GG0101", value: params.category || "", list: "category-list" });
    var region = h("input", { testid: "filter-region", placeholder: "如 江苏省/南京市", value: params.region || "", list: "region-list" });
    var status = h("select", { testid: "filter-status", value: params.status || "" }, [
      h("option", { value: "" }, "全部状态"), h("option", { value: "published" }, "已发布"),
      h("option", { value: "has_draft" }, "有未发布修改"), h("option", { value: "draft" }, "草稿"),
      h("option", { value: "in_review" }, "审核中"), h("option", { value: "retired" }, "已停用")
    ]);
    var expiry = h("select", { testid: "filter-expiry", value: params.expiry || "" }, [
      h("option", { value: "" }, "不限到期"), h("option", { value: "expired" }, "已过期"),
      h("option", { value: "24h" }, "24小时内到期"), h("option", { value: "7d" }, "7天内到期")
    ]);
    var form = h("form", { className: "filters", testid: "entries-filters", on: { submit: function (event) {
      event.preventDefault();
      go("#/entries" + query({ text: text.value.trim(), category: category.value.trim(), region: region.value.trim(),
                               status: status.value, expiry: expiry.value }));
    } } }, [
      field("搜索", text), field("分类", category), field("地区", region), field("状态", status), field("到期", expiry),
      h("div", { className: "filter-actions" }, [
        h("button", { type: "submit", className: "primary", testid: "search" }, "查询"),
        button("清空", "clear-filters", function () { go("#/entries"); }, "ghost"),
        is("editor") ? button("新建条目", "new-entry", function () { go("#/new"); }, "secondary") : null
      ])
    ]);
    node.appendChild(form);
    node.appendChild(h("datalist", { id: "region-list" }, KNOWN_REGIONS.map(function (r) { return h("option", { value: r }); })));
    var categories = h("datalist", { id: "category-list" });
    node.appendChild(categories);
    fillCategories(categories);

    var results = h("div", { className: "results", testid: "entries-results" });
    node.appendChild(results);
    var request = { text: params.text, category: params.category, region: params.region, status: params.status,
                    limit: PAGE_SIZE, offset: offset };
    if (params.expiry && EXPIRY_FILTERS[params.expiry] != null) request.expires_before = isoIn(EXPIRY_FILTERS[params.expiry]);
    api("GET", "/v1/entries" + query(request)).then(function (data) {
      if (!node.live()) return;
      var entries = listOf(data, "entries");
      var total = data && !Array.isArray(data) && typeof data.total === "number" ? data.total : null;
      if (!entries.length) {
        results.appendChild(muted(offset ? "没有更多条目了。" : "没有符合条件的条目。", "entries-empty"));
      } else {
        results.appendChild(entriesTable(entries, params.status === "has_draft"));
      }
      results.appendChild(pager(params, offset, entries.length, total));
      node.done();
    }, function (problem) { loadFailed(node, problem); });
  }

  function fillCategories(datalist) {
    api("GET", "/v1/codes").then(function (data) {
      listOf(data, "categories").slice(0, 500).forEach(function (c) {
        if (c && c.code) datalist.appendChild(h("option", { value: c.code, label: c.code + " " + (c.name || "") }));
      });
    }, function () { /* the list is only a convenience */ });
  }

  function entriesTable(entries, allHaveDrafts) {
    var body = h("tbody", null, entries.map(function (entry) {
      return h("tr", { testid: "entry-row", data: { "entry-id": entry.id } }, [
        h("td", { className: "mono small" }, entry.id),
        h("td", null, [link(entry.question, "#/entry/" + encodeURIComponent(entry.id), "entry-link"),
                       allHaveDrafts || entry.has_draft ? pill("有未发布修改", "status-has_draft", "draft-badge") : null]),
        h("td", null, entry.category || ""),
        h("td", null, regionLabel(entry.region)),
        h("td", null, statusPill(entry.status)),
        h("td", null, expiryPill(entry)),
        h("td", { className: "num" }, entry.version != null ? "v" + entry.version : ""),
        h("td", { className: "small" }, [authorOf(entry.updated_by), h("br"), h("span", { className: "muted" }, when(entry.updated_at))])
      ]);
    }));
    return h("table", { className: "table", testid: "entries-table" }, [
      h("thead", null, h("tr", null, ["编号", "标准问题", "分类", "地区", "状态", "到期", "版本", "最后修改"].map(function (t) {
        return h("th", null, t);
      }))),
      body
    ]);
  }

  function pager(params, offset, shown, total) {
    var pageNo = Math.floor(offset / PAGE_SIZE) + 1;
    function to(newOffset) {
      var copy = {};
      Object.keys(params).forEach(function (k) { copy[k] = params[k]; });
      copy.offset = newOffset ? String(newOffset) : "";
      go("#/entries" + query(copy));
    }
    var hasMore = total != null ? offset + shown < total : shown >= PAGE_SIZE;
    return h("div", { className: "pager", testid: "pager" }, [
      h("button", { type: "button", testid: "page-prev", disabled: offset <= 0, on: { click: function () { to(Math.max(0, offset - PAGE_SIZE)); } } }, "上一页"),
      h("span", { testid: "page-number" }, "第 " + pageNo + " 页" + (total != null ? "，共 " + total + " 条" : "")),
      h("button", { type: "button", testid: "page-next", disabled: !hasMore, on: { click: function () { to(offset + PAGE_SIZE); } } }, "下一页")
    ]);
  }

  // ---- #/entry/{id} ----------------------------------------------------------------------------------
  function renderEntry(entryId) {
    var node = page(null, "entry-page");
    if (!entryId) { loadFailed(node, failure(404, { code: "entry_not_found", message: "没有条目编号。" })); return; }
    var path = "/v1/entries/" + encodeURIComponent(entryId);
    var openChanges = is("editor", "reviewer")
      ? api("GET", "/v1/changes" + query({ entry_id: entryId, limit: 50 })).then(function (data) {
          return listOf(data, "changes").filter(function (c) {
            return c.entry_id === entryId && ["draft", "in_review", "scheduled"].indexOf(c.status) >= 0;
          });
        }, function () { return []; })
      : Promise.resolve([]);
    Promise.all([api("GET", path), openChanges]).then(function (results) {
      if (!node.live()) return;
      var entry = results[0], changes = results[1];
      node.appendChild(entryHeader(entry));
      var actionsError = errorSlot();
      node.appendChild(entryActions(entry, changes, actionsError));
      node.appendChild(actionsError);
      var columns = h("div", { className: "columns" });
      var left = h("div", { className: "column" }, [entryDetails(entry)]);
      var right = h("div", { className: "column" });
      if (is("editor", "reviewer")) {
        var open = changes[0];
        right.appendChild(tryPanel({
          region: entry.region,
          entry: function () { return null; },
          changeId: function () { return open ? open.id : null; },
          note: open ? "“使用草稿后”一栏按修改单 #" + open.id + "（" + (STATUS_LABEL[open.status] || open.status) + "）计算。" : "这个条目没有未发布的修改；只显示现在的结果。"
        }));
      }
      if (is("editor", "reviewer", "admin")) {
        right.appendChild(trafficPanel(entry.id));
        left.appendChild(historyPanel(entry));
      }
      columns.appendChild(left);
      columns.appendChild(right);
      node.appendChild(columns);
      node.done();
    }, function (problem) { loadFailed(node, problem); });
  }

  function entryHeader(entry) {
    return h("div", { className: "entry-head" }, [
      h("p", { className: "crumbs" }, [link("条目", "#/entries", "crumb"), " / ", h("span", { className: "mono" }, entry.id)]),
      h("h2", { className: "page-title", testid: "entry-question" }, entry.question),
      h("div", { className: "badges" }, [statusPill(entry.status), expiryPill(entry),
        pill("第 " + entry.version + " 版", "", "entry-version"), pill(regionLabel(entry.region), "region", "entry-region")])
    ]);
  }

  function entryActions(entry, changes, slot) {
    var bar = h("div", { className: "actions", testid: "entry-actions" });
    changes.forEach(function (c) {
      bar.appendChild(h("p", { className: "notice", testid: "open-change" }, [
        "这个条目有一份" + (STATUS_LABEL[c.status] || c.status) + "的修改单 #" + c.id + "（" + authorOf(c.author) + "）。",
        link("打开修改单", "#/change/" + c.id, "open-change-link")
      ]));
    });
    if (is("editor")) {
      if (!mayChange(entry.region)) {
        bar.appendChild(outsideRegionNote(entry.region));
      } else {
        var edit = button(changes.length ? "继续编辑" : "编辑", "edit-entry", function () {
          edit.disabled = true;
          startChange({ entry_id: entry.id, kind: "edit" }, slot).then(function () { edit.disabled = false; });
        }, "primary");
        bar.appendChild(edit);
        if (entry.status !== "retired") {
          var retire = button("停用条目…", "retire-entry", function () {
            retire.disabled = true;
            startChange({ entry_id: entry.id, kind: "retire" }, slot).then(function () { retire.disabled = false; });
          }, "ghost");
          bar.appendChild(retire);
        }
      }
    }
    return bar;
  }

  // The id of the open change a 409 `change_open` names, wherever the API put it.
  function openChangeId(problem) {
    var e = problem.error || {};
    var candidates = [e.change_id, e.id];
    var details = Array.isArray(problem.details) ? problem.details : (problem.details ? [problem.details] : []);
    details.forEach(function (d) { if (d && typeof d === "object") candidates.push(d.change_id, d.id); });
    for (var i = 0; i < candidates.length; i++) if (candidates[i] != null && candidates[i] !== "") return candidates[i];
    var m = /#\s*(\d+)/.exec(problem.message || "") || /change[^0-9]{0,12}(\d+)/i.exec(problem.message || "") || /(\d+)/.exec(problem.message || "");
    return m ? m[1] : null;
  }

  // Opens the change an edit starts, or the one already open for the entry.
  function startChange(body, slot) {
    clear(slot);
    return api("POST", "/v1/changes", body).then(function (change) {
      go("#/change/" + change.id);
    }, function (problem) {
      if (problem.code === "change_open") {
        var id = openChangeId(problem);
        if (id != null) { go("#/change/" + id); return; }
      }
      showError(slot, problem);
    });
  }

  function entryDetails(entry) {
    var samples = entry.samples || [];
    return section("内容", "entry-details", h("dl", { className: "details" }, [
      h("dt", null, "相似问法"),
      h("dd", { testid: "entry-samples" }, samples.length ? h("ul", { className: "samples" }, samples.map(function (s) { return h("li", null, s); })) : "（无）"),
      h("dt", null, "文字答复"), h("dd", { className: "prose", testid: "entry-chat-answer" }, chatAnswer(entry)),
      h("dt", null, "语音答复"), h("dd", { className: "prose", testid: "entry-voice-answer" }, entry.voice_answer || "（与文字答复相同）"),
      h("dt", null, "分类"), h("dd", null, (entry.category || "—") + " · " + (entry.request_type || "")),
      h("dt", null, "适用地区"), h("dd", null, regionLabel(entry.region) + (entry.variant_of ? "（替代 " + entry.variant_of + "）" : "")),
      h("dt", null, "生效 / 失效"), h("dd", null, (when(entry.effective_from) || "立即") + " — " + (when(entry.expires_at) || "长期")),
      h("dt", null, "最后修改"), h("dd", null, authorOf(entry.updated_by) + " · " + when(entry.updated_at)),
      h("dt", null, "来源"), h("dd", null, entry.source || "—")
    ]));
  }

  function trafficPanel(entryId) {
    var panel = section("近 30 天的使用情况", "traffic", muted("加载中…"));
    api("GET", "/v1/entries/" + encodeURIComponent(entryId) + "/traffic?days=30").then(function (data) {
      var body = clear(panel);
      body.appendChild(h("h3", null, "近 30 天的使用情况"));
      body.appendChild(h("div", { className: "stats" }, [
        h("div", { className: "stat", testid: "traffic-answered" }, [h("strong", null, String(data.answered || 0)), h("span", null, "次直接答复")]),
        h("div", { className: "stat warn", testid: "traffic-rejected" }, [h("strong", null, String(data.rejected || 0)), h("span", null, "次被市民否定")]),
        h("div", { className: "stat bad", testid: "traffic-handed-off" }, [h("strong", null, String(data.handed_off || 0)), h("span", null, "次转人工")])
      ]));
      var days = data.days || [];
      var peak = 1;
      days.forEach(function (d) { peak = Math.max(peak, (d.answered || 0) + (d.rejected || 0) + (d.handed_off || 0)); });
      if (days.length) {
        body.appendChild(h("div", { className: "spark", "aria-hidden": "true" }, days.map(function (d) {
          var bar = h("span", { className: "bar", title: d.day + "：答复 " + (d.answered || 0) + "，否定 " + (d.rejected || 0) + "，转人工 " + (d.handed_off || 0) });
          bar.style.height = Math.max(2, Math.round(40 * ((d.answered || 0) + (d.rejected || 0) + (d.handed_off || 0)) / peak)) + "px";
          return bar;
        })));
      }
    }, function (problem) {
      clear(panel);
      panel.appendChild(h("h3", null, "近 30 天的使用情况"));
      showError(panel.appendChild(errorSlot()), problem);
    });
    return panel;
  }

  function historyPanel(entry) {
    var panel = section("历史版本", "history", muted("加载中…"));
    var slot = errorSlot();
    api("GET", "/v1/entries/" + encodeURIComponent(entry.id) + "/history").then(function (data) {
      var versions = listOf(data, "versions").slice().sort(function (a, b) { return (b.version || 0) - (a.version || 0); });
      clear(panel);
      panel.appendChild(h("h3", null, "历史版本"));
      panel.appendChild(slot);
      if (!versions.length) { panel.appendChild(muted("还没有历史版本。")); return; }
      var list = h("ol", { className: "history" });
      versions.forEach(function (v) { list.appendChild(historyRow(entry, v, slot)); });
      panel.appendChild(list);
    }, function (problem) {
      clear(panel);
      panel.appendChild(h("h3", null, "历史版本"));
      showError(panel.appendChild(slot), problem);
    });
    return panel;
  }

  function historyRow(entry, v, slot) {
    var snapshot = v.entry || {};
    var current = v.version === entry.version;
    var content = h("div", { className: "snapshot", hidden: true, testid: "history-content" }, [
      h("p", null, [h("strong", null, "标准问题："), snapshot.question || ""]),
      h("p", { className: "prose" }, [h("strong", null, "文字答复："), chatAnswer(snapshot)]),
      snapshot.voice_answer ? h("p", { className: "prose" }, [h("strong", null, "语音答复："), snapshot.voice_answer]) : null,
      h("p", { className: "small muted" }, "相似问法：" + (snapshot.samples || []).join(" / "))
    ]);
    var row = h("li", { className: "history-row", testid: "history-row", data: { version: v.version } }, [
      h("div", { className: "history-line" }, [
        h("strong", { className: "mono" }, "第 " + v.version + " 版"),
        statusPill(v.status, "history-status"),
        current ? pill("当前", "current") : null,
        h("span", { testid: "history-who" }, authorOf(v.changed_by)),
        h("span", { className: "muted" }, when(v.changed_at)),
        v.note ? h("span", { className: "note" }, "“" + v.note + "”") : null,
        button("查看", "history-view", function () { content.hidden = !content.hidden; }, "link")
      ]),
      content
    ]);
    if (is("reviewer") && !current && mayChange(entry.region)) {
      var confirmBox = h("div", { className: "confirm", hidden: true, testid: "rollback-confirm-box" });
      var note = h("input", { testid: "rollback-note", placeholder: "回滚原因（写入审计记录）" });
      var confirm = button("确认回滚", "rollback-confirm", function () {
        confirm.disabled = true;
        clear(slot);
        api("POST", "/v1/entries/" + encodeURIComponent(entry.id) + "/rollback", { version: v.version, note: note.value.trim() })
          .then(function (saved) {
            flashNext("已回滚到第 " + v.version + " 版的内容" + (saved && saved.version ? "，现为第 " + saved.version + " 版，已发布。" : "。"));
            route();
          }, function (problem) { showError(slot, problem); confirm.disabled = false; });
      }, "danger");
      append(confirmBox, [h("p", null, "把这个条目恢复为第 " + v.version + " 版的内容并立即发布？所有渠道将在几秒内使用该版本。"),
                          note, confirm, button("取消", "rollback-cancel", function () { confirmBox.hidden = true; }, "ghost")]);
      row.querySelector(".history-line").appendChild(button("回滚到此版本", "rollback", function () {
        confirmBox.hidden = false;
        note.focus();
      }, "warn"));
      row.appendChild(confirmBox);
    }
    return row;
  }

  // ---- "Try it" ---------------------------------------------------------------------------------------
  // opts: entry() → the proposed entry JSON or null, changeId() → a change id or null, region, note,
  // conflicts (a node to show conflicts in; the panel's own when absent)
  function tryPanel(opts) {
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

  // ---- the entry form (a change's proposed entry) ------------------------------------------------------
  function entryForm(record, options) {
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

  // ---- #/change/{id} and #/new -------------------------------------------------------------------------
  function renderNewEntry(params) {
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

  // Puts back what was typed and not saved; returns a notice node (or an empty span).
  function stashRestore(key, form, node) {
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

  function renderChange(changeId) {
    var node = page(null, "change-page");
    api("GET", "/v1/changes/" + encodeURIComponent(changeId)).then(function (change) {
      if (!node.live()) return;
      drawChange(node, change);
      node.done();
    }, function (problem) { loadFailed(node, problem); });
  }

  function changeTitle(change) {
    var entry = change.entry || {};
    return (KIND_LABEL[change.kind] || change.kind) + "：" + (entry.question || change.entry_id || "");
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

  function staleWarning() {
    return h("p", { className: "notice bad", role: "alert", testid: "stale-warning" },
             "⚠ 这个条目在草稿保存之后已经发布过新的内容。下面的差异按现在发布的版本计算，请核对是否会覆盖别人的修改。");
  }

  function diffPanel(change) {
    var diff = change.diff || [];
    return section("与已发布版本的差异", "diff", diff.length ? diffList(diff) : muted("与已发布的版本相同。", "diff-empty"));
  }

  function diffList(diff) {
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

  function hintsPanel(change, except) {
    var hints = (change.hints || []).filter(function (hint) { return hint.field !== except; });
    if (!hints.length) return h("span");
    return section("提示", "hints", h("ul", { className: "hints" }, hints.map(function (hint) {
      return h("li", { className: "hint " + (hint.level || "info"), testid: "change-hint", data: { field: hint.field, level: hint.level } }, [
        h("strong", null, (FIELD_LABEL[hint.field] || hint.field || "") + "："), hint.message
      ]);
    })));
  }

  // ---- #/changes -----------------------------------------------------------------------------------------
  function renderChanges(params) {
    var node = page("修改单", "changes-page");
    var status = h("select", { testid: "changes-status", value: params.status || "", on: { change: function () {
      go("#/changes" + query({ status: status.value, mine: mine.checked ? "1" : "" }));
    } } }, [h("option", { value: "" }, "全部"), h("option", { value: "draft" }, "草稿"), h("option", { value: "in_review" }, "审核中"),
             h("option", { value: "scheduled" }, "已排期"), h("option", { value: "published" }, "已发布"), h("option", { value: "withdrawn" }, "已撤回")]);
    var mine = h("input", { type: "checkbox", testid: "changes-mine", checked: params.mine === "1" || (params.mine == null && is("editor")), on: { change: function () {
      go("#/changes" + query({ status: status.value, mine: mine.checked ? "1" : "0" }));
    } } });
    node.appendChild(h("div", { className: "filters" }, [field("状态", status), h("label", { className: "check" }, [mine, " 只看我的"])]));
    var request = { status: params.status, limit: 100 };
    if (mine.checked) request.author = state.account.username;
    api("GET", "/v1/changes" + query(request)).then(function (data) {
      if (!node.live()) return;
      var changes = listOf(data, "changes");
      if (mine.checked) changes = changes.filter(function (c) { return authorOf(c.author) === state.account.username; });
      if (!changes.length) node.appendChild(muted("没有修改单。", "changes-empty"));
      else node.appendChild(h("table", { className: "table", testid: "changes-table" }, [
        h("thead", null, h("tr", null, ["#", "内容", "类型", "状态", "作者", "更新"].map(function (t) { return h("th", null, t); }))),
        h("tbody", null, changes.map(function (c) {
          return h("tr", { testid: "change-row", data: { "change-id": c.id, status: c.status } }, [
            h("td", { className: "mono" }, "#" + c.id),
            h("td", null, [link((c.entry && c.entry.question) || c.entry_id || "", "#/change/" + c.id, "change-link"),
                           c.review_note && c.status === "draft" ? pill("被退回", "status-returned", "returned-badge") : null,
                           c.stale ? pill("已过时", "status-stale") : null]),
            h("td", null, KIND_LABEL[c.kind] || c.kind),
            h("td", null, statusPill(c.status)),
            h("td", null, authorOf(c.author)),
            h("td", { className: "small" }, when(c.updated_at))
          ]);
        }))
      ]));
      node.done();
    }, function (problem) { loadFailed(node, problem); });
  }

  // ---- #/review ------------------------------------------------------------------------------------------
  function reviewActions(change, done) {
    var slot = errorSlot();
    var at = h("input", { type: "datetime-local", testid: "publish-at" });
    var note = h("textarea", { testid: "return-note", rows: "2", placeholder: "退回意见：告诉作者要改什么" });
    function act(buttonNode, path, body, message) {
      buttonNode.disabled = true;
      clear(slot);
      return api("POST", "/v1/changes/" + change.id + path, body).then(function (result) {
        done(typeof message === "function" ? message(result || {}) : message, result);
      }, function (problem) { showError(slot, problem); buttonNode.disabled = false; });
    }
    var own = authorOf(change.author) === state.account.username;
    var now = button("立即发布", "publish-now", function () {
      act(now, "/publish", {}, function (r) { return "已发布修改单 #" + change.id + (r.published_version ? "（条目第 " + r.published_version + " 版）" : "") + "，各渠道几秒内生效。"; });
    }, "primary");
    var later = button("定时发布", "publish-schedule", function () {
      if (!at.value) { showError(slot, failure(422, { code: "missing_time", message: "请先选择发布时间（北京时间）。" })); at.focus(); return; }
      act(later, "/publish", { at: fromLocalInput(at.value) }, function (r) {
        return r.status === "published" ? "已发布修改单 #" + change.id + "。" : "修改单 #" + change.id + " 将于 " + when(r.publish_at || fromLocalInput(at.value)) + " 发布。";
      });
    }, "secondary");
    var back = button("退回修改", "return-change", function () {
      if (!note.value.trim()) { showError(slot, failure(422, { code: "missing_note", message: "请填写退回意见，告诉作者要改什么。" })); note.focus(); return; }
      act(back, "/return", { note: note.value.trim() }, "已退回修改单 #" + change.id + "。");
    }, "ghost");
    return h("div", { className: "review-actions" }, [
      own ? h("p", { className: "notice warn", testid: "own-change" }, "这是您自己写的修改，须由另一位审核员发布。") : null,
      h("div", { className: "row" }, [now]),
      h("div", { className: "row" }, [at, later]),
      h("div", { className: "row" }, [note, back]),
      slot
    ]);
  }

  function renderReview() {
    var node = page("审核发布", "review-page");
    var selected = {};
    var toolbarSlot = errorSlot();
    var count = h("span", { testid: "selected-count" }, "已选 0 项");
    var publishSelected = button("发布所选", "publish-selected", function () {
      var ids = Object.keys(selected).filter(function (k) { return selected[k]; }).map(function (k) { return isNaN(+k) ? k : +k; });
      if (!ids.length) return;
      publishSelected.disabled = true;
      clear(toolbarSlot);
      api("POST", "/v1/changes/publish", { ids: ids }).then(function (result) {
        var revision = result && (result.knowledge_revision || result.revision);
        flashNext("已一起发布 " + ids.length + " 份修改" + (revision ? "（知识库版本 " + revision + "）" : "") + "，各渠道几秒内生效。");
        route();
      }, function (problem) { showError(toolbarSlot, problem); publishSelected.disabled = false; });
    }, "primary");
    publishSelected.disabled = true;
    var selectAll = h("input", { type: "checkbox", testid: "review-select-all" });
    function refreshCount() {
      var n = Object.keys(selected).filter(function (k) { return selected[k]; }).length;
      count.textContent = "已选 " + n + " 项";
      publishSelected.disabled = n === 0;
    }
    node.appendChild(h("div", { className: "toolbar" }, [h("label", { className: "check" }, [selectAll, " 全选"]), count, publishSelected]));
    node.appendChild(toolbarSlot);
    var list = h("div", { className: "cards", testid: "review-list" });
    node.appendChild(list);
    var scheduled = h("div", { testid: "scheduled-list" });
    node.appendChild(scheduled);

    Promise.all([api("GET", "/v1/changes" + query({ status: "in_review", limit: 200 })),
                 api("GET", "/v1/changes" + query({ status: "scheduled", limit: 200 })).catch(function () { return []; })])
      .then(function (results) {
        if (!node.live()) return;
        var changes = listOf(results[0], "changes").filter(function (c) { return c.status === "in_review"; });
        var boxes = [];
        if (!changes.length) list.appendChild(muted("没有待审核的修改。", "review-empty"));
        changes.forEach(function (change) {
          var box = h("input", { type: "checkbox", testid: "review-select", on: { change: function () {
            selected[change.id] = box.checked;
            refreshCount();
          } } });
          boxes.push(box);
          var card = h("article", { className: "card", testid: "review-card", data: { "change-id": change.id, "entry-id": change.entry_id } });
          append(card, [
            h("header", { className: "card-head" }, [
              h("label", { className: "check" }, [box]),
              h("h3", null, link(changeTitle(change), "#/change/" + change.id, "review-link")),
              pill(regionLabel((change.entry || {}).region), "region"),
              h("span", { className: "muted small" }, "#" + change.id + " · " + authorOf(change.author) + " · 提交于 " + when(change.submitted_at || change.updated_at) +
                (change.batch ? " · 批次 " + change.batch : ""))
            ]),
            change.stale ? staleWarning() : null,
            hintsPanel(change),
            diffPanel(change),
            reviewActions(change, function (message) {
              selected[change.id] = false;
              refreshCount();
              clear(card);
              card.classList.add("done");
              card.appendChild(h("p", { className: "notice ok", testid: "review-result" }, message));
            })
          ]);
          list.appendChild(card);
        });
        selectAll.addEventListener("change", function () {
          boxes.forEach(function (b) { if (b.isConnected) { b.checked = selectAll.checked; b.dispatchEvent(new Event("change")); } });
        });
        var later = listOf(results[1], "changes").filter(function (c) { return c.status === "scheduled"; });
        if (later.length) {
          scheduled.appendChild(section("已排期的发布", "scheduled", h("ul", null, later.map(function (c) {
            return h("li", { testid: "scheduled-change", data: { "change-id": c.id } }, [
              link(changeTitle(c), "#/change/" + c.id, "scheduled-link"), " — ", when(c.publish_at), "（" + authorOf(c.reviewer) + "）"
            ]);
          }))));
        }
        node.done();
      }, function (problem) { loadFailed(node, problem); });
  }

  // ---- #/gaps --------------------------------------------------------------------------------------------
  function renderGaps() {
    var node = page("未解答的问题", "gaps-page");
    node.appendChild(muted("市民转人工、否定了追问、或系统没把握的提问，按同一诉求归成一组，按数量和新近程度排序。"));
    api("GET", "/v1/gaps?status=open").then(function (data) {
      if (!node.live()) return;
      var clusters = listOf(data, "clusters");
      if (!clusters.length) node.appendChild(muted("暂时没有未解答的问题。", "gaps-empty"));
      var list = h("div", { className: "cards", testid: "gap-list" });
      clusters.forEach(function (cluster, rank) { list.appendChild(gapCard(cluster, rank + 1)); });
      node.appendChild(list);
      node.done();
    }, function (problem) { loadFailed(node, problem); });
  }

  function gapCard(cluster, rank) {
    var slot = errorSlot();
    var channels = cluster.channels || {};
    var questions = cluster.questions || [];
    var suggestions = cluster.suggestions || [];
    var picked = null;
    var card = h("article", { className: "card gap", testid: "gap-cluster", data: { "gap-id": cluster.id } });
    var addButton = button("加入为相似问法", "gap-add-samples", function () {
      if (picked == null) return;
      addButton.disabled = true;
      clear(slot);
      api("POST", "/v1/gaps/" + cluster.id + "/add-samples", { entry_id: picked }).then(opened, failed(addButton));
    }, "secondary");
    addButton.disabled = true;
    function opened(change) {
      flashNext("已把这组问题做成草稿（修改单 #" + change.id + "），请完善后提交审核。");
      go("#/change/" + change.id);
    }
    function failed(node) {
      return function (problem) {
        if (problem.code === "change_open") {
          var id = openChangeId(problem);
          if (id != null) { go("#/change/" + id); return; }
        }
        showError(slot, problem);
        node.disabled = false;
      };
    }
    var newButton = button("新建条目", "gap-new-entry", function () {
      newButton.disabled = true;
      clear(slot);
      api("POST", "/v1/gaps/" + cluster.id + "/new-entry", {}).then(opened, failed(newButton));
    }, "primary");
    var dismiss = button("忽略", "gap-dismiss", function () {
      dismiss.disabled = true;
      api("POST", "/v1/gaps/" + cluster.id + "/dismiss", {}).then(function () {
        card.classList.add("done");
        clear(card).appendChild(h("p", { className: "muted" }, "已忽略：" + cluster.label));
      }, failed(dismiss));
    }, "ghost");

    var shown = 5;
    var qList = h("ul", { className: "gap-questions" });
    function drawQuestions() {
      clear(qList);
      questions.slice(0, shown).forEach(function (q) {
        qList.appendChild(h("li", { testid: "gap-question" }, [
          h("span", { className: "q" }, q.text),
          pill(CHANNEL_LABEL[q.channel] || q.channel || "", "channel"),
          q.asr_confidence != null ? h("span", { className: "muted small", testid: "asr-confidence" }, "识别置信度 " + Math.round(100 * q.asr_confidence) + "%") : null,
          q.reason ? h("span", { className: "muted small" }, reasonLabel(q.reason)) : null,
          h("span", { className: "muted small" }, when(q.at))
        ]));
      });
      if (questions.length > shown) {
        qList.appendChild(h("li", null, button("展开全部 " + questions.length + " 条", "gap-more", function () { shown = questions.length; drawQuestions(); }, "link")));
      }
    }
    drawQuestions();

    var suggestionList = h("div", { className: "suggestions", testid: "gap-suggestions" }, suggestions.length ? suggestions.map(function (s) {
      var radio = h("input", { type: "radio", testid: "gap-suggestion-pick", name: "gap-" + cluster.id, value: s.entry_id, on: { change: function () {
        picked = s.entry_id;
        addButton.disabled = !is("editor");
      } } });
      return h("label", { className: "suggestion", testid: "gap-suggestion", data: { "entry-id": s.entry_id } }, [
        radio, " ", s.question, " ", h("span", { className: "muted mono small" }, s.entry_id + " · " + Number(s.score || 0).toFixed(2))
      ]);
    }) : muted("没有相近的条目。"));

    append(card, [
      h("header", { className: "card-head" }, [
        h("span", { className: "rank" }, "#" + rank),
        h("h3", { testid: "gap-label" }, cluster.label),
        pill(cluster.size + " 次", "count", "gap-size"),
        cluster.recent != null ? pill("近期 " + cluster.recent, "recent") : null,
        h("span", { className: "muted small" }, Object.keys(channels).filter(function (k) { return channels[k]; }).map(function (k) {
          return (CHANNEL_LABEL[k] || k) + " " + channels[k];
        }).join(" · ") + " · " + when(cluster.first_at) + " — " + when(cluster.last_at))
      ]),
      qList,
      h("div", { className: "gap-foot" }, [
        h("div", null, [h("h4", null, "相近的条目（选一个，把这些问法加进去）"), suggestionList]),
        is("editor") ? h("div", { className: "actions" }, [newButton, addButton, dismiss]) : null
      ]),
      slot
    ]);
    return card;
  }

  function reasonLabel(reason) {
    // The reasons the engine writes (assistant/engine.py, api/voice/dialogue.py).
    var labels = { asked_for_human: "要求转人工", pressed_for_human: "按键转人工", unsatisfied: "否定了答复",
                   low_confidence: "没把握", no_candidate: "没有相近条目", no_input: "电话无应答", no_match: "电话未听懂" };
    return labels[reason] || reason;
  }

  // ---- #/import ------------------------------------------------------------------------------------------
  function renderImport() {
    var node = page("批量导入", "import-page");
    node.appendChild(muted("选择 .jsonl、.yaml 或 .xlsx 文件：先预览会新建、修改哪些条目，确认后作为一批草稿提交审核。"));
    var file = h("input", { type: "file", testid: "import-file", accept: ".jsonl,.yaml,.yml,.xlsx" });
    var slot = errorSlot();
    var preview = h("div", { testid: "import-preview-holder" });
    var bytes = null, filename = null;
    var previewButton = button("预览", "import-preview-run", function () { runPreview(); }, "secondary");
    file.addEventListener("change", function () { runPreview(); });

    function headerName(name) {
      var ext = (/\.[A-Za-z0-9]+$/.exec(name) || [".jsonl"])[0].toLowerCase();
      return /^[\x20-\x7e]+$/.test(name) ? name : "import" + ext;
    }

    function runPreview() {
      clear(slot);
      clear(preview);
      var chosen = file.files && file.files[0];
      if (!chosen) { showError(slot, failure(422, { code: "no_file", message: "请先选择一个文件。" })); return; }
      filename = headerName(chosen.name);
      previewButton.disabled = true;
      chosen.arrayBuffer().then(function (buffer) {
        bytes = buffer;
        return api("POST", "/v1/imports/preview", undefined, { raw: buffer, headers: { "X-Filename": filename } });
      }).then(function (result) {
        drawPreview(result, chosen.name);
      }, function (problem) {
        showError(slot, problem && problem.failed ? problem : failure(0, { code: "read_failed", message: "读取文件失败。" }));
      }).then(function () { previewButton.disabled = false; });
    }

    function drawPreview(result, shownName) {
      var created = result.created || [], updated = result.updated || [], unchanged = result.unchanged || [], problems = result.problems || [];
      var confirmSlot = errorSlot();
      var confirm = button("确认导入并提交审核", "import-confirm", function () {
        confirm.disabled = true;
        clear(confirmSlot);
        api("POST", "/v1/imports", undefined, { raw: bytes, headers: { "X-Filename": filename } }).then(function (done) {
          var ids = (done && done.changes) || [];
          clear(preview).appendChild(h("div", { className: "notice ok", testid: "import-result" }, [
            "已提交审核：批次 " + (done && done.batch != null ? done.batch : "") + "，共 " + ids.length + " 份修改。",
            h("ul", null, ids.map(function (id) { id = idOf(id); return h("li", null, link("修改单 #" + id, "#/change/" + id, "import-change-link")); }))
          ]));
        }, function (problem) { showError(confirmSlot, problem); confirm.disabled = false; });
      }, "primary");
      confirm.disabled = problems.length > 0 || !(created.length + updated.length);
      append(preview, h("div", { className: "import-preview", testid: "import-preview" }, [
        h("p", { className: "summary", testid: "import-summary" }, [
          h("strong", null, shownName), "：",
          pill("新建 " + created.length, "status-draft", "import-created-count"),
          pill("修改 " + updated.length, "status-in_review", "import-updated-count"),
          pill("不变 " + unchanged.length, "", "import-unchanged-count"),
          pill("问题 " + problems.length, problems.length ? "status-bad" : "", "import-problems-count")
        ]),
        problems.length ? section("问题（须先在文件里改正）", "import-problems", h("ul", { className: "problems" }, problems.map(function (p) {
          return h("li", { testid: "import-problem" }, describeDetail(p));
        }))) : null,
        created.length ? section("将新建", "import-created", h("ul", null, created.map(function (c) {
          var e = c.entry || {};
          return h("li", { testid: "import-created-row", data: { "entry-id": c.entry_id || e.id } }, [
            h("span", { className: "mono" }, c.entry_id || e.id), " ", e.question || "", " ", pill(regionLabel(e.region), "region")
          ]);
        }))) : null,
        updated.length ? section("将修改", "import-updated", h("div", null, updated.map(function (u) {
          var e = u.entry || {};
          return h("div", { className: "import-updated-row", testid: "import-updated-row", data: { "entry-id": u.entry_id || e.id } }, [
            h("h4", null, [h("span", { className: "mono" }, u.entry_id || e.id), " ", e.question || ""]),
            diffList(u.diff || [])
          ]);
        }))) : null,
        unchanged.length ? h("p", { className: "muted small", testid: "import-unchanged" }, "不变：" + unchanged.map(idOf).join("、")) : null,
        h("div", { className: "actions" }, [confirm, problems.length ? h("span", { className: "muted" }, "文件有问题，改正后重新选择文件。") : null]),
        confirmSlot
      ]));
    }

    node.appendChild(h("div", { className: "filters" }, [field("文件", file), previewButton]));
    node.appendChild(slot);
    node.appendChild(preview);
    node.done();
  }

  // ---- #/audit -------------------------------------------------------------------------------------------
  function renderAudit(params) {
    var node = page("操作记录", "audit-page");
    var actor = h("input", { testid: "audit-actor", value: params.actor || "", placeholder: "用户名" });
    var target = h("input", { testid: "audit-target", value: params.target || "", placeholder: "如 entry:hc-code-colors、change:12" });
    var action = h("input", { testid: "audit-action", value: params.action || "", placeholder: "如 change.publish", list: "audit-actions" });
    node.appendChild(h("form", { className: "filters", on: { submit: function (event) {
      event.preventDefault();
      go("#/audit" + query({ actor: actor.value.trim(), target: target.value.trim(), action: action.value.trim() }));
    } } }, [field("操作人", actor), field("对象", target), field("操作", action),
            h("div", { className: "filter-actions" }, [h("button", { type: "submit", className: "primary", testid: "audit-search" }, "查询")]),
            h("datalist", { id: "audit-actions" }, Object.keys(ACTION_LABEL).map(function (a) { return h("option", { value: a, label: ACTION_LABEL[a] }); }))]));
    var body = h("tbody");
    var table = h("table", { className: "table", testid: "audit-table" }, [
      h("thead", null, h("tr", null, ["时间", "操作人", "操作", "对象", "详情"].map(function (t) { return h("th", null, t); }))), body]);
    var slot = errorSlot();
    var more = button("更早的记录", "audit-more", function () { load(lastId); }, "ghost");
    more.hidden = true;
    var lastId = null;
    node.appendChild(table);
    node.appendChild(slot);
    node.appendChild(more);

    function load(before) {
      more.disabled = true;
      api("GET", "/v1/audit" + query({ actor: params.actor, target: params.target, action: params.action, before_id: before, limit: 100 })).then(function (data) {
        if (!node.live()) return;
        var events = listOf(data, "events");
        if (!events.length && before == null) body.appendChild(h("tr", null, h("td", { colspan: "5", className: "muted", testid: "audit-empty" }, "没有记录。")));
        events.forEach(function (event) {
          body.appendChild(h("tr", { testid: "audit-row", data: { action: event.action, actor: event.actor, target: event.target } }, [
            h("td", { className: "small" }, when(event.at)),
            h("td", null, event.actor),
            h("td", null, [ACTION_LABEL[event.action] || event.action, h("br"), h("span", { className: "muted mono small" }, event.action)]),
            h("td", null, targetLink(event.target)),
            h("td", { className: "small detail" }, detailText(event.detail))
          ]));
          lastId = event.id;
        });
        more.hidden = events.length < 100;
        more.disabled = false;
        node.done();
      }, function (problem) { showError(slot, problem); more.disabled = false; node.done(); });
    }
    load(null);
  }

  function targetLink(target) {
    target = String(target || "");
    var m = /^(entry|change):(.+)$/.exec(target);
    if (!m) return target;
    return link(target, "#/" + m[1] + "/" + encodeURIComponent(m[2]), "audit-target-link");
  }

  function detailText(detail) {
    if (detail == null) return "";
    if (typeof detail !== "object") return String(detail);
    return Object.keys(detail).map(function (k) {
      var v = detail[k];
      if (v != null && typeof v === "object") { try { v = JSON.stringify(v); } catch (e) { v = String(v); } }
      return k + "：" + v;
    }).join("；");
  }

  // ---- #/accounts ----------------------------------------------------------------------------------------
  function renderAccounts() {
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

  // ---- start ---------------------------------------------------------------------------------------------
  function start() {
    view = document.getElementById("view");
    flash = document.getElementById("flash");
    signIn = document.getElementById("sign-in");
    document.getElementById("sign-in-form").addEventListener("submit", submitSignIn);
    document.getElementById("sign-out").addEventListener("click", signOut);
    window.addEventListener("hashchange", route);
    // Ctrl+S (⌘S) saves the draft being edited, as in any editor.
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "s" || event.key === "S")) {
        var save = document.querySelector('[data-testid="save-draft"]');
        if (save && signIn.hidden) {
          event.preventDefault();
          if (!save.disabled) save.click();
        }
      }
    });
    api("GET", "/v1/auth/me", undefined, { signingIn: true }).then(function (data) {
      signedIn(data);
    }, function () {
      showSignIn("");
    }).then(function () {
      document.body.setAttribute("data-ready", "true");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
