// bizsec console: a client of the REST API, like any other. Every setting
// is described below (label, help from the platform's documentation, unit,
// limits, control); the wire names stay on the wire. A Save sends back the
// object the server gave, with only the fields the admin touched changed,
// so a field this page does not know survives it.
"use strict";

const $ = (id) => document.getElementById(id);
const ENABLED = "com.soa.feature.enabled", DISABLED = "com.soa.feature.disabled";
const HOSTNAME = "com.soa.auth.token.cookie.domain.hostname";
const MAX_MINUTES = 1051200;
const state = {
  tenant: "", userID: "", email: "", loggedIn: false,
  business: "", tab: "loginpolicy", route: "", role: "", canWrite: false,
  etag: "", data: null, dirty: false, questions: [], other: null, historyBefore: 0, loadSeq: 0,
};

const TABS = {
  loginpolicy: "Lockout and sessions", twofasettings: "Two-factor", securitysettings: "Security",
  challenges: "Security questions", accounts: "Accounts", check: "Standards check",
};

// Readable names of the platform's constants, wherever they show.
const CONSTANTS = {
  [ENABLED]: "On", [DISABLED]: "Off", "com.soa.enabled": "On", "com.soa.disabled": "Off",
  [HOSTNAME]: "This host only",
  "twofa.each.login": "At every login", "twofa.once.each.interval": "Once per interval", "twofa.login.new.device": "On a new device",
};

// kinds of control: feature (on/off over com.soa.feature.*), bool (on/off
// over true/false), number (with unit and limits), choice, domain (the
// cookie domain: this host or a parent domain), text, secret.
const schema = {
  loginpolicy: {
    title: "Lockout and sessions",
    intro: "How failed logins suspend an account, and how long sessions last.",
    groups: [
      ["Lockout", [
        { name: "MaxSequentialFailureAttemptsAllowed", label: "Failed attempts before suspension", kind: "number", unit: "attempts", min: 0, max: 1000,
          help: "Consecutive failed logins (passwords, verification codes, security answers) that suspend the account. 0 turns suspension off." },
        { name: "AttemptsPeriod", label: "Counting window", kind: "number", unit: "minutes", min: 1, max: MAX_MINUTES,
          help: "Minutes over which failed attempts are counted." },
        { name: "SuspensionMinutes", label: "Suspension", kind: "number", unit: "minutes", min: 1, max: MAX_MINUTES,
          help: "Minutes the account stays locked after too many failed attempts." },
      ]],
      ["Sessions", [
        { name: "InactiveSessionTimeout", label: "Idle timeout", kind: "number", unit: "minutes", min: 1, max: MAX_MINUTES,
          help: "Minutes of inactivity before the user is logged out." },
        { name: "ActiveSessionTimeout", label: "Absolute timeout", kind: "number", unit: "minutes", min: 1, max: MAX_MINUTES,
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
        { name: "RecurrenceIntervalMinutes", label: "Interval", kind: "number", unit: "minutes", min: 1, max: MAX_MINUTES,
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
        { name: "AuthTokenCookieDomain", label: "Cookie domain", kind: "domain",
          help: "Which hosts get the session cookie: this host only (recommended), or every host under a parent domain of it." },
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

// The fields of one security question, as its editor shows them.
const questionFields = [
  { name: "ChallengeCode", label: "Code", kind: "text", help: "A stable identifier; users' answers are kept under it." },
  { name: "ChallengeQuestion", label: "Question", kind: "textarea" },
  { name: "Active", label: "Active", kind: "bool", help: "Users answer active questions only." },
  { name: "IsCaseSensitive", label: "Case-sensitive answers", kind: "bool" },
  { name: "CanContainSpaces", label: "Spaces allowed in answers", kind: "bool" },
  { name: "MinimumLength", label: "Minimum length", kind: "count" },
  { name: "MaximumLength", label: "Maximum length", kind: "count" },
  { name: "MinimumAlphaCount", label: "Minimum letters", kind: "count" },
  { name: "MaximumAlphaCount", label: "Maximum letters", kind: "count" },
  { name: "MinimumNumberCount", label: "Minimum digits", kind: "count" },
  { name: "MaximumNumberCount", label: "Maximum digits", kind: "count" },
  { name: "MinimumUpperCaseLetterCount", label: "Minimum capital letters", kind: "count" },
  { name: "MinimumSpecialCharacterCount", label: "Minimum special characters", kind: "count" },
  { name: "AllowedSpecialCharacters", label: "Special characters", kind: "specials" },
];
const COUNT_MAX = 2048;

const allFields = Object.values(schema).flatMap((s) => s.groups.flatMap(([, list]) => list));
const fieldOf = (name) => allFields.find((f) => f.name === name);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false || v === null) continue;
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v === true ? "" : v);
  }
  e.append(...children.filter((c) => c !== undefined && c !== null && c !== ""));
  return e;
}

const clone = (v) => v === undefined ? undefined : JSON.parse(JSON.stringify(v));

// ---- talking to the server ----

function csrfHeader() {
  const name = "Csrf-Token_" + state.tenant;
  for (const part of document.cookie.split("; ")) {
    const i = part.indexOf("=");
    if (part.slice(0, i) === name) return { ["X-Csrf-Token_" + state.tenant]: part.slice(i + 1) };
  }
  return {};
}

let reauthWait = null; // the pending re-login that refused requests wait on

// api sends one request. A 401 on a logged-in page is an ended session:
// the login dialog opens over the page, and the request is sent again
// (with the new session's cookies) once the user has logged in.
async function api(method, path, body, headers = {}, opts = {}) {
  for (let attempt = 0; ; attempt++) {
    const req = { method, headers: { Accept: "application/json", ...csrfHeader(), ...headers }, credentials: "same-origin" };
    if (body !== undefined) {
      req.headers["Content-Type"] = "application/json";
      req.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, req);
    } catch {
      throw Object.assign(new Error("The server could not be reached; check the connection and try again."), { status: 0 });
    }
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (resp.ok) return { data, etag: resp.headers.get("ETag") };
    const err = new Error(data && data.faultstring ? data.faultstring : resp.status + " " + resp.statusText);
    err.status = resp.status;
    err.code = data && data.faultcode;
    if (resp.status === 401 && state.loggedIn && !opts.noReauth && err.code !== "AccountSuspended" && attempt < 3) {
      await reauthenticate();
      continue;
    }
    throw err;
  }
}

function reauthenticate() {
  if (!reauthWait) {
    reauthWait = new Promise((resolve) => {
      const dialog = $("reauth");
      const widget = loginWidget("r-", {
        email: state.email,
        done: (resp) => { dialog.close(); reauthWait = null; sessionStarted(resp); resolve(); },
        another: () => leave(() => endSession()),
      });
      $("reauth-box").replaceChildren(widget);
      dialog.oncancel = (ev) => {
        ev.preventDefault(); // Escape would leave the page half logged in; the dialog says what to do
      };
      dialog.showModal();
      $("r-password").focus();
    });
  }
  return reauthWait;
}

// ---- logging in ----

// mask shows enough of an address to recognize it: a•••n@acme.example.
function mask(email) {
  const at = email.lastIndexOf("@");
  if (at < 1) return "";
  const local = email.slice(0, at);
  return (local.length <= 2 ? local[0] : local[0] + "•••" + local[local.length - 1]) + email.slice(at);
}

// loginWidget builds the password step, the code step and the suspended
// state; prefix "" for the login page, "r-" for the re-login dialog.
function loginWidget(p, { email = "", done, another }) {
  const errorBox = el("p", { class: "error", id: p + "login-error", role: "alert" });
  const emailIn = el("input", { id: p + "email", type: "email", autocomplete: "username", required: true });
  emailIn.value = email;
  const pw = el("input", { id: p + "password", type: "password", autocomplete: "current-password", required: true });
  const form = el("form", { id: p + "login-form", class: "login" },
    el("label", { for: p + "email", text: "Email" }), emailIn,
    el("label", { for: p + "password", text: "Password" }), pw,
    el("button", { type: "submit", id: p + "login-button", text: "Log in" }));
  const codeHelp = el("p", { id: p + "code-help" });
  const code = el("input", { id: p + "code", class: "code", inputmode: "numeric", autocomplete: "one-time-code",
    "aria-describedby": p + "code-help", required: true, maxlength: 20 });
  const resend = el("button", { type: "button", id: p + "resend", text: "Send a new code" });
  const other = el("button", { type: "button", id: p + "another", text: "Use another account" });
  const keyButton = el("button", { type: "button", id: p + "use-key", text: "Use your security key or passkey", hidden: true });
  const codePart = el("div", { class: "code-part" },
    el("label", { for: p + "code", text: "Verification code" }), code,
    el("button", { type: "submit", id: p + "code-button", text: "Verify" }));
  const codeTitle = el("h2", { text: "Enter your verification code" });
  const codeForm = el("form", { id: p + "code-form", class: "login", hidden: true },
    codeTitle, codeHelp, keyButton, codePart,
    el("div", { class: "links" }, resend, other));
  let keyOptions = null; // WebAuthn's request options of the pending login
  const suspendedOther = el("button", { type: "button", id: p + "suspended-back", text: "Use another account" });
  const suspended = el("div", { id: p + "suspended", class: "suspended", hidden: true },
    el("h2", { text: "Account suspended" }),
    el("p", { id: p + "suspended-text" }),
    suspendedOther);

  const step = (which) => {
    form.hidden = which !== "password";
    codeForm.hidden = which !== "code";
    suspended.hidden = which !== "suspended";
  };
  const failed = (e) => {
    if (e.code === "AccountSuspended") {
      $(p + "suspended-text").textContent = "Too many failed attempts suspended " + (emailIn.value || "this account") +
        ". It unlocks by itself when the suspension ends, or a Site Admin can unlock it on the Accounts page.";
      errorBox.textContent = "";
      step("suspended");
      suspendedOther.focus();
      return;
    }
    errorBox.textContent = e.status === 429 ? "Too many attempts: wait a few minutes, then try again." : e.message;
    if (/log in again/.test(e.message)) { step("password"); pw.focus(); }
  };
  const start = async () => {
    errorBox.textContent = "";
    try {
      const { data } = await api("POST", "/api/login", { email: emailIn.value, password: pw.value }, {}, { noReauth: true });
      const tasks = data.pendingTasks || [];
      if (tasks.includes("2fa.verification.code") || tasks.includes("2fa.webauthn.assertion")) {
        askFactor(data, tasks);
        return;
      }
      done(data, emailIn.value);
    } catch (e) { failed(e); }
  };
  // askFactor shows the second step for the factors the login answer names:
  // the emailed code (the platform's), an app's code, a recovery code, a key.
  const askFactor = (data, tasks) => {
    const tf = data.twoFactor || { Factors: ["email"], RecoveryCodesLeft: 0 };
    const kinds = tf.Factors || [];
    const withCode = tasks.includes("2fa.verification.code");
    keyOptions = tasks.includes("2fa.webauthn.assertion") && tf.WebAuthn ? tf.WebAuthn.publicKey : null;
    const say = [];
    if (keyOptions) say.push("Use your security key or passkey.");
    if (kinds.includes("email")) say.push("We sent a verification code to " + mask(emailIn.value) + ". Enter it below.");
    if (kinds.includes("totp")) say.push((keyOptions ? "Or enter" : "Enter") + " the code your authenticator app shows.");
    if (kinds.includes("recovery")) say.push("If you cannot use " + (kinds.includes("totp") || keyOptions ? "it" : "that") +
      ", enter one of your " + tf.RecoveryCodesLeft + " recovery codes.");
    say.push("A wrong answer counts as a failed login.");
    codeHelp.textContent = say.join(" ");
    codeTitle.textContent = keyOptions && !withCode ? "Confirm it is you" : "Enter your verification code";
    code.value = "";
    code.required = withCode;
    code.setAttribute("inputmode", kinds.includes("recovery") ? "text" : "numeric");
    codePart.hidden = !withCode;
    resend.hidden = !kinds.includes("email");
    keyButton.hidden = !keyOptions;
    step("code");
    (keyOptions ? keyButton : code).focus();
  };
  keyButton.addEventListener("click", async () => {
    errorBox.textContent = "";
    let assertion;
    try {
      assertion = await navigator.credentials.get({ publicKey: decodeRequest(keyOptions) });
    } catch (e) {
      errorBox.textContent = "The security key did not answer, or you cancelled. Try again" +
        (codePart.hidden ? "." : ", or enter a code.");
      return;
    }
    try {
      const { data } = await api("POST", "/api/login/pendingtasks",
        { parameters: { "2fa.webauthn.assertion": JSON.stringify(credentialJSON(assertion)), Action: "validate" } }, {}, { noReauth: true });
      done(data, emailIn.value);
    } catch (e) { failed(e); }
  });
  form.addEventListener("submit", (ev) => { ev.preventDefault(); start(); });
  resend.addEventListener("click", () => start().then(() => { if (!codeForm.hidden) errorBox.textContent = "A new code was sent."; }));
  codeForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errorBox.textContent = "";
    try {
      const { data } = await api("POST", "/api/login/pendingtasks",
        { parameters: { "2fa.verification.code": code.value.trim(), Action: "validate" } }, {}, { noReauth: true });
      done(data, emailIn.value);
    } catch (e) { failed(e); }
  });
  const back = () => {
    if (another) return another();
    pw.value = "";
    emailIn.value = "";
    errorBox.textContent = "";
    step("password");
    emailIn.focus();
  };
  other.addEventListener("click", back);
  suspendedOther.addEventListener("click", back);
  return el("div", { class: "login-widget" }, form, codeForm, suspended, errorBox);
}

