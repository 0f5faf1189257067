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

// The pages, by route name: the settings objects' (from the server's
// descriptors), then the questions, the users and the check.
const TABS = {
  loginpolicy: "Lockout and sessions", twofasettings: "Two-factor authentication", securitysettings: "Security",
  challenges: "Security questions", users: "Users", check: "Standards check",
};

// Readable names of the platform's constants, wherever they show.
const CONSTANTS = {
  [ENABLED]: "On", [DISABLED]: "Off", "com.soa.enabled": "On", "com.soa.disabled": "Off",
  [HOSTNAME]: "This host only",
  "twofa.each.login": "At every login", "twofa.once.each.interval": "Once per interval", "twofa.login.new.device": "On a new device",
};

// The settings objects' descriptors (labels, help from the platform's
// documentation, units, limits, controls) come from the server, GET
// /api/settingsschema: an object added there is a page here. Kinds of
// control: feature (on/off over com.soa.feature.*), bool (on/off over
// true/false), number (with unit and limits), choice, domain (the cookie
// domain: this host or a parent domain), text, secret, specials (any
// special character, only those listed, or none).
let schema = {};
let allFields = [];
const fieldOf = (name, tab = state.tab) => (schema[tab] && fieldsOf(tab).find((f) => f.name === name)) || allFields.find((f) => f.name === name);
const fieldsOf = (tab) => schema[tab] ? schema[tab].groups.flatMap(([, list]) => list) : [];

// loadSchema reads the descriptors once and builds the page tabs from them.
async function loadSchema() {
  if (allFields.length) return;
  const { data } = await api("GET", "/api/settingsschema", undefined, {}, { noReauth: true });
  const next = {};
  for (const o of data.Object) next[o.name] = { ...o, groups: o.groups.map((g) => [g.title, g.fields]) };
  schema = next;
  questionFields = data.Challenge.groups.flatMap((g) => g.fields);
  allFields = Object.values(schema).flatMap((o) => o.groups.flatMap(([, list]) => list));
  const tabs = [...Object.values(schema).map((o) => [o.name, o.title, o.extension]),
    [data.Challenge.name, data.Challenge.title], ["users", "Users"], ["check", "Standards check"]];
  for (const k of Object.keys(TABS)) delete TABS[k];
  const nav = $("tabs");
  nav.replaceChildren();
  for (const [name, title, own] of tabs) {
    TABS[name] = title;
    const a = el("a", { href: "#", "data-tab": name }, title);
    if (own) a.append(" ", el("span", { class: "own", text: "(bizsec's own)" }));
    a.addEventListener("click", (ev) => {
      if (!state.dirty) return;
      ev.preventDefault();
      leave(() => { location.hash = a.getAttribute("href"); });
    });
    nav.append(a);
  }
}

