// #/import: preview a .jsonl/.yaml/.xlsx file, then submit it as a batch of drafts.

import { append, button, clear, errorSlot, field, h, link, muted, pill, section } from "../dom.js";
import { idOf } from "../format.js";
import { api, failure } from "../api.js";
import { describeDetail, showError } from "../notices.js";
import { regionLabel } from "../auth.js";
import { page } from "../router.js";
import { diffList } from "../components/diff.js";

export function renderImport() {
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