function sessionStarted(resp, email) {
  state.tenant = (resp.loginDomainID || "").replace(/^siteusers\./, "");
  state.userID = resp.userFDN || "";
  if (email) state.email = email;
  $("who").textContent = resp.userName || "";
}

function loggedIn(resp, email) {
  sessionStarted(resp, email);
  if (!state.email && resp.userName && resp.userName.includes("@")) state.email = resp.userName;
  state.loggedIn = true;
  $("logout").hidden = false;
  $("account-link").hidden = false;
  $("login-view").hidden = true;
  $("settings-view").hidden = false;
  let r = routeOf(location.hash);
  if (!r) {
    r = { business: "tenantbusiness." + state.tenant, tab: "loginpolicy" };
    history.replaceState(null, "", hashOf(r.business, r.tab));
  }
  show(r);
}

async function endSession() {
  try {
    await fetch("/api/login/logout", { method: "POST", headers: csrfHeader(), credentials: "same-origin" });
  } catch { /* the page reloads either way */ }
  state.dirty = false;
  history.replaceState(null, "", location.pathname);
  location.reload();
}

// ---- leaving with unsaved changes ----

// leave runs go now, or after the admin agreed to discard the changes.
function leave(go) {
  if (!state.dirty) { go(); return; }
  const dialog = $("leave-dialog");
  const close = (discard) => {
    dialog.close();
    $("leave-stay").onclick = $("leave-discard").onclick = null;
    if (discard) { state.dirty = false; go(); }
  };
  $("leave-stay").onclick = () => close(false);
  $("leave-discard").onclick = () => close(true);
  dialog.oncancel = () => close(false);
  dialog.showModal();
  $("leave-stay").focus();
}

function markDirty() {
  state.dirty = true;
  const s = $("form-status");
  s.textContent = "Unsaved changes";
  s.className = "status pending";
}

function setStatus(text, kind = "") {
  const s = $("form-status");
  s.textContent = text;
  s.className = "status" + (kind ? " " + kind : "");
}

$("logout").addEventListener("click", () => leave(endSession));
$("business-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const biz = $("business").value.trim();
  leave(() => { location.hash = hashOf(biz, state.tab); });
});
for (const a of document.querySelectorAll("#tabs a")) {
  a.addEventListener("click", (ev) => {
    if (!state.dirty) return;
    ev.preventDefault();
    leave(() => { location.hash = a.getAttribute("href"); });
  });
}
window.addEventListener("beforeunload", (ev) => { if (state.dirty) ev.preventDefault(); });
window.addEventListener("hashchange", () => {
  if (!state.loggedIn) return;
  const r = routeOf(location.hash);
  if (!r) return;
  const target = location.hash;
  if (state.dirty && target !== state.route) {
    // Back or an edited address: stay until the admin decides.
    history.pushState(null, "", state.route);
    leave(() => { location.hash = target; });
    return;
  }
  show(r);
});

$("settings-form").addEventListener("input", (ev) => {
  markDirty();
  refreshHints();
});
$("settings-form").addEventListener("change", () => refreshHints());
$("revert").addEventListener("click", () => revert());

// ---- routes: #/business/page[/field] ----

function routeOf(hash) {
  if (hash === "#/account") return { account: true };
  const m = /^#\/([^/]+)\/([a-z]+)(?:\/([A-Za-z-]+))?$/.exec(hash || "");
  if (!m || !(m[2] in TABS)) return null;
  return { business: decodeURIComponent(m[1]), tab: m[2], field: m[3] };
}

