// Building the page. Model outputs and every other stored string are untrusted: they reach the page only as
// text nodes (el() and setChildren()), never through innerHTML. A missing child (null, undefined) is left
// out, never written as "null".

const present = (child) => child !== null && child !== undefined && child !== false;

function asNode(child) {
  return child instanceof Node ? child : document.createTextNode(String(child));
}

/** An element with attributes (`class`, `dataset`, `on<event>` handlers, the rest as attributes) and children. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (!present(value)) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children.flat().filter(present).map(asNode));
  return node;
}

/** Replace a node's children, leaving out the missing ones. */
export function setChildren(node, ...children) {
  node.replaceChildren(...children.flat().filter(present).map(asNode));
}

export const byId = (id) => document.getElementById(id);

/** A table body's rows. */
export function setRows(table, rows) {
  setChildren(table.querySelector("tbody"), rows);
}

/** A definition list from [term, value] pairs; pairs whose value is missing are left out. */
export function setDefinitions(list, pairs) {
  setChildren(list, pairs.filter(([, value]) => present(value)).flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
}

/** A select's options from values (or {value, label} items), keeping the current choice when it remains.
 * `keep` leading options (an "all" or "any" choice) stay as they are. */
export function setOptions(select, items, { keep = 0 } = {}) {
  const current = select.value;
  const kept = [...select.options].slice(0, keep);
  const made = items.map((item) => (typeof item === "object"
    ? el("option", { value: item.value }, item.label ?? item.value)
    : el("option", { value: item }, item)));
  select.replaceChildren(...kept, ...made);
  if ([...select.options].some((option) => option.value === current)) select.value = current;
}

/** Show a failure's message in an error box (or hide the box with null). */
export function showError(node, failure) {
  node.hidden = !failure;
  node.textContent = failure ? failure.message : "";
}

export const badge = (kind, text, title) => el("span", { class: `badge ${kind}`, title }, text);
export const statusBadge = (status) => badge(`status-${status}`, status);
export const verdictBadge = (verdict, title) => badge(`verdict-${verdict.replaceAll(" ", "-")}`, verdict, title);