// The fields of one security question, as its editor shows them: the
// server's descriptor of a question (settingsschema's Challenge).
let questionFields = [];


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
  const forgot = el("button", { type: "button", id: p + "forgot", text: "Forgot password?" });
  const form = el("form", { id: p + "login-form", class: "login" },
    el("label", { for: p + "email", text: "Email" }), emailIn,
    el("label", { for: p + "password", text: "Password" }), pw,
    el("button", { type: "submit", id: p + "login-button", text: "Log in" }),
    el("div", { class: "links" }, forgot));
  // Forgot password: the platform's reset, in three steps: a code mailed,
  // the code checked (which may ask a security question), a new password.
  const resetHelp = el("p", { id: p + "reset-help" });
  const resetCode = el("input", { id: p + "reset-code", autocomplete: "one-time-code", required: true, maxlength: 64 });
  const resetQLabel = el("label", { for: p + "reset-answer", id: p + "reset-question" });
  const resetAnswer = el("input", { id: p + "reset-answer", autocomplete: "off" });
  const resetQ = el("div", { id: p + "reset-q", hidden: true }, resetQLabel, resetAnswer);
  const resetPw = el("input", { id: p + "reset-password", type: "password", autocomplete: "new-password", "aria-describedby": p + "reset-password-help" });
  const resetPwPart = el("div", { id: p + "reset-pw", hidden: true },
    el("label", { for: p + "reset-password", text: "New password" }), resetPw,
    el("p", { id: p + "reset-password-help", class: "note", text: "Your organisation's password rules apply; common and breached passwords are refused." }));
  const resetButton = el("button", { type: "submit", id: p + "reset-button", text: "Continue" });
  const resetBack = el("button", { type: "button", id: p + "reset-back", text: "Back to log in" });
  const resetForm = el("form", { id: p + "reset-form", class: "login", hidden: true },
    el("h2", { text: "Reset your password" }), resetHelp,
    el("label", { for: p + "reset-code", text: "Reset code" }), resetCode, resetQ, resetPwPart, resetButton,
    el("div", { class: "links" }, resetBack));
  let resetChallenge = null; // the question asked, once the code is checked
  let resetChecked = false;
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
  // A temporary password: the login waits until the user chooses their own.
  const newPw = el("input", { id: p + "new-login-password", type: "password", autocomplete: "new-password", required: true,
    "aria-describedby": p + "newpw-help" });
  const newPwOther = el("button", { type: "button", id: p + "newpw-another", text: "Use another account" });
  const newPwForm = el("form", { id: p + "newpw-form", class: "login", hidden: true },
    el("h2", { text: "Choose a new password" }),
    el("p", { id: p + "newpw-help", text: "Your password was set by a Site Admin and works only to choose your own. Your organisation's password rules apply; common and breached passwords are refused." }),
    el("label", { for: p + "new-login-password", text: "New password" }), newPw,
    el("button", { type: "submit", id: p + "newpw-button", text: "Save and continue" }),
    el("div", { class: "links" }, newPwOther));
  let pendingUser = "";
  const suspendedOther = el("button", { type: "button", id: p + "suspended-back", text: "Use another account" });
  const suspended = el("div", { id: p + "suspended", class: "suspended", hidden: true },
    el("h2", { text: "Account suspended" }),
    el("p", { id: p + "suspended-text" }),
    suspendedOther);

  // The factor policy asks for an app or key (bizsec's factor.enrolment):
  // within the grace period it can wait; after it, the login goes no further.
  const enrolTitle = el("h2", { id: p + "enrol-title", text: "Set up a second factor" });
  const enrolHelp = el("p", { id: p + "enrol-help" });
  const enrolBox = el("div", { id: p + "enrol-box" });
  const enrolApp = el("button", { type: "button", id: p + "enrol-app", text: "Set up an authenticator app" });
  const enrolKey = el("button", { type: "button", id: p + "enrol-key", text: "Register a security key or passkey" });
  const enrolLater = el("button", { type: "button", id: p + "enrol-later", text: "Later" });
  const enrolOther = el("button", { type: "button", id: p + "enrol-another", text: "Use another account" });
  const enrolPart = el("div", { id: p + "enrol", class: "login", hidden: true }, enrolTitle, enrolHelp,
    el("div", { class: "actions" }, enrolApp, enrolKey), enrolBox, el("div", { class: "links" }, enrolLater, enrolOther));
  let enrolData = null; // the LoginResponse that asked for the enrolment

  const step = (which) => {
    form.hidden = which !== "password";
    codeForm.hidden = which !== "code";
    newPwForm.hidden = which !== "newpw";
    suspended.hidden = which !== "suspended";
    enrolPart.hidden = which !== "enrol";
    resetForm.hidden = which !== "reset";
  };
  forgot.addEventListener("click", async () => {
    errorBox.textContent = "";
    if (!emailIn.value) { errorBox.textContent = "Enter your email first; a reset code is mailed to it."; emailIn.focus(); return; }
    try {
      await api("POST", "/api/passwordmanagement/sendPasswordResetCode?emailAddress=" + encodeURIComponent(emailIn.value), undefined, {}, { noReauth: true });
    } catch (e) { failed(e); return; }
    resetHelp.textContent = "If " + mask(emailIn.value) + " has an account, a reset code is on its way there. Enter it below.";
    resetCode.value = resetAnswer.value = resetPw.value = "";
    resetChallenge = null;
    resetChecked = false;
    resetQ.hidden = resetPwPart.hidden = true;
    resetCode.readOnly = false;
    resetButton.textContent = "Continue";
    step("reset");
    resetCode.focus();
  });
  resetBack.addEventListener("click", () => { errorBox.textContent = ""; step("password"); pw.focus(); });
  const askQuestion = (c) => {
    resetChallenge = c || null;
    resetQ.hidden = !resetChallenge;
    resetAnswer.required = !!resetChallenge;
    if (resetChallenge) resetQLabel.textContent = resetChallenge.ChallengeQuestion;
  };
  resetForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errorBox.textContent = "";
    const email = encodeURIComponent(emailIn.value), code = resetCode.value.trim();
    try {
      if (!resetChecked) {
        const { data } = await api("POST", "/api/passwordmanagement/validatePasswordResetCode?emailAddress=" + email +
          "&passwordResetCode=" + encodeURIComponent(code), undefined, {}, { noReauth: true });
        resetChecked = true;
        resetCode.readOnly = true;
        askQuestion(data && data.UserIdentificationChallenge);
        resetPwPart.hidden = false;
        resetPw.required = true;
        resetButton.textContent = "Set the new password";
        (resetChallenge ? resetAnswer : resetPw).focus();
        return;
      }
      const body = { Email: emailIn.value, PasswordResetCode: code, NewPassword: resetPw.value };
      if (resetChallenge) body.UserIdentificationChallenge = { ChallengeCode: resetChallenge.ChallengeCode, Answer: resetAnswer.value };
      const { data } = await api("POST", "/api/login/authenticateWithPasswordResetCode", body, {}, { noReauth: true });
      if (data && data.Status === "user.password.reset.invalid.answer") {
        askQuestion(data.UserIdentificationChallenge);
        errorBox.textContent = "That answer is not the one on record. Try again; a wrong answer counts as a failed login.";
        resetAnswer.value = "";
        resetAnswer.focus();
        return;
      }
      pw.value = "";
      step("password");
      errorBox.textContent = "";
      resetHelp.textContent = "";
      form.prepend(el("p", { id: p + "reset-done", class: "status ok", role: "status", text: "Your password was changed. Log in with it." }));
      pw.focus();
    } catch (e) {
      if (e.status === 400) { errorBox.textContent = humanize(e.message); (resetChecked ? resetPw : resetCode).focus(); return; }
      failed(e);
    }
  });
  const failed = (e) => {
    if (e.code === "AccountSuspended") {
      $(p + "suspended-text").textContent = "Too many failed attempts suspended " + (emailIn.value || "this account") +
        ". It unlocks by itself when the suspension ends, or a Site Admin can unlock it on the Users page.";
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
      next(data);
    } catch (e) { failed(e); }
  };
  // next takes a LoginResponse to its next step.
  const next = (data) => {
    const tasks = data.pendingTasks || [];
    if (tasks.includes("change.password")) {
      pendingUser = data.userFDN;
      newPw.value = "";
      step("newpw");
      newPw.focus();
      return;
    }
    if (tasks.includes("2fa.verification.code") || tasks.includes("2fa.webauthn.assertion")) {
      askFactor(data, tasks);
      return;
    }
    if (tasks.includes("factor.enrolment")) {
      askEnrolment(data);
      return;
    }
    done(data, emailIn.value);
  };
  const askEnrolment = (data) => {
    enrolData = data;
    const tf = data.twoFactor || { Factors: ["totp"] };
    const kinds = tf.Factors || [];
    // The session's CSRF cookie is the tenant's: the enrolment requests carry it.
    state.tenant = (data.loginDomainID || "").replace(/^siteusers\./, "");
    const grace = !tf.EnrolNow;
    enrolHelp.textContent = (grace
      ? "Your organisation asks you to add an authenticator app or security key by " + when(tf.EnrolBy) + ". You can do it now or later."
      : "Your organisation requires an authenticator app or security key before you continue.") +
      " From then on, you log in with it after your password.";
    enrolApp.hidden = !kinds.includes("totp");
    enrolKey.hidden = !kinds.includes("webauthn") || !window.PublicKeyCredential;
    enrolLater.hidden = !grace;
    enrolBox.replaceChildren();
    step("enrol");
    enrolTitle.setAttribute("tabindex", "-1");
    enrolTitle.focus();
  };
  const enrolBase = () => "/api/users/" + encodeURIComponent(enrolData.userFDN) + "/factors";
  enrolApp.addEventListener("click", async () => {
    errorBox.textContent = "";
    try {
      const { data: t } = await api("POST", enrolBase() + "/totp", {}, {}, { noReauth: true });
      const qr = el("img", { id: p + "enrol-qr", width: "256", height: "256", alt: "QR code of the key for your authenticator app" });
      const resp = await fetch(enrolBase() + "/" + encodeURIComponent(t.FactorID) + "/qr.png", { headers: csrfHeader(), credentials: "same-origin" });
      if (resp.ok) qr.src = URL.createObjectURL(await resp.blob());
      const codeIn = el("input", { id: p + "enrol-code", class: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6, required: true });
      const f = el("form", { id: p + "enrol-form" },
        el("p", { text: "Scan this code with your authenticator app, or type the key into it; then enter the code it shows." }),
        qr, el("p", {}, "Key: ", el("code", { id: p + "enrol-secret", text: t.Secret })),
        el("label", { for: p + "enrol-code", text: "Code from the app" }), codeIn,
        el("button", { type: "submit", id: p + "enrol-confirm", text: "Confirm and continue" }));
      f.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        errorBox.textContent = "";
        try {
          await api("POST", enrolBase() + "/" + encodeURIComponent(t.FactorID) + "/confirm", { Code: codeIn.value.trim() }, {}, { noReauth: true });
          done(enrolData, emailIn.value);
        } catch (e) { errorBox.textContent = "The app was not added: " + humanize(e.message); codeIn.focus(); }
      });
      enrolBox.replaceChildren(f);
      codeIn.focus();
    } catch (e) { failed(e); }
  });
  enrolKey.addEventListener("click", async () => {
    errorBox.textContent = "";
    try {
      const { data: k } = await api("POST", enrolBase() + "/webauthn", {}, {}, { noReauth: true });
      let cred;
      try {
        cred = await navigator.credentials.create({ publicKey: decodeCreation(k.Options.publicKey) });
      } catch {
        errorBox.textContent = "The security key did not answer, or you cancelled. Try again.";
        return;
      }
      await api("POST", enrolBase() + "/" + encodeURIComponent(k.FactorID) + "/confirm", { Credential: credentialJSON(cred) }, {}, { noReauth: true });
      done(enrolData, emailIn.value);
    } catch (e) { failed(e); }
  });
  enrolLater.addEventListener("click", () => done(enrolData, emailIn.value));
  newPwForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errorBox.textContent = "";
    try {
      const { data } = await api("PUT", "/api/users/" + encodeURIComponent(pendingUser) + "/password", { NewPassword: newPw.value }, {}, { noReauth: true });
      next(data);
    } catch (e) {
      if (e.status === 400) { errorBox.textContent = humanize(e.message); newPw.focus(); return; }
      failed(e);
      if (e.status === 401) { errorBox.textContent = "The time to choose a new password ran out: log in again with the temporary password."; step("password"); pw.focus(); }
    }
  });
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
  newPwOther.addEventListener("click", back);
  suspendedOther.addEventListener("click", back);
  enrolOther.addEventListener("click", back);
  return el("div", { class: "login-widget" }, form, codeForm, newPwForm, suspended, enrolPart, resetForm, errorBox);
}

