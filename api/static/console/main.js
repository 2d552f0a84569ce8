// The editors' console: one page, hash routes, every datum from the JSON API.
// Nothing from the server is ever parsed as HTML: every text goes in through textContent.
// console.html loads this module; it imports the rest (native ES modules, no build step).

import { bindElements, signIn } from "./state.js";
import { api, whenSessionExpires } from "./api.js";
import { sessionExpired, showSignIn, signedIn, signOut, submitSignIn } from "./auth.js";
import { defineRoutes, route } from "./router.js";
import { renderEntries } from "./pages/entries.js";
import { renderEntry } from "./pages/entry.js";
import { renderNewEntry } from "./pages/new-entry.js";
import { renderChange } from "./pages/change.js";
import { renderChanges } from "./pages/changes.js";
import { renderReview } from "./pages/review.js";
import { renderGaps } from "./pages/gaps.js";
import { ALERT_ROLES, refreshAlertCount, renderAlerts } from "./pages/alerts.js";
import { renderImport } from "./pages/imports.js";
import { renderAudit } from "./pages/audit.js";
import { renderAccounts } from "./pages/accounts.js";

var ROUTES = {
  entries: { roles: ["editor", "reviewer", "seat", "admin"], render: function (r) { return renderEntries(r.params); } },
  entry: { roles: ["editor", "reviewer", "seat", "admin"], render: function (r) { return renderEntry(r.parts[1]); } },
  "new": { roles: ["editor"], render: function (r) { return renderNewEntry(r.params); } },
  change: { roles: ["editor", "reviewer"], render: function (r) { return renderChange(r.parts[1]); } },
  changes: { roles: ["editor", "reviewer"], render: function (r) { return renderChanges(r.params); } },
  review: { roles: ["reviewer"], render: function () { return renderReview(); } },
  gaps: { roles: ["editor", "reviewer"], render: function () { return renderGaps(); } },
  alerts: { roles: ALERT_ROLES, render: function () { return renderAlerts(); } },
  "import": { roles: ["editor"], render: function () { return renderImport(); } },
  audit: { roles: ["reviewer", "admin"], render: function (r) { return renderAudit(r.params); } },
  accounts: { roles: ["admin"], render: function () { return renderAccounts(); } }
};

function start() {
  bindElements();
  whenSessionExpires(sessionExpired);
  defineRoutes(ROUTES);
  document.getElementById("sign-in-form").addEventListener("submit", submitSignIn);
  document.getElementById("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  window.addEventListener("hashchange", refreshAlertCount);
  document.addEventListener("console:signed-in", refreshAlertCount);
  setInterval(refreshAlertCount, 60000);
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
