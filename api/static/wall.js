// The live wall: reads GET /v1/wall every few seconds and shows it; signs in first when it must.
import { T } from "./wall/strings.js";

const REFRESH_MS = 10000;
const $ = (id) => document.getElementById(id);

function text(node, value) { node.textContent = value == null ? "–" : String(value); }

function item(list, parts) {
  const li = document.createElement("li");
  for (const [value, cls] of parts) {
    const span = document.createElement("span");
    if (cls) span.className = cls;
    span.textContent = value;
    li.append(span);
  }
  list.append(li);
}

function show(data) {
  text($("at"), new Date(data.at).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai" }));
  text($("contacts"), data.contacts_15min);
  text($("self-service"), data.self_service_rate_15min == null ? null : `${Math.round(data.self_service_rate_15min * 100)}%`);
  text($("seats-online"), data.seats_online);
  const st = data.staffing || {};
  text($("c-without"), st.erlang_c_without); text($("c-with"), st.erlang_c_with);
  text($("a-without"), st.erlang_a_without); text($("a-with"), st.erlang_a_with);
  $("alerts").replaceChildren();
  for (const a of data.alerts) item($("alerts"), [[`${a.label}（${a.region === "*" ? T.everywhere : a.region}）`, null], [T.expected(a.count, a.expected), "up"]]);
  $("hot").replaceChildren();
  for (const t of data.hot_topics) item($("hot"), [[t.label, null], [` ${t.last_hour}`, null], [t.last_hour > t.hour_before ? T.rising : "", "up"]]);
  $("queue").replaceChildren();
  for (const q of data.queue) {
    const tr = document.createElement("tr");
    for (const v of [q.city || T.unknownCity, q.open, q.oldest_minutes ?? "–", q.seats_online]) { const td = document.createElement("td"); td.textContent = v; tr.append(td); }
    $("queue").append(tr);
  }
}

async function refresh() {
  const response = await fetch("/v1/wall", { credentials: "same-origin" });
  if (response.status === 401 || response.status === 403) {
    $("wall").hidden = true; $("sign-in").hidden = false;
    return false;
  }
  if (response.ok) { $("sign-in").hidden = true; $("wall").hidden = false; show(await response.json()); }
  return true;
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const response = await fetch("/v1/auth/login", {
    method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
  });
  $("sign-in-error").textContent = response.ok ? "" : T.signInFailed;
  if (response.ok) refresh();
});

document.title = T.title;
for (const node of document.querySelectorAll("[data-t]")) node.textContent = T[node.dataset.t];
refresh();
setInterval(refresh, REFRESH_MS);
