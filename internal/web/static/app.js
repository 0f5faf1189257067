// bizsec console: a client of the REST API, like any other. Every setting
// is described below (label, help from the platform's documentation, unit,
// control); the wire names stay on the wire.
"use strict";

const $ = (id) => document.getElementById(id);
const ENABLED = "com.soa.feature.enabled", DISABLED = "com.soa.feature.disabled";
const state = { tenant: "", business: "", tab: "loginpolicy", etag: "", data: null, canWrite: false, dirty: false };

// kinds of control: feature (on/off over com.soa.feature.*), bool (on/off
// over true/false), number (with unit and limits), choice, text, secret.
const schema = {
  loginpolicy: {
    title: "Lockout and sessions",
    intro: "How failed logins suspend an account, and how long sessions last.",
    groups: [
      ["Lockout", [
        { name: "MaxSequentialFailureAttemptsAllowed", label: "Failed attempts before suspension", kind: "number", unit: "attempts", min: 0, max: 1000,
          help: "Consecutive failed logins (passwords, verification codes, security answers) that suspend the account. 0 turns suspension off." },
        { name: "AttemptsPeriod", label: "Counting window", kind: "number", unit: "minutes", min: 1, max: 1051200,
          help: "Minutes over which failed attempts are counted." },
        { name: "SuspensionMinutes", label: "Suspension", kind: "number", unit: "minutes", min: 1, max: 1051200,
          help: "Minutes the account stays locked after too many failed attempts." },
      ]],
      ["Sessions", [
        { name: "InactiveSessionTimeout", label: "Idle timeout", kind: "number", unit: "minutes", min: 1, max: 1051200,
          help: "Minutes of inactivity before the user is logged out." },
        { name: "ActiveSessionTimeout", label: "Absolute timeout", kind: "number", unit: "minutes", min: 1, max: 1051200,
          help: "Minutes after login when the user is logged out even if active; renewing the session does not extend it." },
        { name: "PersistentSession", label: "Keep the session when the browser closes", kind: "bool",
          help: "Off sends a browser-session cookie, gone when the browser closes." },
        { name: "ConcurrentLogin", label: "Allow several sessions per user", kind: "bool",
          help: "Off ends a user's other sessions (other browsers, devices) when they log in." },
        { name: "AutoLoginExternalDomain", label: "Try external (LDAP) domain login", kind: "choice",
          options: [["com.soa.disabled", "Off"], ["com.soa.enabled", "On"]], help: "Kept by the platform for backwards compatibility only." },
      ]],
    ],
  },
  twofasettings: {
    title: "Two-factor authentication",
    intro: "A code mailed to the user after the password.",
    groups: [
      ["Two-factor login", [
        { name: "TwoFAEnabled", label: "Require a verification code", kind: "bool", help: "Whether 2FA is enabled for logins to this tenant." },
        { name: "CodeValidSeconds", label: "Code lifetime", kind: "number", unit: "seconds", min: 30, max: 86400,
          help: "Period for which a verification code is valid." },
        { name: "MaxAttempts", label: "Tries per code", kind: "number", unit: "attempts", min: 1, max: 100,
          help: "Wrong entries of one code before the user must log in again; each also counts toward suspension." },
      ]],
      ["When to ask", [
        { name: "RecurrenceMode", label: "Ask for a code", kind: "choice",
          options: [["twofa.each.login", "At every login"], ["twofa.once.each.interval", "Once per interval"], ["twofa.login.new.device", "On a new device"]],
          help: "How often 2FA expires." },
        { name: "RecurrenceIntervalMinutes", label: "Interval", kind: "number", unit: "minutes", min: 1, max: 1051200,
          help: "Period after which the user must do 2FA again (once per interval, or how long a device is remembered)." },
        { name: "DeviceCookieName", label: "Device cookie name", kind: "text", optional: true,
          help: "Name of the cookie that marks a device that passed 2FA (default 2fa_cookie)." },
        { name: "DeviceCookieValue", label: "Device cookie value", kind: "text", optional: true,
          help: "Kept and shown; each device gets its own random secret instead." },
      ]],
    ],
  },
  securitysettings: {
    title: "Security",
    intro: "CSRF protection, cookies, enumeration, CAPTCHA and uploads.",
    groups: [
      ["CSRF and cookies", [
        { name: "WriteRequestCSRFSupport", label: "CSRF header on changes", kind: "feature", help: "CSRF validation for POST, PUT and DELETE." },
        { name: "ReadRequestCSRFSupport", label: "CSRF header on reads", kind: "feature", help: "CSRF validation for GET." },
        { name: "AuthTokenCookieSameSite", label: "Cookie SameSite", kind: "choice",
          options: [["Lax", "Lax (recommended)"], ["Strict", "Strict"], ["None", "None (cross-site; needs HTTPS)"]],
          help: "Whether browsers send the session cookie on requests from other sites." },
        { name: "AuthTokenCookieDomain", label: "Cookie domain", kind: "text",
          help: "com.soa.auth.token.cookie.domain.hostname for this host only, or a parent domain of it." },
      ]],
      ["Accounts", [
        { name: "AllowUserEnum", label: "Say whether an email is registered", kind: "feature",
          help: "Off gives unknown and known emails the same answers (stricter)." },
        { name: "UserModifyEmail", label: "Users may change their email", kind: "feature", help: "Whether a user can change their own email." },
        { name: "SiteAdminModifyEmail", label: "Site Admins may change users' emails", kind: "feature",
          help: "Whether a Site Admin can start an email change for another user." },
      ]],
      ["Security questions", [
        { name: "ChallengeCount", label: "Questions each user answers", kind: "number", unit: "questions", min: 0, max: 20,
          help: "Number of challenge questions a user must answer; at most the active questions." },
        { name: "EncryptChallengeAnswers", label: "Encrypt answers", kind: "feature",
          help: "On stores answers encrypted with the server key; off stores argon2id hashes." },
      ]],
      ["CAPTCHA", [
        { name: "CaptchaSupport", label: "Require a CAPTCHA at login and reset", kind: "feature", help: "Needs the site key and secret below." },
        { name: "CaptchaSiteKey", label: "Site key", kind: "text", optional: true, help: "The CAPTCHA provider's public site key." },
        { name: "CaptchaSiteSecret", label: "Site secret", kind: "secret", optional: true,
          help: "Write-only: shown masked; leave it to keep the stored secret." },
      ]],
      ["Content and uploads", [
        { name: "XssKeywords", label: "Refused keywords", kind: "text", help: "Comma-separated words refused in question text and file names." },
        { name: "WhiteListKeywordsSupport", label: "Only allowed special characters", kind: "feature",
          help: "On refuses special characters not in the list below." },
        { name: "WhiteListKeywords", label: "Allowed special characters", kind: "text", help: "The special characters allowed in user text." },
        { name: "AllowedFileTypes", label: "Allowed file types", kind: "text", help: "Comma-separated media types that may be uploaded." },
        { name: "AllowedFileTypesStrictPolicy", label: "Check file content", kind: "feature",
          help: "On checks that a file's content is its claimed type and carries no script." },
        { name: "ExternalDocSupport", label: "External documentation", kind: "feature", help: "Whether documentation may link outside the platform." },
      ]],
    ],
  },
};