function sessionStarted(resp, email) {
  state.tenant = (resp.loginDomainID || "").replace(/^siteusers\./, "");
  state.userID = resp.userFDN || "";
  if (email) state.email = email;
  $("who").textContent = resp.userName || "";
}

async function loggedIn(resp, email) {
  sessionStarted(resp, email);
  try {
    await loadSchema();
  } catch (e) {
    $("login-error").textContent = "The console could not read the settings' descriptions: " + e.message;
    return;
  }
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
  if (state.tab === "users") { await loadUsers(seq); return ready(seq); }
  if (state.tab === "check") { await loadCheck(seq); return ready(seq); }
  const s = schema[state.tab];
  const title = s ? s.title : "Security questions";
  $("settings-title").textContent = title;
  $("settings-intro").textContent = s ? s.intro : "The questions users answer to reset a password. Users answer the active ones.";
  if (s && s.extension) $("settings-intro").prepend(el("span", { class: "badge own", text: "bizsec's own" }), " Not a platform object. ");
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
  if (f.kind === "specials" && (v === undefined || v === null)) return "any";
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
    case "specials": { // the wire's object, or the audit's stored list
      const list = Array.isArray(v) ? v : v.AllowedSpecialCharacter || [];
      return list.length ? "only " + list.join(" ") : "none";
    }
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
    case "specials": {
      input = el("select", { id, "aria-describedby": described });
      const list = value && value.AllowedSpecialCharacter || [];
      input.append(new Option("Any special character", "any"), new Option("Only these:", "only"), new Option("None", "none"));
      input.value = value === undefined ? "any" : list.length ? "only" : "none";
      break;
    }
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
  const row = el("div", { class: "field" + (f.noEffect ? " noeffect" : ""), "data-name": f.name });
  const label = el("label", { for: id, text: f.label }, ...ownMark(f));
  const input = control(f, value, id);
  const wrap = el("div", { class: "control" }, input);
  if (f.kind === "specials") {
    const list = el("input", { type: "text", id: "fx-" + f.name, "aria-label": "The allowed special characters", placeholder: "!@#",
      "aria-describedby": describedBy(f.name), hidden: input.value !== "only", size: 12 });
    list.value = (value && value.AllowedSpecialCharacter || []).join("");
    list.dataset.part = f.name;
    input.addEventListener("change", () => { list.hidden = input.value !== "only"; if (!list.hidden) list.focus(); });
    wrap.append(list);
  }
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
    el("p", { class: "help", id: "h-" + f.name, text: noEffectText(f) + f.help + limits(f) }),
    el("p", { class: "message", id: "m-" + f.name }),
    el("p", { class: "warning", id: "w-" + f.name }));
  return row;
}

