// #/entry/{id}: one entry, its open changes, usage, history and rollback.

import { STATUS_LABEL } from "../config.js";
import { append, button, clear, errorSlot, h, link, muted, pill, section, statusPill } from "../dom.js";
import { authorOf, chatAnswer, expiryPill, when } from "../format.js";
import { api, failure, listOf, openChangeId, query } from "../api.js";
import { showError } from "../notices.js";
import { is, mayChange, outsideRegionNote, regionLabel } from "../auth.js";
import { flashNext, go, loadFailed, page, route } from "../router.js";
import { tryPanel } from "../components/try.js";

export function renderEntry(entryId) {
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