const questionColumns = [
  { name: "ChallengeCode", label: "Code", kind: "text" },
  { name: "ChallengeQuestion", label: "Question", kind: "text" },
  { name: "Active", label: "Active", kind: "bool" },
  { name: "IsCaseSensitive", label: "Case-sensitive", kind: "bool" },
  { name: "CanContainSpaces", label: "Spaces allowed", kind: "bool" },
  { name: "MinimumLength", label: "Min length", kind: "number", min: 0, max: 2048 },
  { name: "MaximumLength", label: "Max length", kind: "number", min: 0, max: 2048 },
  { name: "MinimumAlphaCount", label: "Min letters", kind: "number", min: 0, max: 2048 },
  { name: "MinimumNumberCount", label: "Min digits", kind: "number", min: 0, max: 2048 },
  { name: "MinimumUpperCaseLetterCount", label: "Min capitals", kind: "number", min: 0, max: 2048 },
  { name: "MinimumSpecialCharacterCount", label: "Min specials", kind: "number", min: 0, max: 2048 },
  { name: "AllowedSpecialCharacters", label: "Allowed specials", kind: "specials" },
];

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v === true ? "" : v);
  }
  e.append(...children);
  return e;
}

function csrfHeader() {
  const name = "Csrf-Token_" + state.tenant;
  for (const part of document.cookie.split("; ")) {
    const i = part.indexOf("=");
    if (part.slice(0, i) === name) return { ["X-Csrf-Token_" + state.tenant]: part.slice(i + 1) };
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
  await fetch("/api/login/logout", { method: "POST", headers: csrfHeader(), credentials: "same-origin" });
  state.dirty = false;
  location.reload();
});