function hashOf(business, tab, field) {
  return "#/" + encodeURIComponent(business) + "/" + tab + (field ? "/" + field : "");
}

async function show(r) {
  if (r.account) return showAccount();
  $("business-form").hidden = $("role-note").hidden = false;
  $("account-link").removeAttribute("aria-current");
  state.route = hashOf(r.business, r.tab, r.field);
  state.tab = r.tab;
  if (r.business !== state.roleChecked) {
    state.business = r.business;
    $("business").value = r.business;
    await checkRole();
  }
  for (const a of document.querySelectorAll("#tabs a")) {
    a.setAttribute("href", hashOf(state.business, a.dataset.tab));
    if (a.dataset.tab === state.tab) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  await load(r.field);
}

async function checkRole() {
  state.roleChecked = state.business;
  state.role = "";
  state.canWrite = false;
  try {
    const { data } = await api("GET", base() + "/myrole");
    state.role = data.Role || (data.CanWrite ? "SiteAdmin" : "Auditor");
    state.canWrite = data.CanWrite;
    $("role-note").textContent = data.CanWrite ? "You are a Site Admin of this business." :
      "You are an Auditor of this business: you can read its settings, not change them.";
  } catch (e) {
    state.role = "";
    $("role-note").textContent = "";
    state.roleError = e;
  }
}

function base() { return "/api/businesses/" + encodeURIComponent(state.business); }

function pageTitle(title) {
  document.title = title + " · " + state.business + " · bizsec console";
}

// ready marks the page loaded, for the admin's assistive technology
// (aria-busy) and for the end-to-end test.
function ready(seq) {
  if (seq !== state.loadSeq) return;
  const v = $("settings-view");
  v.dataset.page = state.role ? state.tab : "none";
  v.removeAttribute("aria-busy");
}

async function load(focusField) {
  const seq = ++state.loadSeq;
  delete $("settings-view").dataset.page;
  $("settings-view").setAttribute("aria-busy", "true");
  state.dirty = false;
  state.other = null;
  const settings = state.tab in schema || state.tab === "challenges";
  $("tabs").hidden = !state.role;
  $("settings-form").hidden = !settings || !state.role;
  $("history").hidden = !settings || !state.role;
  $("conflict").hidden = true;
  $("conflict").replaceChildren();
  $("panel").replaceChildren();
  $("fields").replaceChildren();
  $("form-error").textContent = "";
  setStatus("");
  $("save").hidden = $("revert").hidden = !state.canWrite;
  if (!state.role) { showNoRole(); return ready(seq); }
  if (state.tab === "accounts") { await loadAccounts(seq); return ready(seq); }
  if (state.tab === "check") { await loadCheck(seq); return ready(seq); }
  const s = schema[state.tab];
  const title = s ? s.title : "Security questions";
  $("settings-title").textContent = title;
  $("settings-intro").textContent = s ? s.intro : "The questions users answer to reset a password. Users answer the active ones.";
  pageTitle(title);
  try {
    await fetchObject(seq);
  } catch (e) {
    if (seq === state.loadSeq) $("form-error").textContent = e.message;
    return ready(seq);
  }
  if (seq !== state.loadSeq) return;
  loadHistory(true);
  await loadOther(seq);
  if (focusField) focusOn(focusField);
  ready(seq);
}

async function fetchObject(seq) {
  const q = state.tab === "challenges" ? "?IncludeInactive=true" : "";
  const { data, etag } = await api("GET", base() + "/" + state.tab + q);
  if (seq !== undefined && seq !== state.loadSeq) return;
  state.data = data;
  state.etag = etag;
  render(data);
}

function showNoRole() {
  const e = state.roleError;
  const title = e && e.status === 404 ? "No such business" : "No access to this business";
  $("settings-title").textContent = title;
  $("settings-intro").textContent = "";
  pageTitle(title);
  const text = e && e.status === 404 ? "There is no business " + state.business + ". Check its ID and open it again." :
    e && e.status === 403 ? "Your account has no role in " + state.business + ". A Site Admin of the tenant can make you a Site Admin " +
      "(to change settings) or an Auditor (to read them); until then there is nothing here you can open." :
      (e ? e.message : "");
  $("panel").append(el("div", { id: "no-role", class: "notice" }, el("p", { text })));
}

// focusOn takes the admin to one setting, as the standards check links do.
function focusOn(name) {
  const target = name === "questions" ? $("deactivate-all") || $("questions") : $("f-" + name);
  if (!target) return;
  const row = target.closest(".field");
  if (row) row.classList.add("target");
  if (target.tabIndex < 0 && !/^(INPUT|SELECT|BUTTON|TEXTAREA)$/.test(target.tagName)) target.tabIndex = -1;
  target.focus();
  target.scrollIntoView({ block: "center" });
}

// loadOther reads the object a cross-object warning needs.
async function loadOther(seq) {
  const other = state.tab === "twofasettings" ? "loginpolicy" : state.tab === "loginpolicy" ? "twofasettings" : "";
  if (!other) return refreshHints();
  try {
    const { data } = await api("GET", base() + "/" + other);
    if (seq !== state.loadSeq) return;
    state.other = data;
  } catch { state.other = null; }
  refreshHints();
}

// ---- values in words ----

function humanConst(v) {
  return typeof v === "string" && v in CONSTANTS ? CONSTANTS[v] : v;
}

// duration says a count of minutes or seconds in larger units.
function duration(n, unit) {
  if (!Number.isFinite(n) || n < 0 || unit !== "minutes" && unit !== "seconds") return "";
  const minutes = unit === "seconds" ? n / 60 : n;
  if (unit === "seconds" && n < 60) return "";
  if (unit === "minutes" && n < 60) return "";
  const exact = (v, one, many) => (Number.isInteger(v) ? "" : "about ") + (Math.round(v) === 1 ? "1 " + one : Math.round(v) + " " + many);
  if (minutes < 60) return exact(minutes, "minute", "minutes");
  if (minutes < 1440) return exact(minutes / 60, "hour", "hours");
  const days = minutes / 1440;
  if (days < 14) return exact(days, "day", "days");
  if (days < 60) return exact(days / 7, "week", "weeks");
  if (days < 360) return "about " + Math.round(days / 30.44) + " months";
  const years = Math.round(days / 365.25);
  return years <= 1 ? "about a year" : "about " + years + " years";
}

function limits(f) {
  if (f.kind !== "number") return "";
  const top = f.max + " " + (f.unit || "");
  const d = duration(f.max, f.unit);
  return " Allowed: " + f.min + " to " + top.trim() + (d ? " (" + d + ")" : "") + ".";
}

function humanValue(f, v) {
  if (!f) return v === undefined ? "(unset)" : typeof v === "object" ? JSON.stringify(v) : String(humanConst(v));
  if (v === undefined || v === null) return "(unset)";
  switch (f.kind) {
    case "feature": return v === ENABLED ? "On" : v === DISABLED ? "Off" : String(humanConst(v));
    case "bool": return v === true || v === "true" ? "On" : "Off";
    case "choice": {
      const o = f.options.find(([k]) => k === v);
      return o ? o[1] : String(humanConst(v));
    }
    case "number": {
      const d = duration(Number(v), f.unit);
      return v + " " + (f.unit || "") + (d ? " (" + d + ")" : "");
    }
    case "secret": return v ? "set (hidden)" : "not set";
    case "domain": return v === HOSTNAME ? "This host only" : "every host under " + v;
    default: return v === "" ? "(empty)" : String(v);
  }
}

// humanize puts a server message in the page's terms: labels for wire
// names, "you entered" for "got".
function humanize(message, fields = allFields) {
  const names = [...fields].sort((a, b) => b.name.length - a.name.length);
  const words = (m) => {
    for (const f of names) m = m.replace(new RegExp("\\b" + f.name + "\\b", "g"), "“" + f.label + "”");
    return m.replace(/\bchallenges\b/g, "questions").replace(/\bchallenge\b/g, "question")
      .replace(/\bAllowedSpecialCharacters?\b/g, "special character")
      .replace(/\b(com\.soa\.[a-z.]+)\b/g, (c) => c in CONSTANTS ? "“" + CONSTANTS[c] + "”" : c);
  };
  let m = message.replace(/^duplicate (\w+) (".*")$/, "$1 $2 is taken by another question")
    .replace(/, got (.+)$/, " (you entered $1)");
  // Quoted values are what the admin typed: kept as they are.
  return m.split(/("(?:[^"\\]|\\.)*")/).map((part, i) => i % 2 ? part : words(part)).join("");
}

// inWords adds larger units to long durations in a sentence.
function inWords(text) {
  return text.replace(/\b(\d+) (minutes|seconds)\b/g, (all, n, unit) => {
    const d = duration(Number(n), unit);
    return d ? all + " (" + d + ")" : all;
  });
}

// ---- the settings form ----

function describedBy(name) { return ["h-" + name, "d-" + name, "m-" + name, "w-" + name].join(" "); }

function control(f, value, id) {
  let input;
  const described = describedBy(f.name);
  switch (f.kind) {
    case "feature":
    case "bool":
      input = el("input", { type: "checkbox", role: "switch", id, "aria-describedby": described });
      input.checked = f.kind === "feature" ? value === ENABLED : value === true || value === "true";
      break;
    case "choice":
      input = el("select", { id, "aria-describedby": described });
      for (const [v, label] of f.options) input.append(new Option(label, v));
      if (value !== undefined && !f.options.some(([v]) => v === value)) input.append(new Option(String(humanConst(value)), value));
      input.value = value === undefined ? f.options[0][0] : value; // a field the server leaves out is at its default
      break;
    case "number":
      input = el("input", { type: "number", id, min: f.min, max: f.max, step: 1, inputmode: "numeric", "aria-describedby": described });
      input.value = value === undefined ? "" : String(value);
      break;
    case "secret":
      input = el("input", { type: "password", id, autocomplete: "off", "aria-describedby": described });
      input.value = value || "";
      break;
    case "domain": {
      input = el("select", { id, "aria-describedby": described });
      input.append(new Option("This host only (recommended)", "host"), new Option("A parent domain", "parent"));
      input.value = value === undefined || value === HOSTNAME ? "host" : "parent";
      break;
    }
    default:
      input = el("input", { type: "text", id, "aria-describedby": described });
      input.value = value === undefined ? "" : String(value);
  }
  input.dataset.kind = f.kind;
  input.dataset.name = f.name;
  return input;
}

function render(data) {
  state.dirty = false;
  const fields = $("fields");
  fields.replaceChildren();
  if (state.tab === "challenges") return renderQuestions(data);
  for (const [legend, list] of schema[state.tab].groups) {
    const fs = el("fieldset", {}, el("legend", { text: legend }));
    const box = state.canWrite ? fs : el("dl", { class: "fields" });
    for (const f of list) {
      if (f.optional && data[f.name] === undefined && f.kind !== "secret" && f.kind !== "text") continue;
      box.append(state.canWrite ? fieldRow(f, data[f.name]) : readOnlyRow(f, data[f.name]));
    }
    if (!state.canWrite) fs.append(box);
    fields.append(fs);
  }
}

function fieldRow(f, value) {
  const id = "f-" + f.name;
  const row = el("div", { class: "field", "data-name": f.name });
  const label = el("label", { for: id, text: f.label });
  const input = control(f, value, id);
  const wrap = el("div", { class: "control" }, input);
  if (f.kind === "domain") {
    const dom = el("input", { type: "text", id: "fx-" + f.name, "aria-label": "Parent domain for the cookie", placeholder: "example.com",
      "aria-describedby": describedBy(f.name), hidden: input.value !== "parent" });
    dom.value = value && value !== HOSTNAME ? value : "";
    dom.dataset.part = f.name;
    input.addEventListener("change", () => { dom.hidden = input.value !== "parent"; if (!dom.hidden) dom.focus(); });
    wrap.append(dom);
  }
  if (f.unit) wrap.append(el("span", { class: "unit", text: f.unit }));
  input.dataset.initial = JSON.stringify(valueOf(input, value));
  row.append(label, wrap,
    el("p", { class: "duration", id: "d-" + f.name }),
    el("p", { class: "help", id: "h-" + f.name, text: f.help + limits(f) }),
    el("p", { class: "message", id: "m-" + f.name }),
    el("p", { class: "warning", id: "w-" + f.name }));
  return row;
}

function readOnlyRow(f, value) {
  return el("div", { class: "field", "data-name": f.name },
    el("dt", { id: "l-" + f.name, text: f.label }),
    el("dd", { class: "value", id: "f-" + f.name, text: humanValue(f, value) }),
    el("dd", { class: "help", id: "h-" + f.name, text: f.help }),
    el("dd", { class: "warning", id: "w-" + f.name }));
}

// refreshHints updates the durations in words and the warnings that
// depend on several settings.
function refreshHints() {
  for (const f of allFields) {
    const d = $("d-" + f.name);
    if (!d || f.kind !== "number") continue;
    const input = $("f-" + f.name);
    const n = input && input.value.trim() !== "" ? Number(input.value) : NaN;
    const words = duration(n, f.unit);
    d.textContent = words ? "= " + words : "";
  }
  const read = (name) => {
    const input = $("f-" + name);
    if (input && input.tagName === "INPUT") return input.type === "checkbox" ? input.checked : Number(input.value);
    const v = state.data && state.data[name];
    return typeof v === "boolean" ? v : v === "true" ? true : v === "false" ? false : Number(v);
  };
  let tries, lockout, where;
  if (state.tab === "twofasettings" && state.other) {
    tries = read("MaxAttempts");
    lockout = Number(state.other.MaxSequentialFailureAttemptsAllowed);
    where = "MaxAttempts";
  } else if (state.tab === "loginpolicy" && state.other) {
    tries = Number(state.other.MaxAttempts);
    lockout = read("MaxSequentialFailureAttemptsAllowed");
    where = "MaxSequentialFailureAttemptsAllowed";
  }
  const w = where && $("w-" + where);
  if (!w) return;
  w.textContent = lockout > 0 && tries >= lockout ?
    "Warning: " + tries + " tries per code and suspension after " + lockout + " failed attempts: a user who mistypes one verification code " +
      lockout + " times is suspended. Keep “Tries per code” below “Failed attempts before suspension”." : "";
}

// valueOf reads a control in the wire's type of the value it replaces.
function valueOf(input, before) {
  switch (input.dataset.kind) {
    case "feature": return input.checked ? ENABLED : DISABLED;
    case "bool": return typeof before === "string" ? String(input.checked) : input.checked;
    case "number": {
      const v = input.value.trim();
      return typeof before === "string" ? v : Number(v);
    }
    case "domain": return input.value === "host" ? HOSTNAME : input.parentElement.querySelector("[data-part]").value.trim();
    default: return input.value;
  }
}

function collect() {
  if (state.tab === "challenges") return { ...clone(state.data), Challenge: state.questions.map((e) => clone(e.q)) };
  const out = clone(state.data) || {};
  for (const input of document.querySelectorAll("#fields [data-name][data-kind]")) {
    const name = input.dataset.name;
    const v = valueOf(input, state.data[name]);
    if (JSON.stringify(v) === input.dataset.initial) continue; // unchanged: the server's value, exactly
    if (input.dataset.kind === "secret" && v === "") continue; // keep the stored secret
    out[name] = v;
  }
  return out;
}

// checkForm finds what the server would refuse before it is sent, and
// says so in the field's terms.
function checkForm() {
  const problems = [];
  if (state.tab === "challenges") {
    state.questions.forEach((entry, i) => {
      for (const f of questionFields) {
        const input = $("q" + entry.id + "-" + f.name);
        if (!input || f.kind !== "count") continue;
        const v = input.value.trim();
        if (input.validity.badInput || v !== "" && (!/^\d+$/.test(v) || Number(v) > COUNT_MAX)) {
          problems.push({ question: i, field: f.name, text: f.label + ": enter a whole number from 0 to " + COUNT_MAX + ", or leave it empty for no limit." });
        }
      }
      if (!entry.q.ChallengeCode || !entry.q.ChallengeCode.trim()) problems.push({ question: i, field: "ChallengeCode", text: "Code: required." });
      if (!entry.q.ChallengeQuestion || !entry.q.ChallengeQuestion.trim()) problems.push({ question: i, field: "ChallengeQuestion", text: "Question: required." });
    });
    return problems;
  }
  for (const input of document.querySelectorAll("#fields input[data-kind=number]")) {
    const f = fieldOf(input.dataset.name);
    const v = input.value.trim();
    if (input.validity.badInput || !/^\d+$/.test(v) || Number(v) < f.min || Number(v) > f.max) {
      problems.push({ field: f.name, text: "Enter a whole number from " + f.min + " to " + f.max + (f.unit ? " " + f.unit : "") +
        (v !== "" || input.validity.badInput ? " (this is not one)." : ".") });
    }
  }
  const dom = document.querySelector("#fields select[data-kind=domain]");
  if (dom && dom.value === "parent" && !$("fx-" + dom.dataset.name).value.trim()) {
    problems.push({ field: dom.dataset.name, text: "Enter the parent domain, such as example.com, or choose “This host only”." });
  }
  return problems;
}

// showProblems puts each problem next to its field (questions: in the
// question's card), and a summary above Save.
function showProblems(problems, summary) {
  for (const row of document.querySelectorAll("#fields .field")) {
    row.classList.remove("invalid");
    const m = row.querySelector(".message");
    if (m) m.textContent = "";
  }
  for (const input of document.querySelectorAll("#fields [aria-invalid]")) input.removeAttribute("aria-invalid");
  for (const card of document.querySelectorAll("#questions .question")) {
    card.classList.remove("invalid");
    card.querySelector(".qmessage").textContent = "";
  }
  let first = null;
  for (const p of problems) {
    if (p.question !== undefined) {
      const entry = state.questions[p.question];
      if (!entry) continue;
      const card = $("qc-" + entry.id);
      card.classList.add("invalid");
      const m = card.querySelector(".qmessage");
      m.textContent = (m.textContent ? m.textContent + " " : "") + p.text;
      if (state.canWrite) openEditor(entry, true);
      const input = p.field && $("q" + entry.id + "-" + p.field);
      if (input) { input.setAttribute("aria-invalid", "true"); first = first || input; }
      first = first || card;
      continue;
    }
    const row = document.querySelector(`#fields .field[data-name="${p.field}"]`);
    if (!row) continue;
    row.classList.add("invalid");
    const m = row.querySelector(".message");
    m.textContent = (m.textContent ? m.textContent + " " : "") + p.text;
    const input = $("f-" + p.field);
    if (input) { input.setAttribute("aria-invalid", "true"); first = first || input; }
  }
  $("form-error").replaceChildren(...(summary || []));
  return first;
}

// problemsOf splits a server message into problems with a home.
function problemsOf(message) {
  const problems = [], rest = [];
  for (const part of message.split("; ")) {
    const q = /^Challenge\[(\d+)\]: (.*)$/.exec(part);
    if (q && state.tab === "challenges") {
      const f = questionFields.find((f) => new RegExp("\\b" + f.name + "\\b").test(q[2]));
      problems.push({ question: Number(q[1]), field: f && f.name, text: humanize(q[2], questionFields) });
      continue;
    }
    const f = state.tab in schema && schema[state.tab].groups.flatMap(([, l]) => l).find((f) => new RegExp("\\b" + f.name + "\\b").test(part));
    if (f && $("f-" + f.name)) problems.push({ field: f.name, text: humanize(part) });
    else rest.push(part);
  }
  return { problems, rest };
}

$("settings-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!state.canWrite) return;
  const problems = checkForm();
  if (problems.length) {
    const first = showProblems(problems, [el("span", { text: "Not saved: " + (problems.length === 1 ? "one setting needs" : problems.length + " settings need") + " a change; see the marked fields." })]);
    if (first) first.focus();
    return;
  }
  await save(collect(), state.etag);
});

