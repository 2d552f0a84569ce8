// #/entries: the searchable, paged list of entries.

import { KNOWN_REGIONS, PAGE_SIZE } from "../config.js";
import { button, field, h, link, muted, pill, statusPill } from "../dom.js";
import { authorOf, expiryPill, isoIn, when } from "../format.js";
import { api, listOf, query } from "../api.js";
import { is, regionLabel } from "../auth.js";
import { go, loadFailed, page } from "../router.js";
import { fillCategories } from "../components/entry-form.js";

var EXPIRY_FILTERS = { expired: 0, "24h": 24 * 3600e3, "7d": 7 * 24 * 3600e3 };

export function renderEntries(params) {
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
