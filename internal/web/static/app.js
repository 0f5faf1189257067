// bizsec console: a client of the REST API, like any other.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { tenant: "", business: "", tab: "loginpolicy", etag: "", data: null };

// Enumerated fields get a select; booleans a checkbox; the rest text or number.
const choices = {
  RecurrenceMode: ["twofa.each.login", "twofa.once.each.interval", "twofa.login.new.device"],
  AuthTokenCookieSameSite: ["Lax", "Strict", "None"],
  AutoLoginExternalDomain: ["com.soa.disabled", "com.soa.enabled"],
};
const features = ["com.soa.feature.enabled", "com.soa.feature.disabled"];
const titles = { twofasettings: "Two-factor authentication", loginpolicy: "Login policy",
  securitysettings: "Security settings", challenges: "Security questions" };

function csrfHeader() {
  const name = "Csrf-Token_" + state.tenant;
  for (const part of document.cookie.split("; ")) {
    const [k, v] = part.split("=");
    if (k === name) return { ["X-Csrf-Token_" + state.tenant]: v };
  }
  return {};
}

async function api(method, path, body, headers = {}) {
  const opts = { method, headers: { Accept: "application/json", ...csrfHeader(), ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (!resp.ok) {
    const err = new Error(data && data.faultstring ? data.faultstring : resp.status + " " + resp.statusText);
    err.status = resp.status;
    throw err;
  }
  return { data, etag: resp.headers.get("ETag") };
}

function loggedIn(resp) {
  state.tenant = (resp.loginDomainID || "").replace(/^siteusers\./, "");
  $("who").textContent = resp.userName || "";
  $("logout").hidden = false;
  $("login-view").hidden = true;
  $("settings-view").hidden = false;
  $("business").value = $("business").value || "tenantbusiness." + state.tenant;
  openBusiness();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    const { data } = await api("POST", "/api/login", { email: $("email").value, password: $("password").value });
    if ((data.pendingTasks || []).includes("2fa.verification.code")) {
      $("login-form").hidden = true;
      $("code-form").hidden = false;
      $("code").focus();
      return;
    }
    loggedIn(data);
  } catch (e) {
    $("login-error").textContent = e.message;
  }
});

$("code-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    const { data } = await api("POST", "/api/login/pendingtasks",
      { parameters: { "2fa.verification.code": $("code").value, Action: "validate" } });
    loggedIn(data);
  } catch (e) {
    $("login-error").textContent = e.message;
    if (/log in again/.test(e.message)) { $("code-form").hidden = true; $("login-form").hidden = false; }
  }
});

$("logout").addEventListener("click", async () => {
  await fetch("/api/login/endsession", { credentials: "same-origin" });
  location.reload();
});

$("business-form").addEventListener("submit", (ev) => { ev.preventDefault(); openBusiness(); });

for (const b of document.querySelectorAll("#tabs button")) {
  b.addEventListener("click", () => { state.tab = b.dataset.tab; load(); });
}

function openBusiness() {
  state.business = $("business").value.trim();
  load();
}

async function load() {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === state.tab);
  $("settings-title").textContent = titles[state.tab];
  $("form-error").textContent = "";
  $("form-status").textContent = "";
  $("fields").replaceChildren();
  try {
    const q = state.tab === "challenges" ? "?IncludeInactive=true" : "";
    const { data, etag } = await api("GET", path() + q);
    state.data = data;
    state.etag = etag;
    render(data);
  } catch (e) {
    $("form-error").textContent = e.message;
  }
}

function path() { return "/api/businesses/" + encodeURIComponent(state.business) + "/" + state.tab; }

function render(data) {
  const fields = $("fields");
  if (state.tab === "challenges") {
    const ta = document.createElement("textarea");
    ta.id = "challenges-json";
    ta.value = JSON.stringify(data, null, 2);
    fields.append(ta);
    return;
  }
  for (const [name, value] of Object.entries(data)) {
    const row = document.createElement("div");
    row.className = "field";
    row.dataset.name = name;
    const label = document.createElement("label");
    label.textContent = name;
    label.htmlFor = "f-" + name;
    let input;
    const options = choices[name] || (typeof value === "string" && features.includes(value) ? features : null);
    if (options) {
      input = document.createElement("select");
      for (const o of options) input.append(new Option(o, o));
      input.value = value;
    } else if (typeof value === "boolean" || value === "true" || value === "false") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = value === true || value === "true";
    } else {
      input = document.createElement("input");
      input.type = typeof value === "number" || /^-?\d+$/.test(value) ? "number" : "text";
      input.value = value;
    }
    input.id = "f-" + name;
    input.name = name;
    const message = document.createElement("span");
    message.className = "message";
    row.append(label, input, message);
    fields.append(row);
  }
}

function collect() {
  if (state.tab === "challenges") return JSON.parse($("challenges-json").value);
  const out = {};
  for (const row of document.querySelectorAll("#fields .field")) {
    const input = row.querySelector("input, select");
    const before = state.data[row.dataset.name];
    let v = input.type === "checkbox" ? input.checked : input.value;
    if (typeof before === "string" && input.type === "checkbox") v = String(v);
    if (typeof before === "number") v = input.value.trim() === "" ? input.value : Number(input.value);
    out[row.dataset.name] = v;
  }
  return out;
}

function showError(message) {
  $("form-error").textContent = message;
  // Mark each field the server's message names.
  for (const row of document.querySelectorAll("#fields .field")) {
    const named = new RegExp("\\b" + row.dataset.name + "\\b").test(message);
    row.classList.toggle("invalid", named);
    row.querySelector(".message").textContent = named ? message.split("; ").filter((m) => m.includes(row.dataset.name)).join("; ") : "";
  }
}

$("settings-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("form-status").textContent = "";
  let body;
  try {
    body = collect();
  } catch (e) {
    showError("Not valid JSON: " + e.message);
    return;
  }
  try {
    const { data, etag } = await api("PUT", path(), body, state.etag ? { "If-Match": state.etag } : {});
    state.data = data;
    state.etag = etag;
    $("fields").replaceChildren();
    render(data);
    showError("");
    $("form-status").textContent = "Saved (version " + (etag || "").replace(/"/g, "") + ")";
  } catch (e) {
    showError(e.status === 412 ? "Someone else changed these settings; reload to see their change. (" + e.message + ")" : e.message);
  }
});

// A session that is still live (a reload) goes straight to the settings.
api("GET", "/api/login/status").then(({ data }) => loggedIn(data)).catch(() => {});