// ownMark marks a field that is bizsec's, not the platform's.
function ownMark(f) {
  return f.extension ? [" ", el("span", { class: "badge own", text: "bizsec's own" })] : [];
}

// noEffectText says that a setting governs nothing here.
function noEffectText(f) {
  return f.noEffect ? "Kept for the platform's clients; no effect in bizsec. " : "";
}

function readOnlyRow(f, value) {
  return el("div", { class: "field" + (f.noEffect ? " noeffect" : ""), "data-name": f.name },
    el("dt", { id: "l-" + f.name, text: f.label }, ...ownMark(f)),
    el("dd", { class: "value", id: "f-" + f.name, text: humanValue(f, value) }),
    el("dd", { class: "help", id: "h-" + f.name, text: noEffectText(f) + f.help }),
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
    case "specials": {
      // A PUT merges: leaving the list out keeps it, {"Any": true} takes it away.
      if (input.value === "any") return before === undefined || before === null ? null : { Any: true };
      const chars = input.value === "none" ? [] : [...new Set(input.parentElement.querySelector("[data-part]").value.replace(/\s/g, ""))];
      return { ...(before && typeof before === "object" ? before : {}), AllowedSpecialCharacter: chars };
    }
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
    if (v === null) delete out[name]; else out[name] = v;
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
        if (input.validity.badInput || v !== "" && (!/^\d+$/.test(v) || Number(v) < f.min || Number(v) > f.max)) {
          problems.push({ question: i, field: f.name, text: f.label + ": enter a whole number from " + f.min + " to " + f.max + ", or leave it empty for no limit." });
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
    if (!f) continue;
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
    const f = fieldsOf(state.tab).find((f) => new RegExp("\\b" + f.name + "\\b").test(part));
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
    const help = f.help;
    const helpId = help ? "qh" + entry.id + "-" + f.name : undefined;
    let input, extra;
    switch (f.kind) {
      case "bool":
        input = el("input", { type: "checkbox", role: "switch", id, "aria-describedby": helpId });
        input.checked = !!q[f.name];
        input.addEventListener("change", () => { q[f.name] = input.checked; refresh(); });
        break;
      case "count":
        input = el("input", { type: "number", id, min: f.min, max: f.max, step: 1, inputmode: "numeric", "aria-describedby": helpId });
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

// ---- users ----

function scrollRegion(table, label) {
  return el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label }, table);
}

const USER_PAGE = 20;
const ROLE_NAMES = { SiteAdmin: "Site Admin", Auditor: "Auditor" };
const METHODS = { "password": "Password", "password+2fa": "Password and second factor", "password+remembered device": "Password on a remembered device" };

// confirmAction asks before an action on someone's account; it resolves
// true when the admin goes ahead.
function confirmAction(title, text, yes) {
  const dialog = $("confirm-dialog");
  const opener = document.activeElement;
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yes;
  return new Promise((resolve) => {
    const close = (ok) => {
      dialog.close();
      $("confirm-yes").onclick = $("confirm-no").onclick = dialog.oncancel = null;
      if (opener && opener.isConnected) opener.focus();
      resolve(ok);
    };
    $("confirm-yes").onclick = () => close(true);
    $("confirm-no").onclick = () => close(false);
    dialog.oncancel = (ev) => { ev.preventDefault(); close(false); };
    dialog.showModal();
    $("confirm-no").focus();
  });
}

// userState says an account's state in words.
function userState(u) {
  const out = [];
  if (u.Disabled) out.push("Disabled");
  if (u.SuspendedUntil) out.push("Suspended until " + when(u.SuspendedUntil));
  if ((u.PendingTasks || []).includes("change.password")) out.push("Must choose a new password");
  return out.length ? out.join("; ") : "Active";
}

function rolesOf(u) {
  return u.Roles.length ? u.Roles.map((r) => (ROLE_NAMES[r.Role] || r.Role) + " of " + r.BusinessID).join(", ") : "No role";
}

async function loadUsers(seq) {
  $("settings-title").textContent = "Users";
  $("settings-intro").textContent = "Find a user by part of their email, then open them to see their sessions and factors" +
    (state.canWrite ? " and act on their account. Each action asks first." : ". As an Auditor you read; a Site Admin acts.");
  pageTitle("Users");
  const panel = $("panel");
  const status = el("p", { id: "users-status", class: "status ok", role: "status" });
  const problem = el("p", { id: "users-error", class: "error", role: "alert" });
  const q = el("input", { type: "search", id: "user-q", autocomplete: "off", "aria-describedby": "user-q-help" });
  const search = el("form", { id: "user-search", class: "business", role: "search" },
    el("label", { for: "user-q", text: "Email contains" }), q,
    el("button", { type: "submit", id: "user-search-button", class: "read", text: "Search" }),
    el("p", { id: "user-q-help", class: "note", text: "Leave it empty to list everyone." }));
  const results = el("div", { id: "user-results" });
  const more = el("button", { type: "button", id: "users-more", class: "read", text: "Show more users", hidden: true });
  const detail = el("section", { id: "user-detail", "aria-labelledby": "user-title", hidden: true });
  let body = null, next = "", query = "";
  const rows = new Map();

  const row = (u) => {
    const open = el("button", { type: "button", class: "read", text: "Details", "aria-label": "Details of " + u.Email });
    open.addEventListener("click", () => showUser(u.UserID));
    const tr = el("tr", { "data-user": u.UserID },
      el("td", {}, el("span", { class: "email", text: u.Email }), u.UserName && u.UserName !== u.Email ? el("br") : "",
        u.UserName && u.UserName !== u.Email ? el("span", { class: "name", text: u.UserName }) : ""),
      el("td", { text: rolesOf(u) }), el("td", { class: "state", text: userState(u) }),
      el("td", {}, u.LastLogin ? el("time", { datetime: u.LastLogin, text: when(u.LastLogin) }) : "Never"),
      el("td", { text: String(u.Sessions) }), el("td", {}, open));
    const old = rows.get(u.UserID);
    rows.set(u.UserID, { u, tr });
    if (old) old.tr.replaceWith(tr);
    return tr;
  };
  const fetchPage = async (reset) => {
    problem.textContent = "";
    more.disabled = true;
    try {
      const { data } = await api("GET", base() + "/users?limit=" + USER_PAGE + (query ? "&q=" + encodeURIComponent(query) : "") +
        (!reset && next ? "&before=" + encodeURIComponent(next) : ""));
      if (seq !== state.loadSeq) return;
      if (reset) {
        rows.clear();
        body = el("tbody");
        const table = el("table", { id: "users" }, el("caption", { text: query ? "Users whose email contains “" + query + "”" : "Users" }),
          el("thead", {}, el("tr", {}, ...["User", "Roles", "State", "Last login", "Live sessions", "Details"].map((t) => el("th", { scope: "col", text: t })))), body);
        results.replaceChildren(data.User.length ? scrollRegion(table, "Users") : el("p", { id: "no-users", text: "No user's email contains “" + query + "”." }));
      }
      for (const u of data.User) body.append(row(u));
      next = data.Next || "";
      more.hidden = !next;
    } catch (e) {
      problem.textContent = "Could not list the users: " + e.message;
    }
    more.disabled = false;
  };
  // reloadUser reads one user again after an action.
  const reloadUser = async (id) => {
    const known = rows.get(id);
    const { data } = await api("GET", base() + "/users?limit=" + USER_PAGE + "&q=" + encodeURIComponent(known.u.Email));
    const u = data.User.find((x) => x.UserID === id);
    if (u) row(u);
  };

  // showUser opens one user's detail, with the Site Admin's actions.
  const showUser = async (id) => {
    const { u } = rows.get(id);
    const dstatus = el("p", { id: "user-status", class: "status ok", role: "status" });
    const dproblem = el("p", { id: "user-error", class: "error", role: "alert" });
    const title = el("h2", { id: "user-title", tabindex: "-1", text: u.Email });
    const facts = el("dl", { class: "facts", id: "user-facts" },
      el("dt", { text: "Name" }), el("dd", { text: u.UserName || "—" }),
      el("dt", { text: "Roles" }), el("dd", { text: rolesOf(u) }),
      el("dt", { text: "State" }), el("dd", { id: "user-state", text: userState(u) }),
      el("dt", { text: "Suspended until" }), el("dd", {}, u.SuspendedUntil ? el("time", { datetime: u.SuspendedUntil, text: when(u.SuspendedUntil) }) : "Not suspended"),
      el("dt", { text: "Disabled" }), el("dd", { text: u.Disabled ? "Yes: they cannot log in" : "No" }),
      el("dt", { text: "Last login" }), el("dd", {}, u.LastLogin ? el("time", { datetime: u.LastLogin, text: when(u.LastLogin) }) : "Never"),
      el("dt", { text: "Live sessions" }), el("dd", { text: String(u.Sessions) }));
    detail.replaceChildren(title, dstatus, dproblem, facts);
    detail.hidden = false;
    const path = "/api/users/" + encodeURIComponent(id);
    if (!state.canWrite) {
      // An Auditor reads a user's sessions and factors; only Site Admins change them.
      const [sessions, factors] = await userRecords(path, u.Email, null);
      detail.append(el("p", { class: "note", text: "Only Site Admins can end sessions or remove factors." }),
        el("h3", { text: "Sessions" }), sessions, el("h3", { text: "Sign-in factors" }), factors);
      title.focus();
      return;
    }
    // act runs one confirmed action and shows its result.
    const act = async (what, text, yes, run, done) => {
      dproblem.textContent = "";
      if (!await confirmAction(what, text, yes)) return;
      try {
        const r = await run();
        await reloadUser(id);
        await showUser(id);
        $("user-status").textContent = done(r);
      } catch (e) {
        $("user-error").textContent = "Not done: " + humanize(e.message);
      }
    };
    const button = (bid, text, cls = "") => el("button", { type: "button", id: bid, class: cls || undefined, text });
    const actions = el("div", { class: "actions", id: "user-actions" });
    const who = u.Email;
    if (u.SuspendedUntil) {
      const b = button("act-unlock", "Unlock");
      b.addEventListener("click", () => act("Unlock " + who + "?", "The suspension ends now and they can log in again.", "Unlock",
        () => api("POST", base() + "/suspendedusers/" + encodeURIComponent(id) + "/unlock"), () => "Unlocked " + who + ": they can log in again."));
      actions.append(b);
    }
    if (u.Disabled) {
      const b = button("act-enable", "Enable the account");
      b.addEventListener("click", () => act("Enable " + who + "?", "They can log in again.", "Enable",
        () => api("POST", base() + "/users/" + encodeURIComponent(id) + "/enable"), () => "Enabled " + who + ": they can log in again."));
      actions.append(b);
    } else {
      const b = button("act-disable", "Disable the account", "danger");
      b.addEventListener("click", () => act("Disable " + who + "?", "Their sessions end at once and they cannot log in until enabled again.", "Disable",
        () => api("POST", base() + "/users/" + encodeURIComponent(id) + "/disable"), () => "Disabled " + who + ": their sessions ended and they cannot log in."));
      actions.append(b);
    }
    const end = button("act-end-sessions", "End all sessions", "danger");
    end.addEventListener("click", () => act("End all sessions of " + who + "?", "They are logged out everywhere and must log in again.", "End all sessions",
      () => api("DELETE", path + "/sessions"), (r) => "Ended " + (r.data ? r.data.Ended : 0) + " sessions of " + who + "."));
    const forget = button("act-forget-devices", "Forget remembered devices");
    forget.addEventListener("click", () => act("Forget " + who + "'s devices?", "Their next login asks for the second factor on every device.", "Forget devices",
      () => api("DELETE", path + "/devices"), () => "Forgot " + who + "'s remembered devices: their next login asks for the second factor."));
    actions.append(end, forget);

    const temp = el("input", { type: "password", id: "temp-password", autocomplete: "new-password", "aria-describedby": "temp-password-help" });
    const tempForm = el("form", { id: "temp-password-form", class: "login" },
      el("h3", { text: "Temporary password" }),
      el("label", { for: "temp-password", text: "Temporary password" }), temp,
      el("p", { id: "temp-password-help", class: "note", text: "Tell it to them yourself. Their sessions end, and at their next login they must choose a new password. It must meet the password rules." }),
      el("button", { type: "submit", id: "act-set-password", text: "Set a temporary password" }));
    tempForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!temp.value) { dproblem.textContent = "Enter the temporary password first."; temp.focus(); return; }
      const pw = temp.value;
      act("Set a temporary password for " + who + "?", "Their sessions end; at their next login they must choose a new password.", "Set the password",
        () => api("PUT", path + "/password", { NewPassword: pw }), () => "Set a temporary password for " + who + ": they must choose a new one at their next login.");
    });

    const [sessions, factors] = await userRecords(path, who, act);
    detail.append(el("h3", { text: "Actions" }), actions, tempForm, el("h3", { text: "Sessions" }), sessions, el("h3", { text: "Sign-in factors" }), factors);
    title.focus();
  };

  search.addEventListener("submit", (ev) => {
    ev.preventDefault();
    query = q.value.trim();
    detail.hidden = true;
    fetchPage(true);
  });
  more.addEventListener("click", () => fetchPage(false));
  panel.replaceChildren(status, problem, search, results, more, detail);
  await fetchPage(true);
}