$("business-form").addEventListener("submit", (ev) => { ev.preventDefault(); openBusiness(); });

for (const b of document.querySelectorAll("#tabs button")) {
  b.addEventListener("click", () => {
    if (state.dirty && !confirm("Discard your unsaved changes?")) return;
    state.tab = b.dataset.tab;
    load();
  });
}

window.addEventListener("beforeunload", (ev) => { if (state.dirty) ev.preventDefault(); });
$("settings-form").addEventListener("input", () => { state.dirty = true; $("form-status").textContent = "Unsaved changes"; });
$("revert").addEventListener("click", () => { state.dirty = false; render(state.data); $("form-status").textContent = "Reverted"; });

async function openBusiness() {
  state.business = $("business").value.trim();
  try {
    const { data } = await api("GET", base() + "/myrole");
    state.canWrite = data.CanWrite;
    $("role-note").textContent = data.CanWrite ? "You are a Site Admin of this business." :
      "You are an Auditor of this business: you can read its settings, not change them.";
  } catch (e) {
    state.canWrite = false;
    $("role-note").textContent = e.message;
  }
  load();
}

function base() { return "/api/businesses/" + encodeURIComponent(state.business); }

async function load() {
  state.dirty = false;
  for (const b of document.querySelectorAll("#tabs button")) {
    const on = b.dataset.tab === state.tab;
    b.classList.toggle("active", on);
    if (on) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
  const settings = state.tab in schema || state.tab === "challenges";
  $("settings-form").hidden = !settings;
  $("history").hidden = !settings;
  $("panel").replaceChildren();
  $("form-error").textContent = "";
  $("form-status").textContent = "";
  $("fields").replaceChildren();
  $("save").hidden = $("revert").hidden = !state.canWrite;
  if (state.tab === "accounts") return loadAccounts();
  if (state.tab === "check") return loadCheck();
  const s = schema[state.tab];
  $("settings-title").textContent = s ? s.title : "Security questions";
  $("settings-intro").textContent = s ? s.intro : "The questions users answer to reset a password. Users answer the active ones.";
  try {
    const q = state.tab === "challenges" ? "?IncludeInactive=true" : "";
    const { data, etag } = await api("GET", base() + "/" + state.tab + q);
    state.data = data;
    state.etag = etag;
    render(data);
  } catch (e) {
    $("form-error").textContent = e.message;
  }
  loadHistory();
}

// control builds the input for one field; id and value set by the caller.
function control(f, value, id, described) {
  let input;
  const disabled = !state.canWrite;
  switch (f.kind) {
    case "feature":
    case "bool":
      input = el("input", { type: "checkbox", role: "switch", id, "aria-describedby": described, disabled });
      input.checked = f.kind === "feature" ? value === ENABLED : value === true || value === "true";
      break;
    case "choice":
      input = el("select", { id, "aria-describedby": described, disabled });
      for (const [v, label] of f.options) input.append(new Option(label, v));
      input.value = value === undefined ? f.options[0][0] : value; // a field the server leaves out is at its default
      input.dataset.default = f.options[0][0];
      break;
    case "number":
      input = el("input", { type: "number", id, min: f.min, max: f.max, step: 1, inputmode: "numeric", "aria-describedby": described, disabled });
      input.value = value === undefined ? "" : String(value);
      break;
    case "secret":
      input = el("input", { type: "password", id, autocomplete: "off", "aria-describedby": described, disabled });
      input.value = value || "";
      break;
    case "specials":
      input = el("input", { type: "text", id, "aria-describedby": described, disabled, size: 6 });
      input.value = ((value && value.AllowedSpecialCharacter) || []).join("");
      break;
    default:
      input = el("input", { type: "text", id, "aria-describedby": described, disabled });
      input.value = value === undefined ? "" : String(value);
  }
  input.dataset.kind = f.kind;
  return input;
}

function render(data) {
  state.dirty = false;
  const fields = $("fields");
  fields.replaceChildren();
  if (state.tab === "challenges") return renderQuestions(data);
  for (const [legend, list] of schema[state.tab].groups) {
    const fs = el("fieldset", {}, el("legend", { text: legend }));
    for (const f of list) {
      if (f.optional && data[f.name] === undefined && f.kind !== "secret" && f.kind !== "text") continue;
      const id = "f-" + f.name, help = "h-" + f.name;
      const row = el("div", { class: "field", "data-name": f.name });
      const label = el("label", { for: id, text: f.label });
      const input = control(f, data[f.name], id, help + " m-" + f.name);
      const unit = f.unit ? el("span", { class: "unit", text: f.unit }) : "";
      const wrap = el("div", { class: "control" }, input, unit);
      row.append(label, wrap, el("p", { class: "help", id: help, text: f.help }),
        el("p", { class: "message", id: "m-" + f.name, role: "status" }));
      fs.append(row);
    }
    fields.append(fs);
  }
}

function renderQuestions(data) {
  const table = el("table", { id: "questions" });
  const head = el("tr");
  for (const c of questionColumns) head.append(el("th", { scope: "col", text: c.label }));
  head.append(el("th", { scope: "col", text: "Remove" }));
  table.append(el("caption", { text: "Security questions" }), el("thead", {}, head));
  const body = el("tbody", { id: "questions-body" });
  (data.Challenge || []).forEach((q) => body.append(questionRow(q)));
  table.append(body);
  const add = el("button", { type: "button", id: "add-question", text: "Add a question", disabled: !state.canWrite });
  add.addEventListener("click", () => {
    body.append(questionRow({ Active: true, CanContainSpaces: true }));
    state.dirty = true;
    body.lastChild.querySelector("input").focus();
  });
  $("fields").append(el("div", { class: "table-wrap" }, table), add);
}

let rowCount = 0;
function questionRow(q) {
  const n = ++rowCount;
  const tr = el("tr", { class: "question" });
  for (const c of questionColumns) {
    const id = "q" + n + "-" + c.name;
    const input = control(c, q[c.name], id);
    input.dataset.name = c.name;
    input.setAttribute("aria-label", c.label + " of question " + n);
    tr.append(el("td", {}, input));
  }
  const remove = el("button", { type: "button", class: "remove", text: "Remove", "aria-label": "Remove question " + n, disabled: !state.canWrite });
  remove.addEventListener("click", () => { tr.remove(); state.dirty = true; });
  tr.append(el("td", {}, remove));
  return tr;
}

function valueOf(input, before) {
  switch (input.dataset.kind) {
    case "feature": return input.checked ? ENABLED : DISABLED;
    case "bool": return typeof before === "string" ? String(input.checked) : input.checked;
    case "number": {
      const v = input.value.trim();
      if (!/^-?\d+$/.test(v)) return v; // the server names the field
      return typeof before === "string" ? v : Number(v);
    }
    case "specials": return { AllowedSpecialCharacter: [...input.value.replace(/\s/g, "")] };
    default: return input.value;
  }
}

function collect() {
  if (state.tab === "challenges") {
    const out = [];
    for (const tr of document.querySelectorAll("#questions-body tr")) {
      const q = {};
      for (const input of tr.querySelectorAll("[data-name]")) {
        const v = valueOf(input, undefined);
        if (input.dataset.kind === "number" && input.value.trim() === "") continue;
        q[input.dataset.name] = v;
      }
      out.push(q);
    }
    return { Challenge: out };
  }
  const out = {};
  for (const row of document.querySelectorAll("#fields .field")) {
    const name = row.dataset.name;
    const input = row.querySelector("input, select");
    const v = valueOf(input, state.data[name]);
    if (input.dataset.kind === "secret" && (v === "" || v === state.data[name])) continue; // keep the stored secret
    if (input.dataset.kind === "text" && v === "" && state.data[name] === undefined) continue;
    if (input.dataset.kind === "choice" && state.data[name] === undefined && v === input.dataset.default) continue;
    out[name] = v;
  }
  return out;
}

function showError(message) {
  $("form-error").textContent = message;
  for (const row of document.querySelectorAll("#fields .field")) {
    const named = message !== "" && new RegExp("\\b" + row.dataset.name + "\\b").test(message);
    row.classList.toggle("invalid", named);
    const input = row.querySelector("input, select");
    if (named) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
    row.querySelector(".message").textContent = named ? message.split("; ").filter((m) => m.includes(row.dataset.name)).join("; ") : "";
  }
}

$("settings-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!state.canWrite) return;
  $("form-status").textContent = "";
  try {
    const { data, etag } = await api("PUT", base() + "/" + state.tab, collect(), state.etag ? { "If-Match": state.etag } : {});
    state.data = data;
    state.etag = etag;
    render(data);
    showError("");
    $("form-status").textContent = "Saved (version " + (etag || "").replace(/"/g, "") + ")";
    loadHistory();
  } catch (e) {
    showError(e.status === 412 ? "Someone else changed these settings; revert or reload to see their change. (" + e.message + ")" : e.message);
  }
});