async function save(body, etag) {
  setStatus("Saving…");
  try {
    const { data, etag: next } = await api("PUT", base() + "/" + state.tab, body, etag ? { "If-Match": etag } : {});
    state.data = data;
    state.etag = next;
    render(data);
    showProblems([], []);
    $("conflict").hidden = true;
    setStatus("Saved: this is now version " + (next || "").replace(/"/g, "") + ".", "ok");
    loadHistory(true);
    loadOther(state.loadSeq);
  } catch (e) {
    setStatus("");
    if (e.status === 412) return conflict(body);
    const { problems, rest } = problemsOf(e.message);
    const summary = [el("span", { text: "Not saved. " + (problems.length ? "See the marked " + (state.tab === "challenges" ? "questions" : "fields") + ". " : "") +
      rest.map((m) => humanize(m, state.tab === "challenges" ? [...questionFields, ...allFields] : allFields)).join(" ") })];
    if (state.tab === "challenges" && /ChallengeCount/.test(e.message)) {
      summary.push(" ", el("a", { href: hashOf(state.business, "securitysettings", "ChallengeCount"), text: "Change “Questions each user answers” on the Security page" }));
    }
    const first = showProblems(problems, summary);
    markDirty();
    if (first) first.focus();
  }
}

async function revert() {
  showProblems([], []);
  $("conflict").hidden = true;
  try {
    await fetchObject();
    setStatus("Reverted to the saved version.");
    loadHistory(true);
    loadOther(state.loadSeq);
  } catch (e) {
    $("form-error").textContent = e.message;
  }
}

// ---- a conflict: someone else saved first ----

async function conflict(yours) {
  let theirs, etag, who = "";
  try {
    ({ data: theirs, etag } = await api("GET", base() + "/" + state.tab + (state.tab === "challenges" ? "?IncludeInactive=true" : "")));
    const { data } = await api("GET", base() + "/audit?limit=1&setting=" + state.tab);
    const last = data.AuditEntry[0];
    if (last) who = " " + (last.Email || last.UserID) + " saved version " + last.Version + " at " + when(last.Time) + ".";
  } catch (e) {
    $("form-error").textContent = e.message;
    return;
  }
  const rows = state.tab === "challenges" ? questionDiff(theirs.Challenge, yours.Challenge) : fieldDiff(theirs, yours);
  const box = $("conflict");
  const table = el("table", { id: "conflict-table" },
    el("caption", { text: "Settings that differ" }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Setting" }), el("th", { scope: "col", text: "Their saved version" }),
      el("th", { scope: "col", text: "Your version (not saved)" }))),
    el("tbody", {}, ...rows.map(([label, a, b]) => el("tr", {}, el("th", { scope: "row", text: label }), el("td", { class: "theirs", text: a }), el("td", { class: "yours", text: b })))));
  const keep = el("button", { type: "button", id: "keep-mine", text: "Save my version over theirs" });
  const reload = el("button", { type: "button", id: "load-theirs", text: "Discard mine and load theirs" });
  keep.addEventListener("click", () => save(yours, etag));
  reload.addEventListener("click", () => {
    state.data = theirs;
    state.etag = etag;
    render(theirs);
    showProblems([], []);
    box.hidden = true;
    setStatus("Loaded their version.");
    loadHistory(true);
  });
  box.replaceChildren(el("h2", { id: "conflict-title", text: "Someone else saved these settings while you were editing" }),
    el("p", { text: "Your changes are not saved." + who + " Compare the two versions, then keep one." }),
    rows.length ? scrollRegion(table, "Settings that differ") : el("p", { text: "Their version holds the same values as yours." }),
    el("div", { class: "actions" }, keep, reload));
  box.hidden = false;
  $("form-error").textContent = "Not saved: someone else saved first. Choose a version above.";
  state.dirty = true;
  box.querySelector("h2").tabIndex = -1;
  box.querySelector("h2").focus();
}

function fieldDiff(a, b) {
  const out = [];
  for (const k of new Set([...Object.keys(a || {}), ...Object.keys(b || {})])) {
    if (JSON.stringify((a || {})[k]) !== JSON.stringify((b || {})[k])) {
      const f = fieldOf(k);
      out.push([f ? f.label : k, humanValue(f, (a || {})[k]), humanValue(f, (b || {})[k])]);
    }
  }
  return out;
}

function questionDiff(before, after) {
  const out = [];
  const list = (x) => Array.isArray(x) ? x : (x && x.Challenge) || [];
  const byCode = (xs) => new Map(xs.map((q) => [q.ChallengeCode, q]));
  const bm = byCode(list(before)), am = byCode(list(after));
  const say = (q) => "“" + q.ChallengeQuestion + "” (" + (q.Active ? "active" : "inactive") + "). " + rules(q);
  for (const code of new Set([...bm.keys(), ...am.keys()])) {
    const x = bm.get(code), y = am.get(code);
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    if (!x) { out.push(["Question added", "(none)", say(y)]); continue; }
    if (!y) { out.push(["Question removed", say(x), "(none)"]); continue; }
    const name = "“" + y.ChallengeQuestion + "”";
    let said = false;
    if (x.ChallengeQuestion !== y.ChallengeQuestion) { out.push(["Wording of question " + code, x.ChallengeQuestion, y.ChallengeQuestion]); said = true; }
    if (!!x.Active !== !!y.Active) { out.push([name, x.Active ? "active" : "inactive", y.Active ? "active" : "inactive"]); said = true; }
    if (rules(x) !== rules(y) || !said) out.push([name + ", answers", rules(x), rules(y)]);
  }
  return out;
}

// ---- security questions ----

let questionSeq = 0;

function renderQuestions(data) {
  state.questions = (data.Challenge || []).map((q) => ({ id: ++questionSeq, q: clone(q), open: false }));
  const list = el("ol", { id: "questions", class: "questions" });
  const tools = el("div", { class: "toolbar" });
  if (state.canWrite) {
    const add = el("button", { type: "button", id: "add-question", text: "Add a question" });
    add.addEventListener("click", () => {
      const entry = { id: ++questionSeq, q: { ChallengeCode: "", ChallengeQuestion: "", Active: true, CanContainSpaces: true, IsCaseSensitive: false }, open: true };
      state.questions.push(entry);
      list.append(questionCard(entry));
      markDirty();
      $("q" + entry.id + "-ChallengeCode").focus();
    });
    const off = el("button", { type: "button", id: "deactivate-all", text: "Deactivate every question",
      "aria-describedby": "deactivate-help" });
    off.addEventListener("click", () => {
      for (const e of state.questions) e.q.Active = false;
      redrawQuestions();
      markDirty();
      setStatus("Every question is inactive; Save to keep this. (“Questions each user answers” on the Security page must be 0 first.)", "pending");
    });
    tools.append(add, off, el("p", { id: "deactivate-help", class: "note", text: "Users must have enough active questions to answer: lower “Questions each user answers” on the Security page before deactivating questions." }));
  }
  state.questions.forEach((e) => list.append(questionCard(e)));
  $("fields").append(el("p", { class: "note", id: "question-count", text: countText() }), tools, list);
}

function countText() {
  const active = state.questions.filter((e) => e.q.Active).length;
  return state.questions.length + " questions, " + active + " active.";
}

function redrawQuestions() {
  const list = $("questions");
  list.replaceChildren(...state.questions.map(questionCard));
  $("question-count").textContent = countText();
}

// rules says a question's answer constraints in plain words.
function rules(q) {
  const parts = [];
  const range = (lo, hi, noun) => {
    const hasLo = lo !== undefined && lo !== null && lo > 0, hasHi = hi !== undefined && hi !== null;
    if (hasLo && hasHi) return lo + " to " + hi + " " + noun;
    if (hasLo) return "at least " + lo + " " + noun;
    if (hasHi) return "at most " + hi + " " + noun;
    return "";
  };
  parts.push(range(q.MinimumLength, q.MaximumLength, "characters"));
  parts.push(range(q.MinimumAlphaCount, q.MaximumAlphaCount, "letters"));
  parts.push(range(q.MinimumNumberCount, q.MaximumNumberCount, "digits"));
  parts.push(range(q.MinimumUpperCaseLetterCount, undefined, "capital letters"));
  parts.push(range(q.MinimumSpecialCharacterCount, undefined, "special characters"));
  const sp = q.AllowedSpecialCharacters;
  const list = sp && sp.AllowedSpecialCharacter;
  parts.push(!sp ? "any special character" : !list || !list.length ? "no special characters" : "special characters only from " + list.join(" "));
  parts.push(q.CanContainSpaces ? "spaces allowed" : "no spaces");
  parts.push(q.IsCaseSensitive ? "case-sensitive" : "not case-sensitive");
  const text = parts.filter(Boolean).join("; ");
  return "Answers: " + text + ".";
}

function questionCard(entry) {
  const n = state.questions.indexOf(entry) + 1;
  const q = entry.q;
  const card = el("li", { class: "question" + (q.Active ? "" : " inactive"), id: "qc-" + entry.id, "aria-labelledby": "qh-" + entry.id });
  const head = el("h3", { id: "qh-" + entry.id },
    el("span", { text: "Question " + n }), " ", el("span", { class: "badge " + (q.Active ? "on" : "off"), text: q.Active ? "Active" : "Inactive" }));
  card.append(head,
    el("p", { class: "qtext", id: "qt-" + entry.id, text: q.ChallengeQuestion || "(no question yet)" }),
    el("p", { class: "qcode", text: "Code: " + (q.ChallengeCode || "(none yet)") }),
    el("p", { class: "rules", id: "qr-" + entry.id, text: rules(q) }),
    el("p", { class: "qmessage message", id: "qm-" + entry.id }));
  if (!state.canWrite) return card;
  const edit = el("button", { type: "button", class: "edit", id: "qedit-" + entry.id, "aria-expanded": String(entry.open),
    "aria-controls": "qe-" + entry.id, text: entry.open ? "Close editor" : "Edit", "aria-label": (entry.open ? "Close editor of question " : "Edit question ") + n });
  const remove = el("button", { type: "button", class: "remove", text: "Remove", "aria-label": "Remove question " + n });
  edit.addEventListener("click", () => openEditor(entry, !entry.open));
  remove.addEventListener("click", () => {
    state.questions.splice(state.questions.indexOf(entry), 1);
    redrawQuestions();
    markDirty();
    setStatus("Question " + n + " removed; Save to keep this.", "pending");
  });
  card.append(el("div", { class: "qactions" }, edit, remove), questionEditor(entry));
  return card;
}

function openEditor(entry, open) {
  entry.open = open;
  const ed = $("qe-" + entry.id), btn = $("qedit-" + entry.id);
  if (!ed) return;
  ed.hidden = !open;
  const n = state.questions.indexOf(entry) + 1;
  btn.setAttribute("aria-expanded", String(open));
  btn.textContent = open ? "Close editor" : "Edit";
  btn.setAttribute("aria-label", (open ? "Close editor of question " : "Edit question ") + n);
}

// questionEditor edits one question in full; each input writes straight
// into the question, so fields it does not touch keep their values.
function questionEditor(entry) {
  const q = entry.q;
  const ed = el("div", { class: "editor", id: "qe-" + entry.id, hidden: !entry.open });
  const refresh = () => {
    const card = $("qc-" + entry.id);
    $("qt-" + entry.id).textContent = q.ChallengeQuestion || "(no question yet)";
    $("qr-" + entry.id).textContent = rules(q);
    card.querySelector(".qcode").textContent = "Code: " + (q.ChallengeCode || "(none yet)");
    const badge = card.querySelector(".badge");
    badge.textContent = q.Active ? "Active" : "Inactive";
    badge.className = "badge " + (q.Active ? "on" : "off");
    $("question-count").textContent = countText();
  };
  for (const f of questionFields) {
    const id = "q" + entry.id + "-" + f.name;
    const help = f.kind === "count" ? "0 to " + COUNT_MAX + "; empty for no limit." : f.help;
    const helpId = help ? "qh" + entry.id + "-" + f.name : undefined;
    let input, extra;
    switch (f.kind) {
      case "bool":
        input = el("input", { type: "checkbox", role: "switch", id, "aria-describedby": helpId });
        input.checked = !!q[f.name];
        input.addEventListener("change", () => { q[f.name] = input.checked; refresh(); });
        break;
      case "count":
        input = el("input", { type: "number", id, min: 0, max: COUNT_MAX, step: 1, inputmode: "numeric", "aria-describedby": helpId });
        input.value = q[f.name] === undefined || q[f.name] === null ? "" : String(q[f.name]);
        input.addEventListener("input", () => {
          const v = input.value.trim();
          if (v === "") delete q[f.name]; else if (/^\d+$/.test(v)) q[f.name] = Number(v);
          refresh();
        });
        break;
      case "textarea":
        input = el("textarea", { id, rows: 2 });
        input.value = q[f.name] || "";
        input.addEventListener("input", () => { q[f.name] = input.value; refresh(); });
        break;
      case "specials": {
        input = el("select", { id, "aria-describedby": "qh" + entry.id + "-specials" });
        input.append(new Option("Any special character", "any"), new Option("Only these:", "only"), new Option("None", "none"));
        const sp = q.AllowedSpecialCharacters;
        const list = sp && sp.AllowedSpecialCharacter || [];
        input.value = !sp ? "any" : list.length ? "only" : "none";
        extra = el("input", { type: "text", id: id + "-list", size: 10, hidden: input.value !== "only" });
        extra.value = list.join("");
        const write = () => {
          if (input.value === "any") delete q.AllowedSpecialCharacters;
          else q.AllowedSpecialCharacters = { AllowedSpecialCharacter: input.value === "none" ? [] : [...new Set(extra.value.replace(/\s/g, ""))] };
          extra.hidden = input.value !== "only";
          refresh();
        };
        input.addEventListener("change", write);
        extra.addEventListener("input", write);
        break;
      }
      default:
        input = el("input", { type: "text", id, "aria-describedby": helpId });
        input.value = q[f.name] || "";
        input.addEventListener("input", () => { q[f.name] = input.value; refresh(); });
    }
    const row = el("div", { class: "qfield " + f.kind },
      el("label", { for: id, text: f.label }), input, extra);
    if (f.kind === "specials") {
      extra.setAttribute("aria-label", "Allowed special characters");
      row.append(el("p", { class: "help", id: "qh" + entry.id + "-specials", text: "Which special characters answers may contain." }));
    } else if (help) row.append(el("p", { class: "help", id: helpId, text: help }));
    ed.append(row);
  }
  return ed;
}

// ---- history ----

function when(t) {
  return new Date(t).toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
}

const PAGE = 20;

async function loadHistory(reset) {
  const list = $("history-list");
  const more = $("history-more");
  const tab = state.tab;
  if (reset) { list.replaceChildren(); state.historyBefore = 0; more.hidden = true; }
  more.disabled = true;
  try {
    const { data } = await api("GET", base() + "/audit?limit=" + PAGE + "&setting=" + tab + (state.historyBefore ? "&before=" + state.historyBefore : ""));
    if (tab !== state.tab) return;
    if (reset) list.replaceChildren();
    if (!data.AuditEntry.length && reset) list.append(el("li", { text: "No changes yet: the platform's defaults apply." }));
    for (const e of data.AuditEntry) {
      const changes = el("ul", { class: "diff" });
      const rows = tab === "challenges" ? questionDiff(e.Old, e.New) : fieldDiff(e.Old, e.New);
      for (const d of rows) changes.append(el("li", {}, el("strong", { text: d[0] }), ": ", el("del", { text: d[1] }), " → ", el("ins", { text: d[2] })));
      list.append(el("li", {}, el("time", { class: "when", datetime: e.Time, text: when(e.Time) }), " ",
        el("span", { text: (e.Email || e.UserID) + " made version " + e.Version }), changes));
      state.historyBefore = e.ID;
    }
    more.hidden = data.AuditEntry.length < PAGE;
  } catch (e) {
    list.append(el("li", { text: e.message }));
  }
  more.disabled = false;
}
$("history-more").addEventListener("click", () => loadHistory(false));

// ---- accounts ----

function scrollRegion(table, label) {
  return el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label }, table);
}