// userRecords reads a user's sessions and sign-in factors for the Users
// page: with act (a Site Admin's), each factor can be removed and all reset
// at once; without, they are only shown (an Auditor's view).
async function userRecords(path, who, act) {
  let sessions, factors;
  try {
    const { data } = await api("GET", path + "/sessions");
    sessions = sessionTable(data.Session, "user-sessions", "Sessions of " + who);
  } catch (e) { sessions = el("p", { class: "error", text: "Could not read the sessions: " + e.message }); }
  try {
    const { data } = await api("GET", path + "/factors");
    const active = data.Factors.filter((f) => f.Active);
    if (!active.length) {
      factors = el("p", { id: "user-no-factors", text: "No factor besides the emailed code; " + data.RecoveryCodesLeft + " recovery codes left." });
    } else {
      const fbody = el("tbody");
      for (const f of active) {
        const cells = [el("td", { text: FACTOR_TYPES[f.Type] || f.Type }), el("td", { text: f.Name }),
          el("td", {}, el("time", { datetime: f.Created, text: when(f.Created) })),
          el("td", {}, f.LastUsed ? el("time", { datetime: f.LastUsed, text: when(f.LastUsed) }) : "Never")];
        if (act) {
          const rm = el("button", { type: "button", class: "danger", text: "Remove", "aria-label": "Remove the factor " + f.Name });
          rm.addEventListener("click", () => act("Remove " + f.Name + " from " + who + "?", "They can no longer log in with it; their sessions end and remembered devices are forgotten.", "Remove",
            () => api("DELETE", path + "/factors/" + encodeURIComponent(f.FactorID)), () => "Removed " + f.Name + " from " + who + "'s factors."));
          cells.push(el("td", {}, rm));
        }
        fbody.append(el("tr", { "data-type": f.Type }, ...cells));
      }
      const heads = ["Type", "Name", "Added", "Last used"].concat(act ? ["Action"] : []);
      const table = scrollRegion(el("table", { id: "user-factors" }, el("caption", { text: "Sign-in factors of " + who }),
        el("thead", {}, el("tr", {}, ...heads.map((t) => el("th", { scope: "col", text: t })))), fbody), "Sign-in factors of " + who);
      factors = el("div", { id: "user-factors-box" }, table, el("p", { class: "note", text: data.RecoveryCodesLeft + " recovery codes left." }));
      if (act) {
        const reset = el("button", { type: "button", id: "act-reset-factors", class: "danger", text: "Reset all factors" });
        reset.addEventListener("click", () => act("Reset all factors of " + who + "?",
          "Every app and key is removed: they are back to the emailed code, or asked to enrol one if the factor policy requires it. Their sessions end.", "Reset factors",
          async () => { for (const f of active) await api("DELETE", path + "/factors/" + encodeURIComponent(f.FactorID)); },
          () => "Reset " + who + "'s factors: " + active.length + " removed."));
        factors.append(reset);
      }
    }
  } catch (e) { factors = el("p", { class: "error", text: "Could not read the factors: " + e.message }); }
  return [sessions, factors];
}

