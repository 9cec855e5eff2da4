// The console: plain JavaScript over the service's own JSON routes, one page per address.
// Text from the service is always set with textContent (never as HTML).

const page = document.getElementById("page");
const STRATEGIES = ["content", "collaborative", "hybrid", "popularity", "ranked"];

// --- helpers ------------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

async function getJSON(url, options = {}) {
  const response = await fetch(url, options);
  const body = await response.json();
  if (!response.ok) {
    const error = new Error(body.error ? body.error.message : response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

function token() {
  return sessionStorage.getItem("adminToken") || "";
}

function tokenForm(onToken, message) {
  const input = el("input", { type: "password", name: "token", placeholder: "admin token", autocomplete: "off" });
  return el(
    "form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        sessionStorage.setItem("adminToken", input.value);
        onToken();
      },
    },
    el("span", { text: message }),
    input,
    el("button", { type: "submit", text: "Use token" }),
  );
}

function money(price) {
  return price == null ? "" : price.toFixed(2);
}

function productItem(result) {
  const link = el("a", { href: `/console/products/${encodeURIComponent(result.product_id)}`, "data-link": "" });
  link.textContent = result.title;
  const facts = [result.category, money(result.price)].filter(Boolean).join(" · ");
  return el(
    "li",
    { class: "item", "data-product": result.product_id },
    result.img_url ? el("img", { src: result.img_url, alt: "", loading: "lazy" }) : null,
    el(
      "span",
      {},
      link,
      result.new ? el("span", { class: "new", text: "new" }) : null,
      el("br"),
      el("span", { class: "muted", text: facts }),
    ),
  );
}

function resultList(title, results, attributes = {}) {
  const list = el("ol");
  for (const result of results) list.append(productItem(result));
  if (!results.length) list.append(el("li", { class: "muted", text: "nothing" }));
  return el("section", { class: "list", ...attributes }, el("h3", { text: title }), list);
}

function failure(error) {
  return el("p", { class: "error", text: `The service answered: ${error.message}` });
}

// --- pages --------------------------------------------------------------------------------

async function overview() {
  const health = await getJSON("/health");
  const built = health.built || {};
  const rows = [
    ["Model version", health.model_version],
    ["Built", built.at ? `${built.at} in ${built.seconds} s` : "unknown"],
    ["Products", health.products],
    ["Users", health.users],
    ["Interactions", built.interactions ?? "unknown"],
    ["Ranker", health.ranker.trained ? "trained" : `not trained: ${health.ranker.reason}`],
    ["Cache", health.cache],
    ["Feedback store", health.feedback_store],
    ["Reload", health.reload.state + (health.reload.error ? `: ${health.reload.error}` : "")],
  ];
  const table = el("table", { id: "health" });
  for (const [name, value] of rows) table.append(el("tr", {}, el("th", { text: name }), el("td", { text: String(value) })));
  const status = el("p", { id: "reload-status", class: "muted" });
  const reload = async () => {
    const response = await fetch("/admin/reload", { method: "POST", headers: { Authorization: `Bearer ${token()}` } });
    const body = await response.json();
    status.textContent = response.ok ? `Reload ${body.status}.` : `Reload refused: ${body.error.message}`;
  };
  page.replaceChildren(
    el("h2", { text: "Overview" }),
    table,
    el("h2", { text: "Rebuild the models" }),
    tokenForm(reload, "Rebuild from the CSVs, the feedback and the catalog changes:"),
    status,
  );
}

async function products(productId) {
  const input = el("input", { type: "search", name: "q", placeholder: "search titles", value: "" });
  const found = el("div", { id: "search-results" });
  const search = async () => {
    const body = await getJSON(`/products?q=${encodeURIComponent(input.value)}&limit=20`);
    found.replaceChildren(resultList(`Products matching “${input.value}”`, body.results));
  };
  const form = el("form", { onsubmit: (event) => { event.preventDefault(); search(); } }, input, el("button", { type: "submit", text: "Search" }));
  page.replaceChildren(el("h2", { text: "Products" }), form, found);
  if (!productId) return;
  try {
    const product = await getJSON(`/products/${encodeURIComponent(productId)}`);
    const similar = await getJSON(`/recommend/content/${encodeURIComponent(productId)}?top_k=10&details=1`);
    const card = el(
      "div",
      { class: "card", id: "product" },
      product.img_url ? el("img", { src: product.img_url, alt: "" }) : null,
      el(
        "div",
        {},
        el("h2", { text: product.title }),
        el("p", { class: "muted", text: `${product.product_id} · ${product.category || "no category"} · ${money(product.price) || "no price"}` }),
        product.available ? null : el("p", { class: "warning", text: "Withdrawn: no answer shows it." }),
      ),
    );
    page.append(card, el("h2", { text: "Similar products" }), resultList("By their text", similar.results, { id: "similar" }));
  } catch (error) {
    page.append(failure(error));
  }
}

async function users(userId) {
  const input = el("input", { type: "text", name: "user", placeholder: "user id", value: userId || "" });
  const form = el(
    "form",
    { onsubmit: (event) => { event.preventDefault(); go(`/console/users/${encodeURIComponent(input.value.trim())}`); } },
    input,
    el("button", { type: "submit", text: "Show" }),
  );
  page.replaceChildren(el("h2", { text: "Users" }), form);
  if (!userId) return;
  const id = encodeURIComponent(userId);
  let history;
  try {
    history = await getJSON(`/users/${id}`, { headers: { Authorization: `Bearer ${token()}` } });
  } catch (error) {
    if (error.status === 401) {
      page.append(tokenForm(() => users(userId), "A shopper's history needs the admin token:"));
      return;
    }
    page.append(failure(error));
    return;
  }
  const events = el("table", { id: "history" }, el("tr", {}, ...["When", "Action", "Product", "From"].map((h) => el("th", { text: h }))));
  for (const event of history.events) {
    const link = el("a", { href: `/console/products/${encodeURIComponent(event.product_id)}`, "data-link": "" });
    link.textContent = event.title || event.product_id;
    events.append(el("tr", {}, el("td", { text: event.ts.replace("T", " ").slice(0, 16) }), el("td", { text: event.action }), el("td", {}, link), el("td", { class: "muted", text: event.source })));
  }
  const columns = el("div", { class: "columns", id: "strategies" });
  const lists = await Promise.all(
    STRATEGIES.map((name) => getJSON(`/recommend/user/${id}?strategy=${name}&top_k=10&details=1`).then((body) => [name, body.results])),
  );
  for (const [name, results] of lists) columns.append(resultList(name, results, { "data-strategy": name }));
  const slider = el("input", { type: "range", id: "w-content", min: "0", max: "1", step: "0.1", value: "0.5" });
  const weights = el("span", { id: "weights", class: "muted" });
  const blend = el("div", { id: "blend" });
  const redraw = async () => {
    const w = Number(slider.value);
    weights.textContent = `w_content ${w.toFixed(1)} · w_cf ${(1 - w).toFixed(1)}`;
    const body = await getJSON(`/recommend/hybrid?user_id=${id}&w_content=${w}&w_cf=${(1 - w).toFixed(2)}&top_k=10&details=1`);
    blend.replaceChildren(resultList("Hybrid at these weights", body.results));
  };
  slider.addEventListener("input", redraw);
  page.append(
    el("p", {}, el("span", { text: `A/B variant: ` }), el("strong", { id: "variant", text: history.variant }), el("span", { class: "muted", text: ` · ${history.items} items` })),
    el("h2", { text: "Latest events" }),
    events,
    el("h2", { text: "Each strategy's answer" }),
    columns,
    el("h2", { text: "Hybrid weights" }),
    el("p", {}, slider, " ", weights),
    blend,
  );
  await redraw();
}

async function experiment() {
  page.replaceChildren(el("h2", { text: "Experiment" }));
  let report;
  try {
    report = await getJSON("/ab/report", { headers: { Authorization: `Bearer ${token()}` } });
  } catch (error) {
    if (error.status === 401) {
      page.append(tokenForm(experiment, "The report needs the admin token:"));
      return;
    }
    page.append(failure(error));
    return;
  }
  const columns = ["variant", "users", "exposures", "clicks", "ctr", "click_rate", "conversions", "revenue", "lift", "p_value"];
  const table = el("table", { id: "report" }, el("tr", {}, ...columns.map((c) => el("th", { text: c }))));
  const format = (value) => (value == null ? "–" : typeof value === "number" && !Number.isInteger(value) ? value.toFixed(4) : String(value));
  for (const [name, row] of Object.entries(report.variants)) {
    table.append(el("tr", {}, el("td", { text: name + (name === report.control ? " (control)" : "") }), ...columns.slice(1).map((c) => el("td", { text: format(row[c]) }))));
  }
  page.append(el("p", { class: "muted", text: `Experiment ${report.experiment}, since ${report.since || "no exposure yet"}` }), table);
  for (const warning of report.warnings) page.append(el("p", { class: "warning", text: warning }));
  page.append(el("h2", { text: "Click rate per variant, with its 95% interval" }), rateChart(report.variants));
}

function rateChart(variants) {
  // Each variant's click rate (share of exposed users who clicked) with a Wilson 95% interval.
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const names = Object.keys(variants);
  const width = 520, row = 34, left = 110, scale = 380;
  svg.setAttribute("width", width);
  svg.setAttribute("height", row * names.length + 20);
  svg.setAttribute("id", "rate-chart");
  const intervals = names.map((name) => wilson(variants[name].click_rate || 0, variants[name].users));
  const top = Math.max(0.01, ...intervals.map(([, high]) => high));
  names.forEach((name, i) => {
    const [low, high] = intervals[i];
    const rate = variants[name].click_rate || 0;
    const y = 20 + i * row;
    const x = (v) => left + (v / top) * scale;
    const add = (tag, attributes, text) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
      if (text) node.textContent = text;
      svg.append(node);
    };
    add("text", { x: 0, y: y + 4 }, name);
    add("line", { x1: x(low), x2: x(high), y1: y, y2: y, stroke: "#667085", "stroke-width": 2 });
    add("circle", { cx: x(rate), cy: y, r: 5, fill: "#2f6fdf" });
    add("text", { x: x(high) + 6, y: y + 4 }, `${(rate * 100).toFixed(1)}%`);
  });
  return svg;
}

function wilson(rate, n) {
  if (!n) return [0, 0];
  const z = 1.96, z2 = z * z;
  const centre = (rate + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((rate * (1 - rate)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

// --- routing ------------------------------------------------------------------------------

async function show() {
  const parts = location.pathname.replace(/\/+$/, "").split("/").slice(2).map(decodeURIComponent);
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("current", link.getAttribute("href").split("/")[2] === parts[0]);
  }
  try {
    if (parts[0] === "products") await products(parts[1]);
    else if (parts[0] === "users") await users(parts[1]);
    else if (parts[0] === "experiment") await experiment();
    else await overview();
  } catch (error) {
    page.replaceChildren(failure(error));
  }
  document.body.dataset.ready = location.pathname;
}

function go(path) {
  history.pushState({}, "", path);
  show();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (link && !event.ctrlKey && !event.metaKey) {
    event.preventDefault();
    go(link.getAttribute("href"));
  }
});
window.addEventListener("popstate", show);
show();
