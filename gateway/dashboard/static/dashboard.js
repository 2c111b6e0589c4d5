// The gateway's dashboard: plugins, their state and traffic, and a reload button each.
//
// Everything shown comes from the admin API, fetched with the token the user enters (kept in
// sessionStorage: this tab, this browser session). Data reaches the page only through
// textContent and attributes, never as HTML (the CSP enforces that with Trusted Types).

import { formatRate, formatSeconds, parsePrometheus, pluginActivity, totalsByPlugin } from "./metrics.js";

const TOKEN_KEY = "gateway.adminToken";
const REFRESH_MS = 3000;
// Once /metrics answered 404 (no metrics in this gateway), ask again only this often.
const METRICS_RETRY_MS = 30000;
// The admin API lives beside the page, whatever the admin prefix is.
const API = new URL("./", window.location.href);

const $ = (id) => document.getElementById(id);
const ui = {
  login: $("login"),
  token: $("token"),
  loginError: $("login-error"),
  board: $("board"),
  signOut: $("sign-out"),
  summary: $("summary"),
  updated: $("updated"),
  notice: $("notice"),
  rows: $("plugin-rows"),
  metricsNote: $("metrics-note"),
};

let token = sessionStorage.getItem(TOKEN_KEY);
let timer = null;
let refreshes = 0; // counted, so that a refresh finishing late cannot overwrite a newer one
let previousScrape = null;
let metricsState = { available: false, reason: "not fetched yet", scrape: null };
let metricsRetryAt = 0;
const rowsByName = new Map();

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const response = await fetch(new URL(path, API), {
    ...options,
    cache: "no-store",
    headers: { Authorization: `Bearer ${token}` },
  });
  if (response.status === 401) throw new Unauthorized();
  return response;
}

