// The JSON API: one fetch wrapper whose failures are plain objects the pages can show.

export function failure(status, error) {
  error = error || {};
  return { failed: true, status: status, code: error.code || (status ? "http_error" : "network"),
           message: error.message || (status ? "HTTP " + status : "网络连接失败，请检查网络后重试。"),
           details: error.details || null, error: error };
}

// What a 401 (other than at sign-in) does: main.js hands in auth's sessionExpired.
var onSessionExpired = function () {};

export function whenSessionExpires(handler) {
  onSessionExpired = handler;
}

// Resolves with the JSON body (null for 204); rejects with a `failure`. A 401 asks for a new sign-in
// over the page, so that nothing on it is lost.
export function api(method, path, body, options) {
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
        if (response.status === 401 && !options.signingIn) onSessionExpired();
        throw problem;
      });
    }, function () {
      throw failure(0, null);
    });
}

export function query(params) {
  var parts = [];
  Object.keys(params).forEach(function (key) {
    var value = params[key];
    if (value == null || value === "") return;
    parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(value));
  });
  return parts.length ? "?" + parts.join("&") : "";
}

export function listOf(data, key) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data[key])) return data[key];
  if (data && Array.isArray(data.items)) return data.items;
  return [];
}

// The id of the open change a 409 `change_open` names, wherever the API put it.
export function openChangeId(problem) {
  var e = problem.error || {};
  var candidates = [e.change_id, e.id];
  var details = Array.isArray(problem.details) ? problem.details : (problem.details ? [problem.details] : []);
  details.forEach(function (d) { if (d && typeof d === "object") candidates.push(d.change_id, d.id); });
  for (var i = 0; i < candidates.length; i++) if (candidates[i] != null && candidates[i] !== "") return candidates[i];
  var m = /#\s*(\d+)/.exec(problem.message || "") || /change[^0-9]{0,12}(\d+)/i.exec(problem.message || "") || /(\d+)/.exec(problem.message || "");
  return m ? m[1] : null;
}