// loadHistory shows who changed the object when, and what changed.
async function loadHistory() {
  const list = $("history-list");
  list.replaceChildren();
  try {
    const { data } = await api("GET", base() + "/audit?limit=20&setting=" + state.tab);
    if (!data.AuditEntry.length) list.append(el("li", { text: "No changes yet: the platform's defaults apply." }));
    for (const e of data.AuditEntry) {
      const changes = el("ul", { class: "diff" });
      for (const d of diff(e.Old, e.New)) changes.append(el("li", {}, el("strong", { text: d[0] }), ": ", el("del", { text: d[1] }), " → ", el("ins", { text: d[2] })));
      list.append(el("li", {}, el("span", { class: "when", text: new Date(e.Time).toLocaleString() }), " ",
        el("span", { text: (e.Email || e.UserID) + " made version " + e.Version }), changes));
    }
  } catch (e) {
    list.append(el("li", { text: e.message }));
  }
}

function diff(before, after) {
  const out = [];
  const show = (v) => v === undefined ? "(unset)" : typeof v === "object" ? JSON.stringify(v) : String(v);
  if (Array.isArray(before) || Array.isArray(after)) {
    const b = JSON.stringify(before), a = JSON.stringify(after);
    if (b !== a) out.push(["Questions", (before || []).length + " questions", (after || []).length + " questions"]);
    return out;
  }
  for (const k of new Set([...Object.keys(before || {}), ...Object.keys(after || {})])) {
    if (JSON.stringify((before || {})[k]) !== JSON.stringify((after || {})[k])) out.push([labelOf(k), show((before || {})[k]), show((after || {})[k])]);
  }
  return out;
}