// sessionTable lists live sessions: when, from where, how; with a button
// for each when onEnd is given (the user's own, not the current one).
function sessionTable(list, id, caption, onEnd) {
  if (!list.length) return el("p", { id: id + "-none", text: "No live session." });
  const body = el("tbody");
  const cols = ["Started", "Last used", "From", "How"].concat(onEnd ? ["Action"] : []);
  for (const s of list) {
    const tr = el("tr", { "data-session": s.SessionID, class: s.Current ? "current" : undefined },
      el("td", {}, el("time", { datetime: s.Created, text: when(s.Created) }), s.Current ? el("br") : "", s.Current ? el("strong", { text: "This session" }) : ""),
      el("td", {}, el("time", { datetime: s.LastUsed, text: when(s.LastUsed) })),
      el("td", {}, el("span", { text: s.ClientAddress }), el("br"), el("small", { class: "agent", text: s.UserAgent })),
      el("td", { text: METHODS[s.Method] || s.Method }));
    if (onEnd) {
      if (s.Current) tr.append(el("td", { text: "—" }));
      else {
        const b = el("button", { type: "button", class: "sign-out", text: "Sign out", "aria-label": "Sign out the session started " + when(s.Created) + " from " + s.ClientAddress });
        b.addEventListener("click", () => onEnd(s, b));
        tr.append(el("td", {}, b));
      }
    }
    body.append(tr);
  }
  return scrollRegion(el("table", { id }, el("caption", { text: caption }),
    el("thead", {}, el("tr", {}, ...cols.map((t) => el("th", { scope: "col", text: t })))), body), caption);
}

