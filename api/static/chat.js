// The 12345 H5 chat: one message to POST /v1/chat, one decision back, rendered as DOM nodes.
// Nothing from the server is ever parsed as HTML: every text goes in through textContent.
(function () {
  "use strict";

  var API = "/v1/chat";
  var SESSION_KEY = "frontdoor.chat.session";
  var REGION_KEY = "frontdoor.chat.region";
  var TICKETS_KEY = "frontdoor.chat.tickets";  // the tickets raised from this browser: [{number, session}]
  var MAX_TICKETS = 20;
  var MAX_CHARS = 500;          // the API's limit on `text`
  var TIMEOUT_MS = 30000;
  var URL_PATTERN = /https?:\/\/[^\s<>"'`，。；：！？、（）【】「」『』《》“”‘’]+/g;

  var log, input, send, region, counter, restart;
  var busy = false;

  // ---- storage (sessionStorage can throw in some private modes) ---------------------------------
  function load(key) {
    try { return window.sessionStorage.getItem(key); } catch (e) { return null; }
  }
  function save(key, value) {
    try {
      if (value == null) window.sessionStorage.removeItem(key);
      else window.sessionStorage.setItem(key, value);
    } catch (e) { /* the conversation just does not survive a reload */ }
  }

  // The citizen's tickets outlive the tab (localStorage): they come back to follow them days later.
  function loadTickets() {
    try {
      var list = JSON.parse(window.localStorage.getItem(TICKETS_KEY) || "[]");
      return Array.isArray(list) ? list : [];
    } catch (e) { return []; }
  }
  function rememberTicket(number, session) {
    var list = loadTickets().filter(function (t) { return t.number !== number; });
    list.unshift({ number: number, session: session });
    try { window.localStorage.setItem(TICKETS_KEY, JSON.stringify(list.slice(0, MAX_TICKETS))); } catch (e) { /* not kept */ }
  }

  // ---- DOM helpers -------------------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }
  function testid(node, id) {
    node.setAttribute("data-testid", id);
    return node;
  }

  // Text with its line breaks (CSS pre-wrap) and its http(s) links as real, safe anchors.
  function appendRich(parent, text) {
    text = String(text == null ? "" : text);
    var last = 0;
    URL_PATTERN.lastIndex = 0;
    var match;
    while ((match = URL_PATTERN.exec(text)) !== null) {
      var raw = match[0].replace(/[.,;:!?)\]]+$/, "");
      var url = null;
      try { url = new URL(raw); } catch (e) { url = null; }
      if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = el("a", null, raw);
      a.href = url.href;
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
      parent.appendChild(a);
      last = match.index + raw.length;
      URL_PATTERN.lastIndex = last;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
    return parent;
  }

  function textBlock(text) {
    return appendRich(el("div", "text"), String(text == null ? "" : text).replace(/\s+$/, ""));
  }

  function scrollToEnd(row) {
    // A long answer is read from its top; a short one just lands at the bottom.
    if (row && row.offsetHeight > log.clientHeight * 0.8) {
      log.scrollTop = row.offsetTop - log.offsetTop - 8;
    } else {
      log.scrollTop = log.scrollHeight;
    }
  }

  function addRow(who, bubble) {
    var row = el("div", "row " + who);
    row.appendChild(bubble);
    log.appendChild(row);
    scrollToEnd(who === "bot" ? row : null);
    return row;
  }

  function botBubble(kind, decision) {
    var bubble = testid(el("div", "bubble " + kind), "message");
    bubble.setAttribute("data-role", "bot");
    if (decision) bubble.setAttribute("data-decision", decision);
    return bubble;
  }

  function quickButton(label, id, onTap) {
    var button = testid(el("button", "quick", label), id);
    button.type = "button";
    button.addEventListener("click", onTap);
    return button;
  }

  // Offered buttons belong to the turn that offered them: once anything else is sent, they go stale.
  function retireButtons() {
    var stale = log.querySelectorAll("button.choice:not([disabled]), button.quick:not([disabled])");
    for (var i = 0; i < stale.length; i++) stale[i].disabled = true;
  }

  // ---- rendering a decision ------------------------------------------------------------------------
  function renderAnswer(reply) {
    var bubble = botBubble("answer", "answer");
    if (reply.entry && reply.entry.id) bubble.setAttribute("data-entry-id", reply.entry.id);
    if (reply.entry && reply.entry.question) {
      bubble.appendChild(testid(el("h3", "entry-question", reply.entry.question), "entry-question"));
    }
    bubble.appendChild(textBlock(reply.text));
    if (reply.entry) {
      var actions = el("div", "actions");
      actions.appendChild(quickButton("不是我要问的", "not-it", function () { say("不是这个", "不是我要问的"); }));
      actions.appendChild(quickButton("转人工", "to-human", function () { say("转人工"); }));
      bubble.appendChild(actions);
    }
    return bubble;
  }

  function renderClarify(reply) {
    var bubble = botBubble("clarify", "clarify");
    var choices = reply.choices || [];
    if (!choices.length) {
      bubble.appendChild(textBlock(reply.text));
      return bubble;
    }
    // The text lists the choices for text-only channels; here they are buttons, so only its first line.
    var prompt = String(reply.text || "").split("\n")[0].replace(/请?回复序号[:：]?\s*$/, "").trim();
    prompt = prompt || "您想问的是下面哪一个？";
    bubble.appendChild(textBlock(prompt));
    var list = el("div", "choices");
    choices.forEach(function (choice) {
      var button = testid(el("button", "choice", choice.number + ". " + choice.question), "choice");
      button.type = "button";
      button.setAttribute("data-entry-id", choice.entry_id);
      button.addEventListener("click", function () {
        if (busy) return;
        button.classList.add("picked");
        post({ choice: choice.entry_id }, choice.question);
      });
      list.appendChild(button);
    });
    bubble.appendChild(list);
    var actions = el("div", "actions");
    actions.appendChild(quickButton("都不是", "choice-none", function () { say("都不是"); }));
    actions.appendChild(quickButton("转人工", "choice-human", function () { say("转人工"); }));
    bubble.appendChild(actions);
    return bubble;
  }

  function renderHandoff(reply) {
    var bubble = botBubble("handoff", "handoff");
    var text = String(reply.text || "");
    var number = reply.ticket && reply.ticket.number ? String(reply.ticket.number) : "";
    var block = el("div", "text");
    var at = number ? text.indexOf(number) : -1;
    if (at >= 0) {
      appendRich(block, text.slice(0, at));
      block.appendChild(testid(el("strong", "ticket", number), "ticket-number"));
      appendRich(block, text.slice(at + number.length));
    } else {
      appendRich(block, text);
      if (number) {
        block.appendChild(document.createTextNode("\n工单号："));
        block.appendChild(testid(el("strong", "ticket", number), "ticket-number"));
      }
    }
    bubble.appendChild(block);
    return bubble;
  }

  function renderRedirect(reply) {
    var bubble = botBubble("redirect", "redirect");
    bubble.setAttribute("role", "alert");
    bubble.appendChild(textBlock(reply.text));
    var number = String(reply.redirect_to || "");
    if (/^[0-9]{3,15}$/.test(number)) {
      var call = testid(el("a", "call", "立即拨打 " + number), "call-link");
      call.href = "tel:" + number;
      bubble.appendChild(call);
    }
    return bubble;
  }

  function renderPlain(reply, kind) {
    var bubble = botBubble(kind, reply.decision);
    bubble.appendChild(textBlock(reply.text));
    return bubble;
  }

  function render(reply) {
    switch (reply.decision) {
      case "answer": return renderAnswer(reply);
      case "clarify": return renderClarify(reply);
      case "handoff": return renderHandoff(reply);
      case "redirect": return renderRedirect(reply);
      case "refuse": return renderPlain(reply, "refuse");
      default: return renderPlain(reply, "answer");
    }
  }

  // ---- errors ----------------------------------------------------------------------------------------
  function explain(status, error) {
    var details = (error && error.details) || [];
    var about = function (field) {
      return details.some(function (d) { return String(d.where || "").split(".").pop() === field; });
    };
    if (about("text") && details.some(function (d) { return /at most|too long/i.test(String(d.problem || "")); })) {
      return "您输入的内容太长了（最多 " + MAX_CHARS + " 字），请精简后再发送。";
    }
    if (about("session")) return "会话已失效，已为您开始新的对话，请重新发送。";
    if (status === 413) return "您发送的内容太长了，请精简后再发送。";
    if (status === 429) return "您发送得太快了，请稍等片刻再试。";
    if (status >= 500) return "服务暂时不可用，请稍后再试，或直接拨打 12345 热线。";
    if (status === 422 || status === 400) return "您的消息没有被受理，请修改后再发送。";
    return "抱歉，消息没有发送成功，请稍后再试。";
  }

  function showError(status, error, fallback) {
    var bubble = testid(el("div", "bubble error"), "error");
    bubble.setAttribute("role", "alert");
    bubble.setAttribute("data-role", "error");
    bubble.appendChild(el("p", "error-title", status ? explain(status, error) : fallback));
    if (error && error.message) {
      bubble.appendChild(testid(el("p", "error-message", error.message), "error-message"));
    }
    var details = (error && error.details) || [];
    if (details.length) {
      var list = el("ul");
      details.slice(0, 5).forEach(function (d) {
        list.appendChild(el("li", null, (d.where ? d.where + "：" : "") + (d.problem || "")));
      });
      bubble.appendChild(list);
    }
    if (status) {
      bubble.appendChild(el("p", "code", "错误代码：" + ((error && error.code) || "http_error") + "（HTTP " + status + "）"));
    }
    addRow("bot", bubble);
    if (error && error.details && error.details.some(function (d) { return /session$/.test(String(d.where || "")); })) {
      save(SESSION_KEY, null);
    }
  }

  // ---- talking to the API ----------------------------------------------------------------------------
  function typing() {
    var bubble = testid(el("div", "bubble"), "typing");
    bubble.setAttribute("aria-label", "正在输入");
    var dots = el("span", "typing");
    dots.appendChild(el("span"));
    dots.appendChild(el("span"));
    dots.appendChild(el("span"));
    bubble.appendChild(dots);
    return addRow("bot", bubble);
  }

  function setBusy(value) {
    busy = value;
    send.disabled = value;
    send.setAttribute("aria-busy", value ? "true" : "false");
    log.setAttribute("aria-busy", value ? "true" : "false");
  }

  function say(text, shown) {
    post({ text: text }, shown || text);
  }

  function post(body, shown) {
    if (busy) return;
    setBusy(true);
    retireButtons();
    var userBubble = testid(el("div", "bubble", shown), "user-message");
    userBubble.setAttribute("data-role", "user");
    addRow("user", userBubble);
    log.scrollTop = log.scrollHeight;

    var payload = { region: region.value };
    var session = load(SESSION_KEY);
    if (session) payload.session = session;
    Object.keys(body).forEach(function (key) { payload[key] = body[key]; });

    var indicator = typing();
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;

    function failed() {
      userBubble.classList.add("failed");
      if (body.text && !input.value) {
        input.value = body.text;
        updateCounter();
      }
    }

    fetch(API, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(payload),
      signal: controller ? controller.signal : undefined,
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        indicator.remove();
        if (!response.ok || !data || !data.decision) {
          failed();
          var error = data && data.error ? data.error : { code: "http_error", message: "HTTP " + response.status };
          showError(response.status || 500, error);
          return;
        }
        if (data.session) save(SESSION_KEY, data.session);
        if (data.ticket && data.ticket.number) rememberTicket(String(data.ticket.number), data.session);
        addRow("bot", render(data));
      });
    }).catch(function (err) {
      indicator.remove();
      failed();
      var timedOut = err && err.name === "AbortError";
      showError(0, null, timedOut ? "等待回复超时，请稍后重试。" : "网络连接失败，请检查网络后重试。");
    }).then(function () {
      if (timer) clearTimeout(timer);
      setBusy(false);
    });
  }

  // ---- 「我的工单」 --------------------------------------------------------------------------------------
  function fetchTicket(number, query) {
    var url = "/v1/chat/tickets/" + encodeURIComponent(number) + "?" + new URLSearchParams(query).toString();
    return fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function ticketCard(ticket) {
    var card = testid(el("div", "ticket-card"), "ticket-card");
    card.setAttribute("data-number", ticket.number);
    var head = el("p", "ticket-head");
    head.appendChild(document.createTextNode("工单号 "));
    head.appendChild(el("strong", "ticket", ticket.number));
    card.appendChild(head);
    card.appendChild(testid(el("p", "ticket-state " + ticket.status, ticket.state), "ticket-state"));
    card.appendChild(el("p", "ticket-said", "您的诉求：" + ticket.said));
    if (ticket.reply) {
      var reply = testid(el("div", "ticket-reply"), "ticket-reply");
      reply.appendChild(el("p", "label", "工作人员答复："));
      reply.appendChild(appendRich(el("div", "text"), ticket.reply));
      card.appendChild(reply);
    }
    return card;
  }

  function lookupForm(bubble) {
    var form = testid(el("form", "ticket-lookup"), "ticket-lookup");
    form.setAttribute("autocomplete", "off");
    var number = el("input");
    number.placeholder = "工单号";
    number.inputMode = "numeric";
    number.setAttribute("data-testid", "lookup-number");
    var phone = el("input");
    phone.placeholder = "提交时留的手机号";
    phone.inputMode = "tel";
    phone.setAttribute("data-testid", "lookup-phone");
    var go = el("button", null, "查询");
    go.type = "submit";
    form.appendChild(number);
    form.appendChild(phone);
    form.appendChild(go);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var n = number.value.replace(/\s+/g, ""), p = phone.value.trim();
      if (!n || !p) return;
      fetchTicket(n, { phone: p }).then(function (result) {
        bubble.appendChild(result.ok ? ticketCard(result.data)
          : el("p", "ticket-missing", (result.data && result.data.error && result.data.error.message) || "查询失败，请稍后再试。"));
      }, function () { bubble.appendChild(el("p", "ticket-missing", "网络连接失败，请检查网络后重试。")); });
    });
    return form;
  }

  function showMyTickets() {
    var bubble = testid(el("div", "bubble tickets"), "tickets-panel");
    bubble.appendChild(el("p", "title", "我的工单"));
    var mine = loadTickets();
    if (!mine.length) bubble.appendChild(el("p", "ticket-missing", "这个浏览器里还没有提交过的工单。可以用工单号和手机号查询："));
    addRow("bot", bubble);
    mine.forEach(function (t) {
      var slot = el("div");
      bubble.appendChild(slot);
      fetchTicket(t.number, { session: t.session }).then(function (result) {
        if (result.ok) slot.appendChild(ticketCard(result.data));
      });
    });
    bubble.appendChild(lookupForm(bubble));
    log.scrollTop = log.scrollHeight;
  }

  // ---- the composer ----------------------------------------------------------------------------------
  function updateCounter() {
    var length = input.value.length;
    counter.hidden = length <= MAX_CHARS - 100;
    counter.textContent = length > MAX_CHARS ? length + " / " + MAX_CHARS + "，超出字数上限" : length + " / " + MAX_CHARS;
    counter.classList.toggle("over", length > MAX_CHARS);
  }

  function start() {
    log = document.getElementById("log");
    input = document.getElementById("text");
    send = document.getElementById("send");
    region = document.getElementById("region");
    counter = document.getElementById("counter");
    restart = document.getElementById("restart");

    var savedRegion = load(REGION_KEY);
    if (savedRegion && Array.prototype.some.call(region.options, function (o) { return o.value === savedRegion; })) {
      region.value = savedRegion;
    }
    region.addEventListener("change", function () { save(REGION_KEY, region.value); });

    document.getElementById("composer").addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text || busy) {
        input.focus();
        return;
      }
      input.value = "";
      updateCounter();
      say(text);
    });
    // Enter that confirms a Chinese IME composition must not send the half-typed message.
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.isComposing || event.keyCode === 229)) event.preventDefault();
    });
    input.addEventListener("input", updateCounter);

    document.getElementById("my-tickets").addEventListener("click", showMyTickets);

    restart.addEventListener("click", function () {
      if (busy) return;
      save(SESSION_KEY, null);
      var rows = log.querySelectorAll(".row");
      for (var i = 1; i < rows.length; i++) rows[i].remove();  // keep the greeting
      input.value = "";
      updateCounter();
      input.focus();
    });

    document.body.setAttribute("data-ready", "true");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