async function loadAccounts(seq) {
  $("settings-title").textContent = "Accounts";
  $("settings-intro").textContent = "Users whose accounts the lockout policy has suspended.";
  pageTitle("Accounts");
  const panel = $("panel");
  const status = el("p", { id: "accounts-status", class: "status ok", role: "status" });
  const problem = el("p", { id: "accounts-error", class: "error", role: "alert" });
  try {
    const { data } = await api("GET", base() + "/suspendedusers");
    if (seq !== state.loadSeq) return;
    const none = el("p", { id: "no-suspended", text: "No account is suspended." });
    if (!data.SuspendedUser.length) { panel.replaceChildren(status, problem, none); return; }
    const body = el("tbody");
    const cols = ["User", "Suspended until"].concat(state.canWrite ? ["Action"] : []);
    const table = el("table", { id: "suspended" }, el("caption", { text: "Suspended accounts" }),
      el("thead", {}, el("tr", {}, ...cols.map((t) => el("th", { scope: "col", text: t })))), body);
    for (const u of data.SuspendedUser) {
      const row = el("tr", {}, el("td", {}, el("span", { class: "name", text: u.UserName }), el("br"), el("span", { class: "email", text: u.Email })),
        el("td", {}, el("time", { datetime: u.SuspendedUntil, text: when(u.SuspendedUntil) })));
      if (state.canWrite) {
        const unlock = el("button", { type: "button", text: "Unlock", "aria-label": "Unlock " + u.Email });
        unlock.addEventListener("click", async () => {
          unlock.disabled = true;
          problem.textContent = "";
          try {
            await api("POST", base() + "/suspendedusers/" + encodeURIComponent(u.UserID) + "/unlock");
            row.remove();
            status.textContent = "Unlocked " + u.Email + ": they can log in again.";
            if (!body.children.length) table.closest(".table-wrap").replaceWith(none);
            else body.querySelector("button").focus();
          } catch (e) {
            unlock.disabled = false;
            problem.textContent = "Could not unlock " + u.Email + ": " + e.message;
          }
        });
        row.append(el("td", {}, unlock));
      }
      body.append(row);
    }
    panel.replaceChildren(status, problem, scrollRegion(table, "Suspended accounts"));
  } catch (e) {
    panel.replaceChildren(el("p", { class: "error", role: "alert", text: e.message }));
  }
}