function labelOf(name) {
  for (const s of Object.values(schema)) for (const [, list] of s.groups) for (const f of list) if (f.name === name) return f.label;
  return name;
}

async function loadAccounts() {
  $("settings-title").textContent = "Accounts";
  $("settings-intro").textContent = "Users whose accounts the lockout policy has suspended.";
  const panel = $("panel");
  try {
    const { data } = await api("GET", base() + "/suspendedusers");
    if (!data.SuspendedUser.length) { panel.append(el("p", { text: "No account is suspended." })); return; }
    const table = el("table", { id: "suspended" }, el("caption", { text: "Suspended accounts" }),
      el("thead", {}, el("tr", {}, ...["User", "Email", "Suspended until", "Action"].map((t) => el("th", { scope: "col", text: t })))));
    const body = el("tbody");
    for (const u of data.SuspendedUser) {
      const unlock = el("button", { type: "button", text: "Unlock", "aria-label": "Unlock " + u.Email, disabled: !state.canWrite });
      unlock.addEventListener("click", async () => {
        try {
          await api("POST", base() + "/suspendedusers/" + encodeURIComponent(u.UserID) + "/unlock");
          loadAccounts();
        } catch (e) { panel.append(el("p", { class: "error", role: "alert", text: e.message })); }
      });
      body.append(el("tr", {}, el("td", { text: u.UserName }), el("td", { text: u.Email }),
        el("td", { text: new Date(u.SuspendedUntil).toLocaleString() }), el("td", {}, unlock)));
    }
    table.append(body);
    panel.replaceChildren(el("div", { class: "table-wrap" }, table));
  } catch (e) {
    panel.append(el("p", { class: "error", role: "alert", text: e.message }));
  }
}

async function loadCheck() {
  $("settings-title").textContent = "Standards check";
  $("settings-intro").textContent = "This business's settings rated against OWASP ASVS 4.0.3 and NIST SP 800-63B.";
  const panel = $("panel");
  try {
    const { data } = await api("GET", base() + "/securitycheck");
    const list = el("ul", { id: "findings" });
    for (const f of data.Finding) {
      list.append(el("li", { class: "finding " + f.Status },
        el("span", { class: "badge", text: f.Status.toUpperCase() }), " ", el("strong", { text: f.Reason }), el("br"),
        el("small", { text: f.Requirement })));
    }
    panel.append(list);
  } catch (e) {
    panel.append(el("p", { class: "error", role: "alert", text: e.message }));
  }
}

// A session that is still live (a reload) goes straight to the settings.
api("GET", "/api/login/status").then(({ data }) => loggedIn(data)).catch(() => {});
