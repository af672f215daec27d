// The schedulers' page: asks the check service's HTTP API with the caller's bearer token.
// The token lives in this tab's sessionStorage only; every request goes to this server.
"use strict";

const TOKEN_KEY = "dedup-token";
const SIDES = { L: "left", R: "right", B: "both sides", U: "", "": "not recorded" };
let checkId = null;

function $(id) { return document.getElementById(id); }

function token() { return sessionStorage.getItem(TOKEN_KEY); }

function show(signedIn) {
  $("token-section").hidden = signedIn;
  $("order-section").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
  if (!signedIn) { $("answer-section").hidden = true; $("token").focus(); }
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method, cache: "no-store", credentials: "omit",
    headers: { Authorization: `Bearer ${token()}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    show(false);
    throw new Error("The token was not accepted; enter it again.");
  }
  const data = await response.json();
  if (!response.ok) {
    const error = new Error(data.error ? data.error.message : `error ${response.status}`);
    error.problems = (data.error && data.error.problems) || [];
    throw error;
  }
  return data;
}

async function loadSuggestions() {
  try {
    const data = await api("GET", "/schedule/procedures");
    const list = $("procedures");
    list.replaceChildren(...data.procedures.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      return option;
    }));
  } catch (error) { /* suggestions are a help only */ }
}

function ago(days) {
  if (days === 0) return "today";
  if (days < 0) return `${-days} day${days < -1 ? "s" : ""} after the order date`;
  return `${days} day${days > 1 ? "s" : ""} ago`;
}

function headline(result) {
  const latest = result.priors[0];
  const where = latest && latest.institution ? ` at ${latest.institution}` : "";
  if (result.answer === "yes") {
    const sure = result.priors.find((p) => p.answer === "yes");
    const at = sure.institution ? ` at ${sure.institution}` : "";
    return `A prior exists: ${result.family} ${ago(sure.days_ago)}${at}`;
  }
  if (result.answer === "possible") {
    // a region without sides leaves only the procedure itself in doubt
    const why = latest.laterality === "U" ? "check the procedure" : "check laterality";
    return `Possible prior — ${why}: ${result.family} ${ago(latest.days_ago)}${where}`;
  }
  if (result.answer === "no") return "No prior found";
  return "Cannot tell: the procedure names no body part";
}

function cell(row, text) {
  const td = document.createElement("td");
  if (text instanceof Node) td.append(text); else td.textContent = text;
  row.append(td);
}

function showPriors(priors) {
  const body = $("priors").querySelector("tbody");
  body.replaceChildren();
  for (const prior of priors) {
    const row = document.createElement("tr");
    cell(row, prior.study_date);
    cell(row, String(prior.days_ago));
    cell(row, prior.institution || "not recorded");
    cell(row, prior.description || prior.family);
    cell(row, SIDES[prior.laterality] ?? prior.laterality);
    cell(row, prior.answer === "yes" ? "same procedure" : "possible");
    if (prior.viewer_url) {
      const link = document.createElement("a");
      link.href = prior.viewer_url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.textContent = "Open in viewer";
      link.setAttribute("aria-label", `Open the study of ${prior.study_date} in the viewer`);
      cell(row, link);
    } else {
      cell(row, "no viewer configured");
    }
    body.append(row);
  }
  $("priors").hidden = priors.length === 0;
}

function showAnswer(result) {
  checkId = result.check_id;
  const section = $("answer-section");
  section.className = result.answer;
  section.hidden = false;
  $("answer").textContent = headline(result);
  $("recommendation").textContent = result.recommendation;
  $("problems").replaceChildren();
  showPriors(result.priors);
  $("outcome-form").hidden = result.priors.length === 0;
  $("outcome-status").textContent = "";
  $("answer").focus();
}

function showError(error) {
  const section = $("answer-section");
  section.className = "error";
  section.hidden = false;
  $("answer").textContent = error.message;
  $("recommendation").textContent = "";
  $("problems").replaceChildren(...(error.problems || []).map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }));
  $("priors").hidden = true;
  $("outcome-form").hidden = true;
  $("answer").focus();
}

async function ask(event) {
  event.preventDefault();
  const form = new FormData($("order-form"));
  const name = [form.get("family").trim(), form.get("given").trim()].filter(Boolean).join("^");
  const question = {
    name, birth_date: form.get("birth_date") || null, sex: form.get("sex") || null,
    patient_id: form.get("patient_id").trim(), issuer: form.get("issuer").trim(),
    description: form.get("procedure").trim(), laterality: form.get("laterality"),
    order_date: form.get("order_date") || null,
  };
  $("check-button").disabled = true;
  try {
    showAnswer(await api("POST", "/v1/priors", question));
  } catch (error) {
    if (!$("order-section").hidden) showError(error);
  } finally {
    $("check-button").disabled = false;
  }
}

async function decide(outcome) {
  const reason = $("reason").value.trim();
  if (outcome === "ordered-anyway" && !reason) {
    $("outcome-status").textContent = "Give the reason to order anyway first.";
    $("reason").focus();
    return;
  }
  try {
    await api("POST", "/v1/outcomes", {
      check_id: checkId, outcome, reason: outcome === "ordered-anyway" ? reason : null,
    });
    $("outcome-status").textContent = outcome === "withdrawn"
      ? "Recorded: the order was withdrawn." : "Recorded: ordered anyway.";
  } catch (error) {
    $("outcome-status").textContent = `Not recorded: ${error.message}`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("order_date").value = new Date().toLocaleDateString("en-CA");  // YYYY-MM-DD, local day
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    show(true);
    loadSuggestions();
    $("family").focus();
  });
  $("sign-out").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); show(false); });
  $("order-form").addEventListener("submit", ask);
  $("withdrawn").addEventListener("click", () => decide("withdrawn"));
  $("ordered-anyway").addEventListener("click", () => decide("ordered-anyway"));
  show(Boolean(token()));
  if (token()) loadSuggestions();
});