// ---- the standards check, as a to-do list ----

// Where each finding is fixed: the page and the setting, in the order
// that works.
const FIXES = {
  "lockout": [["loginpolicy", "MaxSequentialFailureAttemptsAllowed"]],
  "session-idle": [["loginpolicy", "InactiveSessionTimeout"]],
  "session-absolute": [["loginpolicy", "ActiveSessionTimeout"]],
  "second-factor": [["twofasettings", "TwoFAEnabled"]],
  "second-factor-recurrence": [["twofasettings", "RecurrenceMode"]],
  "code-lifetime": [["twofasettings", "CodeValidSeconds"]],
  "code-attempts": [["twofasettings", "MaxAttempts"]],
  "security-questions": [["securitysettings", "ChallengeCount", "Set “Questions each user answers” to 0"],
    ["challenges", "questions", "Then deactivate every question"]],
  "answer-storage": [["securitysettings", "EncryptChallengeAnswers"]],
  "csrf-writes": [["securitysettings", "WriteRequestCSRFSupport"]],
  "csrf-reads": [["securitysettings", "ReadRequestCSRFSupport"]],
  "cookie-samesite": [["securitysettings", "AuthTokenCookieSameSite"]],
  "user-enumeration": [["securitysettings", "AllowUserEnum"]],
};

