// #/gaps: the questions the assistant could not answer, grouped, with what to do about them.

import { CHANNEL_LABEL } from "../config.js";
import { append, button, clear, errorSlot, h, muted, pill, section } from "../dom.js";
import { when } from "../format.js";
import { api, listOf, openChangeId } from "../api.js";
import { showError, showFlash } from "../notices.js";
import { is } from "../auth.js";
import { flashNext, go, loadFailed, page } from "../router.js";

export function renderGaps() {
  var node = page("未解答的问题", "gaps-page");
  node.appendChild(muted("市民转人工、否定了追问、或系统没把握的提问，按同一诉求归成一组，按数量和新近程度排序。"));
  node.appendChild(precisionPanel());
  node.appendChild(refitPanel());
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

// How often the automatic answers were right, per channel (GET /v1/confidence/precision; knowledge_base/labels.py).
var PRECISION_TITLE = "自动回答准确率（近7天）";

function precisionPanel() {
  var panel = section(PRECISION_TITLE, "answer-precision", muted("加载中…"));
  function redraw(children) {
    clear(panel);
    append(panel, [h("h3", null, PRECISION_TITLE), children]);
  }
  api("GET", "/v1/confidence/precision?days=7").then(function (rows) {
    rows = listOf(rows, "channels");
    if (!rows.length) { redraw(muted("近7天还没有自动回答。", "precision-empty")); return; }
    redraw([
      h("table", { className: "table", testid: "precision-table" }, [
        h("thead", null, h("tr", null, ["渠道", "准确率", "95% 置信区间", "自动回答", "已知答错", "依据的标注"].map(function (title) {
          return h("th", null, title);
        }))),
        h("tbody", null, rows.map(function (row) {
          return h("tr", { testid: "precision-row", data: { channel: row.channel } }, [
            h("td", null, CHANNEL_LABEL[row.channel] || row.channel),
            h("td", { testid: "precision-value" }, percent(row.precision)),
            h("td", { testid: "precision-interval" }, percent(row.low) + " – " + percent(row.high)),
            h("td", { testid: "precision-answers" }, String(row.answers)),
            h("td", { testid: "precision-wrong" }, String(row.wrong)),
            h("td", { testid: "precision-labels" }, String(row.labels))
          ]);
        }))
      ]),
      muted("“已知答错”：市民说“不是这个”，或坐席在工单上标注了别的条目（或没有条目能回答）。没人标注的回答按答对计，所以这是上限估计。")
    ]);
  }, function (problem) {
    redraw(errorSlot());
    showError(panel.lastChild, problem);
  });
  return panel;
}

// When the answer confidence last learned from the labels, and (reviewers) a button to have it learn again.
var REFIT_DAYS = 90;

function refitPanel() {
  var panel = section("答案把握度的学习", "confidence-refit", muted("加载中…"));
  var slot = errorSlot();
  function draw(latest) {
    clear(panel);
    var told = latest
      ? "上次重新学习：" + when(latest.labels_until) + "，由 " + latest.asked_by + " 发起，依据 " + latest.labels + " 条标注。"
      : "还没有用本热线的标注重新学习过：把握度来自知识库自己出的题。";
    append(panel, [h("h3", null, "答案把握度的学习"), h("p", { testid: "refit-latest" }, told),
                   muted("市民说“不是这个”、市民在追问中的选择、坐席在工单上的“此条可答复”都是标注。标注满一百条后，自动回答的门槛按标注来定。")]);
    if (is("reviewer", "admin")) {
      var again = button("用近" + REFIT_DAYS + "天的标注重新学习", "refit-now", function () {
        again.disabled = true;
        clear(slot);
        api("POST", "/v1/confidence/refit", { days: REFIT_DAYS }).then(function (done) {
          showFlash("已开始重新学习（依据 " + done.labels + " 条标注，知识库版本 " + done.revision + "）。各服务进程将在几秒到几分钟内用上新的把握度。");
          draw(done);
        }, function (problem) { showError(slot, problem); again.disabled = false; });
      }, "secondary");
      append(panel, [again, slot]);
    }
  }
  api("GET", "/v1/confidence/refits?limit=1").then(function (rows) {
    draw(listOf(rows, "refits")[0] || null);
  }, function (problem) {
    clear(panel);
    append(panel, [h("h3", null, "答案把握度的学习"), slot]);
    showError(slot, problem);
  });
  return panel;
}

function percent(value) {
  return value == null ? "—" : (100 * value).toFixed(1) + "%";
}

function reasonLabel(reason) {
  // The reasons the engine writes (assistant/engine.py, api/voice/dialogue.py).
  var labels = { asked_for_human: "要求转人工", pressed_for_human: "按键转人工", unsatisfied: "否定了答复",
                 low_confidence: "没把握", no_candidate: "没有相近条目", no_input: "电话无应答", no_match: "电话未听懂" };
  return labels[reason] || reason;
}
