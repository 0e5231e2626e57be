// kubeops inspect report: filtering, sorting and details for the findings table.
// Rows are rendered once by the server and only shown, hidden or moved here, so
// thousands of findings stay fast. Cluster data is only ever set as textContent.
(() => {
  "use strict";
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  // Printing shows the collapsed sections too.
  const reopened = [];
  window.addEventListener("beforeprint", () => {
    for (const details of $$("details:not([open])")) {
      details.open = true;
      reopened.push(details);
    }
  });
  window.addEventListener("afterprint", () => {
    while (reopened.length) reopened.pop().open = false;
  });

  const table = $('[data-testid="findings-table"]');
  if (!table) return;
  const data = JSON.parse($("#report-data").textContent);
  const checks = data.checks || {};
  const tbody = table.tBodies[0];
  const SEVERITIES = ["critical", "error", "warning", "info"];
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  const items = Array.from(tbody.rows, (tr, index) => {
    const d = tr.dataset;
    const cells = tr.cells;
    const meta = checks[d.check] || {};
    const item = {
      tr,
      index,
      detail: null,
      severity: d.severity,
      rank: Number(d.rank),
      check: d.check,
      category: d.category,
      cluster: d.cluster,
      namespace: d.namespace,
      key: d.key,
      object: cells[5].textContent,
      message: cells[6].textContent,
    };
    item.text = [
      item.severity, item.check, meta.title || "", item.category, item.cluster,
      item.namespace, item.object, item.message,
    ].join("\n").toLowerCase();
    return item;
  });
  const byRow = new Map(items.map((item) => [item.tr, item]));
  const byObject = new Map();
  for (const item of items) {
    if (!byObject.has(item.key)) byObject.set(item.key, []);
    byObject.get(item.key).push(item);
  }

  const search = $('[data-testid="filter-search"]');
  const severityBoxes = $$('[data-testid="filter-severity"] input');
  const category = $('[data-testid="filter-category"]');
  const cluster = $('[data-testid="filter-cluster"]');
  const namespace = $('[data-testid="filter-namespace"]');
  const visible = $('[data-testid="row-count-visible"]');
  const rowCount = $('[data-testid="row-count"]');
  const noMatch = $('[data-testid="no-match"]');
  const opened = new Set();

  function apply() {
    closeAll();
    const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const severities = new Set(severityBoxes.filter((b) => b.checked).map((b) => b.value));
    const wantCategory = category.value;
    const wantCluster = cluster.value;
    const wantNamespace = namespace.value;
    let shown = 0;
    for (const item of items) {
      const show =
        (severities.has(item.severity) || !SEVERITIES.includes(item.severity)) &&
        (!wantCategory || item.category === wantCategory) &&
        (!wantCluster || item.cluster === wantCluster) &&
        (!wantNamespace ||
          (wantNamespace === "-" ? item.namespace === "" : item.namespace === wantNamespace)) &&
        terms.every((term) => item.text.includes(term));
      if (item.tr.hidden === show) item.tr.hidden = !show;
      if (show) shown += 1;
    }
    visible.textContent = String(shown);
    rowCount.dataset.visible = String(shown);
    noMatch.hidden = shown !== 0;
  }

  function reset() {
    search.value = "";
    for (const box of severityBoxes) box.checked = true;
    category.value = "";
    cluster.value = "";
    namespace.value = "";
  }

  function choose(select, value) {
    if (Array.from(select.options).some((option) => option.value === value)) select.value = value;
  }

  search.addEventListener("input", apply);
  for (const control of [...severityBoxes, category, cluster, namespace]) {
    control.addEventListener("change", apply);
  }
  $('[data-testid="filter-reset"]').addEventListener("click", () => {
    reset();
    apply();
  });

  // Chips, bars, namespaces and matrix cells elsewhere in the page filter the table.
  document.addEventListener("click", (event) => {
    const link = event.target.closest(
      "[data-filter-cluster], [data-filter-category], [data-filter-severity], [data-filter-namespace]",
    );
    if (!link) return;
    event.preventDefault();
    const d = link.dataset;
    reset();
    if (d.filterCluster !== undefined) choose(cluster, d.filterCluster);
    if (d.filterCategory !== undefined) choose(category, d.filterCategory);
    if (d.filterNamespace !== undefined) choose(namespace, d.filterNamespace);
    if (d.filterSeverity !== undefined) {
      for (const box of severityBoxes) box.checked = box.value === d.filterSeverity;
    }
    apply();
    $("#findings").scrollIntoView();
  });

  // Sorting: click a header once for ascending, again for descending.
  const headers = $$("th[data-sort]", table);
  function sortBy(key, direction) {
    closeAll();
    const numeric = key === "rank";
    items.sort((a, b) => {
      const order = numeric ? a.rank - b.rank : collator.compare(a[key], b[key]);
      return order ? order * direction : a.index - b.index;
    });
    const fragment = document.createDocumentFragment();
    for (const item of items) fragment.appendChild(item.tr);
    tbody.appendChild(fragment);
    for (const th of headers) {
      if (th.dataset.sort === key) th.setAttribute("aria-sort", direction > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
  }
  for (const th of headers) {
    th.querySelector("button").addEventListener("click", () => {
      const current = th.getAttribute("aria-sort");
      const first = th.dataset.sort === "rank" ? -1 : 1;
      sortBy(th.dataset.sort, current ? (current === "ascending" ? -1 : 1) : first);
    });
  }

  // Details: the check's rationale and remedy, and every finding on the same object.
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function prose(tag, text) {
    // `code` spans become <code>; everything stays text.
    const node = el(tag);
    String(text).split("`").forEach((part, i) => {
      node.appendChild(i % 2 ? el("code", null, part) : document.createTextNode(part));
    });
    return node;
  }

  function details(item) {
    const meta = checks[item.check] || {};
    const grid = el("div", "detail-grid");
    const left = el("div");
    left.append(
      el("p", "detail-title", meta.title || item.check),
      el("p", "muted mono", [item.check, meta.category || item.category, `default severity ${meta.severity || item.severity}`].join(" · ")),
    );
    if (meta.rationale) left.append(el("h5", null, "Why it matters"), prose("p", meta.rationale));
    if (meta.remediation) left.append(el("h5", null, "How to fix"), prose("p", meta.remediation));
    const right = el("div");
    const same = (byObject.get(item.key) || [item]).slice().sort((a, b) => b.rank - a.rank || a.index - b.index);
    right.append(
      el("p", "detail-title mono", item.object),
      el("p", "muted mono", [item.tr.dataset.api, `cluster ${item.cluster}`, item.namespace ? `namespace ${item.namespace}` : "cluster-scoped"].filter(Boolean).join(" · ")),
      el("h5", null, `All findings on this object (${same.length})`),
    );
    const list = el("ul", "object-findings");
    list.setAttribute("data-testid", "object-findings");
    for (const other of same) {
      const li = el("li", other === item ? "current" : "");
      li.append(el("span", `sev sev-${other.severity}`, other.severity), el("span", "mono", other.check), el("span", null, other.message));
      list.append(li);
    }
    right.append(list);
    grid.append(left, right);
    return grid;
  }

  function close(item) {
    item.detail.remove();
    item.detail = null;
    item.tr.classList.remove("open");
    item.tr.setAttribute("aria-expanded", "false");
    opened.delete(item);
  }

  function closeAll() {
    for (const item of Array.from(opened)) close(item);
  }

  function toggle(item) {
    if (item.detail) {
      close(item);
      return;
    }
    const row = el("tr", "detail");
    row.setAttribute("data-testid", "finding-details");
    const cell = el("td");
    cell.colSpan = item.tr.cells.length;
    cell.append(details(item));
    row.append(cell);
    item.tr.after(row);
    item.detail = row;
    item.tr.classList.add("open");
    item.tr.setAttribute("aria-expanded", "true");
    opened.add(item);
  }

  tbody.addEventListener("click", (event) => {
    const tr = event.target.closest("tr.finding");
    if (tr && !window.getSelection().toString()) toggle(byRow.get(tr));
  });
  tbody.addEventListener("keydown", (event) => {
    const tr = event.target.closest("tr.finding");
    if (tr && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      toggle(byRow.get(tr));
    }
  });
})();