async function loadCheck(seq) {
  $("settings-title").textContent = "Standards check";
  $("settings-intro").textContent = "This business's settings rated against OWASP ASVS 4.0.3 and NIST SP 800-63B. Fix the failures first.";
  pageTitle("Standards check");
  const panel = $("panel");
  try {
    const { data } = await api("GET", base() + "/securitycheck");
    if (seq !== state.loadSeq) return;
    const count = (s) => data.Finding.filter((f) => f.Status === s).length;
    const order = { fail: 0, warn: 1, pass: 2 };
    const sorted = [...data.Finding].sort((a, b) => order[a.Status] - order[b.Status]);
    const summary = el("p", { id: "check-summary", class: "summary" },
      el("span", { class: "count fail", text: count("fail") + " to fix" }), " · ",
      el("span", { class: "count warn", text: count("warn") + " to review" }), " · ",
      el("span", { class: "count pass", text: count("pass") + " passing" }));
    const list = el("ol", { id: "findings" });
    for (const f of sorted) {
      const word = { fail: "Fail", warn: "Review", pass: "Pass" }[f.Status] || f.Status;
      const item = el("li", { class: "finding " + f.Status, "data-id": f.ID },
        el("span", { class: "badge", text: word }), " ", el("strong", { text: inWords(humanize(f.Reason)) }), el("br"),
        el("small", { text: f.Requirement }));
      const fixes = FIXES[f.ID];
      if (fixes && f.Status !== "pass") {
        const steps = el("ol", { class: "fixes" });
        for (const [tab, field, words] of fixes) {
          const label = words || ((f.Status === "fail" ? "Fix: " : "Review: ") + "“" + (fieldOf(field) || { label: field }).label + "”");
          steps.append(el("li", {}, el("a", { href: hashOf(state.business, tab, field), class: "fix", text: label + " (" + TABS[tab] + ")" })));
        }
        item.append(fixes.length > 1 ? steps : steps.firstChild.firstChild);
      }
      list.append(item);
    }
    panel.replaceChildren(summary, list);
  } catch (e) {
    panel.replaceChildren(el("p", { class: "error", role: "alert", text: e.message }));
  }
}

// ---- my account: second factors ----

// b64u converts WebAuthn's binary members to and from base64url, as the
// server's options and answers carry them.
const b64u = {
  enc: (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
  dec: (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - s.length % 4) % 4)), (c) => c.charCodeAt(0)).buffer,
};