// ---- the standards check, as a to-do list ----

// Where each finding is fixed: the page and the setting, in the order
// that works.
const FIXES = {
  "lockout": [["loginpolicy", "MaxSequentialFailureAttemptsAllowed"]],
  "session-idle": [["loginpolicy", "InactiveSessionTimeout"]],
  "session-absolute": [["loginpolicy", "ActiveSessionTimeout"]],
  "second-factor": [["twofasettings", "TwoFAEnabled", "Turn on two-factor login"],
    ["factorpolicy", "StrongFactorRequired", "Then require an app or key of everyone"], ["factorpolicy", "EmailCodeFallback", "And no emailed fallback"]],
  "admin-phishing-resistant": [["factorpolicy", "AllowWebAuthn", "Allow security keys and passkeys"],
    ["factorpolicy", "StrongFactorRequired", "Require a strong factor of Site Admins"], ["factorpolicy", "AllowTOTP", "Then allow keys only"]],
  "webauthn-user-verification": [["factorpolicy", "WebAuthnUserVerification"]],
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
  $("settings-intro").textContent = "Your sessions, your password and email, and how you prove it is you when you log in. " +
    "Changes to factors need a recent login: you may be asked for your password again.";
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

  const extras = await accountExtras(seq, status, problem, again);
  if (seq !== state.loadSeq) return;
  panel.replaceChildren(status, problem, ...extras,
    el("h2", { text: "Sign-in factors" }), list,
    el("h2", { text: "Authenticator app" }), el("p", { text: "An app such as Google Authenticator, Microsoft Authenticator or 1Password shows a new six-digit code every 30 seconds." }), addApp, enrol,
    el("h2", { text: "Security keys and passkeys" }), el("p", { text: window.PublicKeyCredential ? "A security key, or a passkey kept by this device or your password manager: nothing to type, and it cannot be phished." : "This browser does not support security keys." }), addKey,
    el("h2", { text: "Recovery codes" }), el("p", { id: "recovery-left", text: data.RecoveryCodesLeft + " recovery codes left." }), newCodes, codesBox);
}

