// A small offline reader of an OpenAPI document: the gateway's merged one at
// /_gateway/docs (fetched with the admin token), or a functions plugin's own at <prefix>/docs.
//
// Written by hand instead of vendoring Swagger UI (about 1.5 MB): the gateway serves nothing
// from the internet and keeps the package lean. It lists every operation by tag with its
// parameters, request body and responses, and the schemas; data reaches the page only through
// textContent, never as HTML.
"use strict";

(() => {
  const TOKEN_KEY = "gateway.adminToken";
  const SOURCE = new URL("openapi.json", window.location.href);
  const root = document.getElementById("docs");

  function el(tag, text, attributes = {}) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    return node;
  }

  function schemaText(schema) {
    return JSON.stringify(schema ?? {}, null, 2);
  }

  function refName(schema) {
    const ref = schema && schema.$ref;
    return typeof ref === "string" ? ref.split("/").pop() : null;
  }

  function renderOperation(method, path, op) {
    const box = el("details", null, { class: "operation", id: op.operationId || `${method} ${path}` });
    const head = el("summary");
    head.append(el("span", method.toUpperCase(), { class: `method method-${method}` }), " ", el("code", path));
    if (op.summary) head.append(" ", el("span", op.summary, { class: "op-summary" }));
    box.append(head);
    if (op.operationId) box.append(el("p", `operationId: ${op.operationId}`, { class: "muted" }));
    if (op.description && op.description !== op.summary) box.append(el("p", op.description));
    const params = op.parameters || [];
    if (params.length) {
      box.append(el("h4", "Parameters"));
      const table = el("table");
      const header = el("tr");
      for (const h of ["name", "in", "required", "schema"]) header.append(el("th", h));
      table.append(header);
      for (const p of params) {
        const row = el("tr");
        row.append(el("td", p.name), el("td", p.in), el("td", p.required ? "yes" : "no"));
        row.append(el("td", refName(p.schema) || (p.schema && p.schema.type) || "any"));
        table.append(row);
      }
      box.append(table);
    }
    const body = op.requestBody && op.requestBody.content;
    if (body) {
      box.append(el("h4", "Request body"));
      for (const [type, media] of Object.entries(body)) {
        box.append(el("p", type, { class: "muted" }), el("pre", schemaText(media.schema)));
      }
    }
    box.append(el("h4", "Responses"));
    for (const [code, response] of Object.entries(op.responses || {})) {
      box.append(el("p", `${code}: ${response.description || ""}`));
      for (const media of Object.values(response.content || {})) {
        if (media.schema) box.append(el("pre", schemaText(media.schema)));
      }
    }
    return box;
  }

  function render(doc) {
    root.replaceChildren();
    const info = doc.info || {};
    root.append(el("h1", info.title || "API"), el("p", `OpenAPI ${doc.openapi} · version ${info.version || "?"}`, { class: "muted" }));
    if (info.description) root.append(el("p", info.description));
    const byTag = new Map();
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const [method, op] of Object.entries(item)) {
        if (typeof op !== "object" || !op || !("responses" in op)) continue;
        const tag = (op.tags && op.tags[0]) || "default";
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push([method, path, op]);
      }
    }
    const described = new Map((doc.tags || []).map((t) => [t.name, t.description]));
    for (const [tag, operations] of byTag) {
      const section = el("section", null, { class: "tag" });
      section.append(el("h2", tag));
      if (described.get(tag)) section.append(el("p", described.get(tag), { class: "muted" }));
      for (const [method, path, op] of operations) section.append(renderOperation(method, path, op));
      root.append(section);
    }
    const schemas = (doc.components && doc.components.schemas) || {};
    if (Object.keys(schemas).length) {
      const section = el("section", null, { class: "schemas" });
      section.append(el("h2", "Schemas"));
      for (const [name, schema] of Object.entries(schemas)) {
        const box = el("details", null, { id: `schema-${name}` });
        box.append(el("summary", name), el("pre", schemaText(schema)));
        section.append(box);
      }
      root.append(section);
    }
  }

  function askToken(message) {
    root.replaceChildren();
    const form = el("form", null, { class: "login", novalidate: "" });
    form.append(el("h2", "Sign in"), el("p", message));
    form.append(el("label", "Admin token", { for: "token" }));
    const input = el("input", null, { id: "token", type: "password", autocomplete: "off" });
    form.append(input, el("button", "Sign in", { type: "submit" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (token) {
        sessionStorage.setItem(TOKEN_KEY, token);
        load();
      }
    });
    root.append(form);
    input.focus();
  }

  async function load() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    let response;
    try {
      response = await fetch(SOURCE, { headers, cache: "no-store" });
    } catch (error) {
      root.replaceChildren(el("p", `Could not fetch ${SOURCE.pathname}: ${error.message}`, { role: "alert" }));
      return;
    }
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      askToken(token ? "The gateway did not accept this token." : "This document needs the admin token.");
      return;
    }
    if (!response.ok) {
      root.replaceChildren(el("p", `GET ${SOURCE.pathname} answered ${response.status}`, { role: "alert" }));
      return;
    }
    render(await response.json());
  }

  load();
})();