function decodeCreation(pk) {
  return { ...pk, challenge: b64u.dec(pk.challenge), user: { ...pk.user, id: b64u.dec(pk.user.id) },
    excludeCredentials: (pk.excludeCredentials || []).map((c) => ({ ...c, id: b64u.dec(c.id) })) };
}

function decodeRequest(pk) {
  return { ...pk, challenge: b64u.dec(pk.challenge), allowCredentials: (pk.allowCredentials || []).map((c) => ({ ...c, id: b64u.dec(c.id) })) };
}

// credentialJSON is a PublicKeyCredential as the server reads it (no nulls).
function credentialJSON(cred) {
  const r = cred.response;
  const out = { id: cred.id, rawId: b64u.enc(cred.rawId), type: cred.type, response: { clientDataJSON: b64u.enc(r.clientDataJSON) },
    clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {} };
  if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
  if (r.attestationObject) {
    out.response.attestationObject = b64u.enc(r.attestationObject);
    if (r.getTransports) out.response.transports = r.getTransports();
  }
  if (r.authenticatorData) {
    out.response.authenticatorData = b64u.enc(r.authenticatorData);
    out.response.signature = b64u.enc(r.signature);
    if (r.userHandle) out.response.userHandle = b64u.enc(r.userHandle);
  }
  return out;
}

const FACTOR_TYPES = { totp: "Authenticator app", webauthn: "Security key or passkey" };

function userBase() { return "/api/users/" + encodeURIComponent(state.userID); }

async function showAccount() {
  const seq = ++state.loadSeq;
  state.route = "#/account";
  const v = $("settings-view");
  delete v.dataset.page;
  v.setAttribute("aria-busy", "true");
  state.dirty = false;
  for (const id of ["business-form", "role-note", "tabs", "settings-form", "history", "conflict"]) $(id).hidden = true;
  $("account-link").setAttribute("aria-current", "page");
  $("settings-title").textContent = "My account";
  $("settings-intro").textContent = "How you prove it is you when you log in, besides your password. " +
    "Changes need a recent login: you may be asked for your password again.";
  document.title = "My account · bizsec console";
  await renderAccount(seq);
  if (seq !== state.loadSeq) return;
  v.dataset.page = "account";
  v.removeAttribute("aria-busy");
}

async function renderAccount(seq, message = "") {
  const panel = $("panel");
  const status = el("p", { id: "account-status", class: "status ok", role: "status", text: message });
  const problem = el("p", { id: "account-error", class: "error", role: "alert" });
  let data;
  try {
    ({ data } = await api("GET", userBase() + "/factors"));
  } catch (e) {
    if (seq === state.loadSeq) panel.replaceChildren(el("p", { class: "error", role: "alert", text: e.message }));
    return;
  }
  if (seq !== state.loadSeq) return;
  const again = (text) => renderAccount(state.loadSeq, text);
  const failed = (what) => (e) => { problem.textContent = what + ": " + e.message; };

  // The factors.
  const active = data.Factors.filter((f) => f.Active);
  let list;
  if (!active.length) {
    list = el("p", { id: "no-factors", text: "You have no factor besides the emailed code." });
  } else {
    const body = el("tbody");
    const table = el("table", { id: "factors" }, el("caption", { text: "Your sign-in factors" }),
      el("thead", {}, el("tr", {}, ...["Type", "Name", "Added", "Last used", "Action"].map((t) => el("th", { scope: "col", text: t })))), body);
    for (const f of active) {
      const remove = el("button", { type: "button", class: "danger", text: "Remove", "aria-label": "Remove " + f.Name });
      remove.addEventListener("click", async () => {
        remove.disabled = true;
        try {
          await api("DELETE", userBase() + "/factors/" + encodeURIComponent(f.FactorID));
          again("Removed " + f.Name + ".");
        } catch (e) { remove.disabled = false; failed("Could not remove " + f.Name)(e); }
      });
      body.append(el("tr", { "data-type": f.Type }, el("td", { text: FACTOR_TYPES[f.Type] || f.Type }), el("td", { text: f.Name }),
        el("td", {}, el("time", { datetime: f.Created, text: when(f.Created) })),
        el("td", {}, f.LastUsed ? el("time", { datetime: f.LastUsed, text: when(f.LastUsed) }) : "Never"),
        el("td", {}, remove)));
    }
    list = scrollRegion(table, "Your sign-in factors");
  }

  // An authenticator app.
  const enrol = el("div", { id: "totp-enrol" });
  const addApp = el("button", { type: "button", id: "add-totp", text: "Add an authenticator app" });
  addApp.addEventListener("click", async () => {
    problem.textContent = "";
    try {
      const { data: t } = await api("POST", userBase() + "/factors/totp", {});
      const qr = el("img", { id: "totp-qr", width: "256", height: "256", alt: "QR code of the key for your authenticator app" });
      const resp = await fetch(userBase() + "/factors/" + encodeURIComponent(t.FactorID) + "/qr.png",
        { headers: csrfHeader(), credentials: "same-origin" });
      if (resp.ok) qr.src = URL.createObjectURL(await resp.blob());
      const codeIn = el("input", { id: "totp-code", class: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6, required: true });
      const form = el("form", { id: "totp-form", class: "login" },
        el("p", { text: "Scan this code with your authenticator app, or type the key into it; then enter the code it shows." }),
        qr, el("p", {}, "Key: ", el("code", { id: "totp-secret", text: t.Secret })),
        el("label", { for: "totp-code", text: "Code from the app" }), codeIn,
        el("button", { type: "submit", id: "totp-confirm", text: "Confirm" }));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        try {
          await api("POST", userBase() + "/factors/" + encodeURIComponent(t.FactorID) + "/confirm", { Code: codeIn.value.trim() });
          again("Authenticator app added: from now on, log in with its code.");
        } catch (e) { failed("The app was not added")(e); }
      });
      enrol.replaceChildren(form);
      addApp.hidden = true;
      codeIn.focus();
    } catch (e) { failed("Could not start")(e); }
  });

  // A security key or passkey.
  const addKey = el("button", { type: "button", id: "add-key", text: "Add a security key or passkey", hidden: !window.PublicKeyCredential });
  addKey.addEventListener("click", async () => {
    problem.textContent = "";
    try {
      const { data: k } = await api("POST", userBase() + "/factors/webauthn", {});
      let cred;
      try {
        cred = await navigator.credentials.create({ publicKey: decodeCreation(k.Options.publicKey) });
      } catch {
        problem.textContent = "The security key did not answer, or you cancelled.";
        return;
      }
      await api("POST", userBase() + "/factors/" + encodeURIComponent(k.FactorID) + "/confirm", { Credential: credentialJSON(cred) });
      again("Security key added: from now on, log in with it.");
    } catch (e) { failed("The key was not added")(e); }
  });

  // Recovery codes.
  const codesBox = el("div", { id: "recovery-box" });
  const newCodes = el("button", { type: "button", id: "new-codes", text: data.RecoveryCodesLeft ? "Replace my recovery codes" : "Make recovery codes" });
  newCodes.addEventListener("click", async () => {
    problem.textContent = "";
    try {
      const { data: r } = await api("POST", userBase() + "/recoverycodes");
      codesBox.replaceChildren(
        el("p", { class: "notice", text: "Keep these codes somewhere safe: they are shown only now. Each works once, in place of your app's code or your key. Codes made before no longer work." }),
        el("ol", { id: "recovery-codes" }, ...r.Codes.map((c) => el("li", {}, el("code", { text: c })))));
      $("recovery-left").textContent = r.Codes.length + " recovery codes left.";
      status.textContent = "New recovery codes made.";
    } catch (e) { failed("Could not make codes")(e); }
  });

  panel.replaceChildren(status, problem,
    el("h2", { text: "Sign-in factors" }), list,
    el("h2", { text: "Authenticator app" }), el("p", { text: "An app such as Google Authenticator, Microsoft Authenticator or 1Password shows a new six-digit code every 30 seconds." }), addApp, enrol,
    el("h2", { text: "Security keys and passkeys" }), el("p", { text: window.PublicKeyCredential ? "A security key, or a passkey kept by this device or your password manager: nothing to type, and it cannot be phished." : "This browser does not support security keys." }), addKey,
    el("h2", { text: "Recovery codes" }), el("p", { id: "recovery-left", text: data.RecoveryCodesLeft + " recovery codes left." }), newCodes, codesBox);
}

// ---- start ----

$("login-box").append(loginWidget("", { done: loggedIn }));
// A session that is still live (a reload) goes straight to the settings.
api("GET", "/api/login/status", undefined, {}, { noReauth: true }).then(({ data }) => loggedIn(data)).catch(() => {});