// accountExtras builds My account's sessions, password and email parts.
async function accountExtras(seq, status, problem, again) {
  const out = [];
  // Sessions.
  let sessions;
  try {
    ({ data: sessions } = await api("GET", userBase() + "/sessions"));
  } catch (e) {
    sessions = null;
    out.push(el("h2", { text: "Your sessions" }), el("p", { class: "error", text: "Could not read your sessions: " + e.message }));
  }
  if (seq !== state.loadSeq) return [];
  if (sessions) {
    const list = sessions.Session;
    const table = sessionTable(list, "my-sessions", "Your live sessions", async (s, b) => {
      b.disabled = true;
      problem.textContent = "";
      try {
        await api("DELETE", userBase() + "/sessions/" + encodeURIComponent(s.SessionID));
        again("Signed out the session started " + when(s.Created) + ".");
      } catch (e) { b.disabled = false; problem.textContent = "Could not sign it out: " + e.message; }
    });
    const others = el("button", { type: "button", id: "sign-out-others", class: "danger", text: "Sign out everywhere else",
      hidden: !list.some((s) => !s.Current) });
    others.addEventListener("click", async () => {
      others.disabled = true;
      problem.textContent = "";
      try {
        const { data } = await api("DELETE", userBase() + "/sessions");
        again("Signed out everywhere else: " + data.Ended + (data.Ended === 1 ? " session" : " sessions") + " ended.");
      } catch (e) { others.disabled = false; problem.textContent = "Could not sign out the others: " + e.message; }
    });
    out.push(el("h2", { text: "Your sessions" }), el("p", { text: "Where you are logged in now. Sign out a session you do not recognize, then change your password." }),
      table, others);
  }

  // The password.
  const oldPw = el("input", { type: "password", id: "old-password", autocomplete: "current-password", required: true, "aria-describedby": "old-password-message" });
  const newPw = el("input", { type: "password", id: "new-password", autocomplete: "new-password", required: true, "aria-describedby": "new-password-help new-password-message" });
  const oldMsg = el("p", { class: "message", id: "old-password-message" });
  const newMsg = el("p", { class: "message", id: "new-password-message" });
  const pwForm = el("form", { id: "password-form", class: "login", novalidate: true },
    el("label", { for: "old-password", text: "Current password" }), oldPw, oldMsg,
    el("label", { for: "new-password", text: "New password" }), newPw,
    el("p", { id: "new-password-help", class: "note", text: "Your organisation's password rules apply; common and breached passwords are refused. Your other sessions end." }),
    newMsg,
    el("button", { type: "submit", id: "change-password", text: "Change password" }));
  const fieldError = (input, msg, text) => {
    msg.textContent = text;
    if (text) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
  };
  pwForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    fieldError(oldPw, oldMsg, "");
    fieldError(newPw, newMsg, "");
    problem.textContent = "";
    if (!oldPw.value) { fieldError(oldPw, oldMsg, "Enter your current password."); oldPw.focus(); return; }
    if (!newPw.value) { fieldError(newPw, newMsg, "Enter the new password."); newPw.focus(); return; }
    try {
      await api("PUT", userBase() + "/password", { OldPassword: oldPw.value, NewPassword: newPw.value }, {}, { noReauth: true });
      again("Password changed. Your other sessions have ended.");
    } catch (e) {
      if (e.status === 401) { fieldError(oldPw, oldMsg, "That is not your current password."); oldPw.focus(); }
      else if (e.status === 429) { fieldError(oldPw, oldMsg, "Too many attempts: wait a few minutes, then try again."); oldPw.focus(); }
      else { fieldError(newPw, newMsg, humanize(e.message)); newPw.focus(); }
    }
  });
  out.push(el("h2", { text: "Password" }), pwForm);

  // The email.
  const newEmail = el("input", { type: "email", id: "new-email", autocomplete: "email", required: true });
  const emailPw = el("input", { type: "password", id: "email-password", autocomplete: "current-password", required: true, "aria-describedby": "email-message" });
  const emailMsg = el("p", { class: "message", id: "email-message" });
  const emailForm = el("form", { id: "email-form", class: "login", novalidate: true },
    el("p", { text: "Your email is " + (state.email || "not known to this page") + ". A code goes to the new address; the old one is told." }),
    el("label", { for: "new-email", text: "New email" }), newEmail,
    el("label", { for: "email-password", text: "Your password" }), emailPw, emailMsg,
    el("button", { type: "submit", id: "change-email", text: "Change email" }));
  const codeIn = el("input", { id: "email-code", class: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, maxlength: 20, "aria-describedby": "email-code-message" });
  const codeMsg = el("p", { class: "message", id: "email-code-message" });
  const codeForm = el("form", { id: "email-code-form", class: "login", hidden: true, novalidate: true },
    el("p", { id: "email-code-help" }),
    el("label", { for: "email-code", text: "Code from the mail" }), codeIn, codeMsg,
    el("button", { type: "submit", id: "confirm-email", text: "Confirm" }));
  const changed = (to) => {
    state.email = to;
    again("Your email is now " + to + ".");
  };
  emailForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    emailMsg.textContent = "";
    problem.textContent = "";
    const to = newEmail.value.trim();
    if (!to) { emailMsg.textContent = "Enter the new email."; newEmail.focus(); return; }
    try {
      const { data } = await api("PUT", userBase(), { Email: to, Password: emailPw.value }, {}, { noReauth: true });
      if (data && data.Status === "Changed") return changed(to);
      emailForm.hidden = true;
      codeForm.hidden = false;
      $("email-code-help").textContent = "We sent a code to " + to + ". Enter it to make it your address.";
      codeForm.dataset.to = to;
      codeIn.focus();
    } catch (e) {
      emailMsg.textContent = e.status === 401 ? "That is not your current password." :
        e.status === 403 ? humanize(e.message) + ". A Site Admin can turn it on on the Security page." : humanize(e.message);
      (e.status === 401 ? emailPw : newEmail).focus();
    }
  });
  codeForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    codeMsg.textContent = "";
    try {
      await api("POST", userBase() + "/email/confirm", { Code: codeIn.value.trim() }, {}, { noReauth: true });
      changed(codeForm.dataset.to);
    } catch (e) {
      codeMsg.textContent = e.status === 401 || e.status === 400 ? "That code is not right, or it has expired. " + humanize(e.message) : humanize(e.message);
      codeIn.focus();
    }
  });
  out.push(el("h2", { text: "Email" }), emailForm, codeForm);
  return out;
}

// ---- start ----

$("login-box").append(loginWidget("", { done: loggedIn }));
// A session that is still live (a reload) goes straight to the settings.
api("GET", "/api/login/status", undefined, {}, { noReauth: true }).then(({ data }) => {
  if (!(data.pendingTasks || []).length) loggedIn(data);
}).catch(() => {});