function el(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

// -- signing in --------------------------------------------------------------------------

function showLogin(message = "", invalid = message !== "") {
  stopRefreshing();
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  ui.board.hidden = true;
  ui.signOut.hidden = true;
  ui.rows.replaceChildren();
  rowsByName.clear();
  ui.notice.textContent = "";
  ui.login.hidden = false;
  ui.loginError.textContent = message;
  ui.token.value = "";
  ui.token.setAttribute("aria-invalid", String(invalid));
  ui.token.focus();
}

async function signIn(candidate) {
  token = candidate;
  ui.loginError.textContent = "Checking the token…";
  try {
    const response = await api("plugins");
    if (!response.ok) throw new Error(`GET plugins answered ${response.status}`);
    sessionStorage.setItem(TOKEN_KEY, candidate);
    ui.loginError.textContent = "";
    await refresh();
    if (token) showBoard(); // unless refresh() was refused and asked for the token again
  } catch (error) {
    if (error instanceof Unauthorized) {
      showLogin("The gateway did not accept this token. Enter the admin token: admin.token in " +
        "config.yaml, GATEWAY_ADMIN_TOKEN, or the one the gateway printed at start-up.");
    } else {
      token = null;
      ui.loginError.textContent = `Could not sign in: ${error.message}`;
    }
  }
}

function showBoard() {
  ui.login.hidden = true;
  ui.loginError.textContent = "";
  ui.board.hidden = false;
  ui.signOut.hidden = false;
}

ui.login.addEventListener("submit", (event) => {
  event.preventDefault();
  const candidate = ui.token.value.trim();
  if (candidate === "") {
    ui.loginError.textContent = "Enter the admin token.";
    ui.token.focus();
    return;
  }
  if (!/^[\x21-\x7e]+$/.test(candidate)) {
    // fetch() refuses such a header value; no gateway token looks like this either.
    showLogin("A token is printable ASCII without spaces: check what was pasted.");
    return;
  }
  signIn(candidate);
});

ui.signOut.addEventListener("click", () => showLogin("Signed out.", false));

// -- refreshing ----------------------------------------------------------------------------

function stopRefreshing() {
  if (timer !== null) clearTimeout(timer);
  timer = null;
  refreshes++;
}

async function scrapeMetrics() {
  if (performance.now() < metricsRetryAt) return metricsState;
  try {
    const response = await api("metrics");
    if (!response.ok) {
      if (response.status === 404) metricsRetryAt = performance.now() + METRICS_RETRY_MS;
      return { available: false, reason: `GET metrics answered ${response.status}`, scrape: null };
    }
    const { samples } = parsePrometheus(await response.text());
    return { available: true, reason: "", scrape: { time: performance.now(), totals: totalsByPlugin(samples) } };
  } catch (error) {
    if (error instanceof Unauthorized) throw error;
    return { available: false, reason: `GET metrics failed: ${error.message}`, scrape: null };
  }
}

async function refresh() {
  if (timer !== null) clearTimeout(timer);
  timer = null;
  const mine = ++refreshes;
  try {
    const [pluginsResponse, metrics] = await Promise.all([api("plugins"), scrapeMetrics()]);
    if (!pluginsResponse.ok) throw new Error(`GET plugins answered ${pluginsResponse.status}`);
    const plugins = (await pluginsResponse.json()).plugins;
    if (mine !== refreshes) return;
    if (metrics.available) {
      previousScrape = metricsState.available ? metricsState.scrape : null;
    } else {
      previousScrape = null;
    }
    metricsState = metrics;
    render(plugins);
    ui.updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (mine !== refreshes) return;
    if (error instanceof Unauthorized) {
      showLogin("The gateway no longer accepts the token (was it restarted with another one?).");
      return;
    }
    ui.updated.textContent = `Update failed: ${error.message}. Retrying…`;
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

// -- rendering -------------------------------------------------------------------------------

function prefixLink(prefix) {
  if (typeof prefix !== "string" || !prefix.startsWith("/")) return el("span", prefix ?? "—");
  // The prefix comes from a plugin's manifest: link it only if it stays on this gateway.
  const url = new URL(prefix === "/" ? "/" : `${prefix}/`, window.location.origin);
  if (url.origin !== window.location.origin) return el("span", prefix);
  return el("a", prefix, { href: url.pathname });
}

function loadedAt(value) {
  if (!value) return el("span", "—", { title: "never loaded" });
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return el("span", value);
  const shown = date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
  return el("time", shown, { datetime: value, title: value });
}

function errorContent(error) {
  if (!error) return [el("span", "—", { class: "muted" })];
  return [el("strong", error.type), el("pre", error.message)];
}

/** [column, text, title] of the traffic columns for plugin `name`. */
function metricTexts(name) {
  if (!metricsState.available) {
    const why = metricsState.reason;
    return ["rate", "latency", "in-flight"].map((column) => [column, "metrics unavailable", why]);
  }
  const activity = pluginActivity(previousScrape, metricsState.scrape, name);
  const measuring = previousScrape === null;
  const empty = measuring ? "measuring…" : "—";
  return [
    ["rate", activity.rate === null ? empty : formatRate(activity.rate), ""],
    [
      "latency",
      activity.meanLatency === null ? empty : formatSeconds(activity.meanLatency),
      activity.meanLatency === null && !measuring ? "no request finished since the last update" : "",
    ],
    ["in-flight", String(activity.inFlight), "requests being served now"],
  ];
}

function reloadButton(name) {
  const button = el("button", "Reload", { type: "button", "aria-label": `Reload ${name}` });
  button.addEventListener("click", () => reload(name, button));
  return button;
}

const COLUMNS = ["framework", "status", "generation", "prefix", "loaded", "error", "rate", "latency", "in-flight"];

/** A row whose cells are refilled on each update; its reload button stays the same node. */
function buildRow(name) {
  const row = el("tr", null, { "data-plugin": name });
  row.append(el("th", name, { scope: "row" }));
  const cells = {};
  for (const column of COLUMNS) {
    cells[column] = el("td", null, { class: column });
    row.append(cells[column]);
  }
  const actions = el("td", null, { class: "actions" });
  actions.append(reloadButton(name));
  row.append(actions);
  return { row, cells };
}

function fill(cell, ...content) {
  cell.replaceChildren(...content);
}

function updateRow({ cells }, plugin) {
  fill(cells.framework, plugin.framework ?? "—");
  fill(cells.status, el("span", plugin.status, { class: `badge status-${plugin.status}` }));
  fill(cells.generation, String(plugin.generation));
  fill(cells.prefix, prefixLink(plugin.prefix));
  fill(cells.loaded, loadedAt(plugin.loaded_at));
  fill(cells.error, ...errorContent(plugin.error));
  for (const [column, text, title] of metricTexts(plugin.name)) {
    fill(cells[column], text);
    cells[column].title = title;
    cells[column].classList.toggle("muted", !metricsState.available);
  }
}

function render(plugins) {
  const seen = new Set();
  plugins.forEach((plugin, index) => {
    seen.add(plugin.name);
    let entry = rowsByName.get(plugin.name);
    if (!entry) {
      entry = buildRow(plugin.name);
      rowsByName.set(plugin.name, entry);
    }
    updateRow(entry, plugin);
    const at = ui.rows.children[index];
    if (at !== entry.row) ui.rows.insertBefore(entry.row, at ?? null);
  });
  for (const [name, entry] of rowsByName) {
    if (!seen.has(name)) {
      entry.row.remove();
      rowsByName.delete(name);
    }
  }
  const failed = plugins.filter((p) => p.status === "failed").length;
  const active = plugins.filter((p) => p.status === "active").length;
  ui.summary.textContent =
    `${plugins.length} plugin${plugins.length === 1 ? "" : "s"}: ${active} active, ${failed} failed`;
  ui.metricsNote.hidden = metricsState.available;
  ui.metricsNote.textContent = metricsState.available ? "" : `Metrics unavailable (${metricsState.reason}).`;
}

async function reload(name, button) {
  button.disabled = true;
  button.textContent = "Reloading…";
  ui.notice.textContent = `Reloading ${name}…`;
  try {
    const response = await api(`plugins/${encodeURIComponent(name)}/reload`, { method: "POST" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      ui.notice.textContent = `Reload of ${name} failed: ${body.detail ?? response.status}`;
    } else if (body.error && body.status === "failed") {
      ui.notice.textContent = `${name} failed to load: ${body.error.type}: ${body.error.message}`;
    } else if (body.error) {
      ui.notice.textContent =
        `${name} failed to load (${body.error.type}); generation ${body.generation} still serves`;
    } else {
      ui.notice.textContent = `${name} reloaded: generation ${body.generation}, ${body.status}`;
    }
  } catch (error) {
    if (error instanceof Unauthorized) {
      showLogin("The gateway no longer accepts the token (was it restarted with another one?).");
      return;
    }
    ui.notice.textContent = `Reload of ${name} failed: ${error.message}`;
  } finally {
    button.disabled = false;
    button.textContent = "Reload";
  }
  await refresh();
}

// -- start -----------------------------------------------------------------------------------

if (token) {
  showBoard();
  refresh();
} else {
  showLogin();
}
