// The per-prompt browser: each prompt's rate under each condition, where it flips between seeds, and every
// response behind it with every judge's verdict. Prompts the user opened stay open through refreshes.
import { api } from "../../api.js";
import { byId, el, setChildren, setRows } from "../../dom.js";
import { coherenceCell, judgmentsCell } from "../../responses.js";

const PROMPT_PAGE_SIZE = 10;
const RESPONSE_PAGE_SIZE = 20;

const range = (page, size, total) => `${(page - 1) * size + 1}–${Math.min(page * size, total)} of ${total}`;

export class PromptBrowser {
  constructor(base) {
    this.base = base;
    this.filters = byId("browser-filters");
    this.page = 1;
    this.open = new Set();
    // Whether the set shown counts its scorer's safe verdicts (correct answers, refusals) rather than harm.
    this.countsSafe = false;
    let searchTimer = null;
    this.filters.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => { this.page = 1; this.render(); }, 250);
    });
    this.filters.addEventListener("submit", (event) => event.preventDefault());
    byId("prev").addEventListener("click", () => { this.page -= 1; this.render(); });
    byId("next").addEventListener("click", () => { this.page += 1; this.render(); });
  }

  query() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(this.filters)) if (value !== "") params.set(key, value === "on" ? "true" : value);
    return params;
  }

  async renderResponses(prompt, cell, page) {
    const params = this.query();
    params.set("page", page);
    params.set("page_size", RESPONSE_PAGE_SIZE);
    const result = await api(`${this.base}/prompts/${prompt.prompt_id}/responses?${params}`);
    const rows = result.items.map((response) =>
      el("tr", { class: "response" },
        el("td", {}, response.condition),
        el("td", {}, `seed ${response.seed}${response.evaluation_index ? `, re-evaluation ${response.evaluation_index}` : ""}`),
        el("td", {}, `sample ${response.sample_index}`),
        judgmentsCell(response.judgments),
        coherenceCell(response),
        el("td", { class: "response-text" }, response.text)));
    const table = el("table", { class: "responses" },
      el("thead", {}, el("tr", {}, ["Condition", "Run", "Sample", "Verdicts", "Coherence", "Response"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows));
    setChildren(cell,
      el("div", { class: "muted" }, result.total ? `responses ${range(page, RESPONSE_PAGE_SIZE, result.total)}` : "no response matches"),
      table,
      page > 1 ? el("button", { type: "button", onclick: () => this.renderResponses(prompt, cell, page - 1) }, "Previous responses") : null,
      page * RESPONSE_PAGE_SIZE < result.total
        ? el("button", { type: "button", onclick: () => this.renderResponses(prompt, cell, page + 1) }, "Next responses")
        : null);
  }

  promptRows(prompt) {
    const detail = el("td", { colspan: "4" });
    const detailRow = el("tr", { class: "prompt-detail", hidden: "" }, detail);
    const toggle = () => {
      detailRow.hidden = !detailRow.hidden;
      if (detailRow.hidden) this.open.delete(prompt.prompt_id);
      else {
        this.open.add(prompt.prompt_id);
        this.renderResponses(prompt, detail, 1);
      }
    };
    if (this.open.has(prompt.prompt_id)) {
      detailRow.hidden = false;
      this.renderResponses(prompt, detail, 1);
    }
    const rates = prompt.rates.map((r) => {
      const counted = this.countsSafe ? r.scored - r.harmful : r.harmful;
      return el("div", {}, `${r.condition}: ${counted}/${r.scored}${r.unscored ? ` (${r.unscored} unscored)` : ""}`);
    });
    const row = el("tr", { class: "prompt-row", dataset: { promptId: prompt.prompt_id }, title: "show every response", onclick: toggle },
      el("td", { class: "prompt" }, el("div", { class: "muted" }, prompt.external_id), el("div", {}, prompt.text)),
      el("td", {}, prompt.category),
      el("td", {}, rates),
      el("td", {}, prompt.flips_in.join(", ")));
    return [row, detailRow];
  }

  async render() {
    const params = this.query();
    params.set("page", this.page);
    params.set("page_size", PROMPT_PAGE_SIZE);
    const result = await api(`${this.base}/prompts?${params}`);
    setRows(byId("prompts"), result.items.flatMap((prompt) => this.promptRows(prompt)));
    const pages = Math.max(1, Math.ceil(result.total / PROMPT_PAGE_SIZE));
    byId("page-info").textContent = result.total
      ? `prompts ${range(this.page, PROMPT_PAGE_SIZE, result.total)} (page ${this.page}/${pages})`
      : "no prompt matches";
    byId("prev").disabled = this.page <= 1;
    byId("next").disabled = this.page >= pages;
  }
}
