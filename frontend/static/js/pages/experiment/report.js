// The report (Markdown) and the downloads. Everything is fetched with the page's credential, so a share
// link's viewer gets them too (its token never goes into a link's URL).
import { apiText, download } from "../../api.js";
import { byId } from "../../dom.js";

async function copyText(text, pre) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain http on a host other than localhost: no clipboard API, so copy the selected text.
  const range = document.createRange();
  range.selectNodeContents(pre);
  window.getSelection().removeAllRanges();
  window.getSelection().addRange(range);
  if (!document.execCommand("copy")) throw new Error("the browser refused to copy: select the text and copy it");
}

export class Report {
  constructor(base, experimentId) {
    this.base = base;
    this.pre = byId("report-text");
    const downloading = byId("download-status");
    const downloads = {
      "export-csv": ["export.csv", `seedscope-experiment-${experimentId}.csv`],
      "export-parquet": ["export.parquet", `seedscope-experiment-${experimentId}.parquet`],
      "export-eee": ["export.eee.zip", `seedscope-experiment-${experimentId}-eee.zip`],
      "report-md": ["report.md", `seedscope-experiment-${experimentId}.md`],
    };
    for (const [id, [path, name]] of Object.entries(downloads)) {
      byId(id).addEventListener("click", async () => {
        downloading.textContent = `Preparing ${name}…`;
        try {
          await download(`${base}/${path}`, name);
          downloading.textContent = "";
        } catch (failure) {
          downloading.textContent = `${name}: ${failure.message}`;
        }
      });
    }
    const status = byId("copy-status");
    byId("copy-report").addEventListener("click", async () => {
      try {
        this.pre.textContent = await apiText(`${base}/report.md`);
        await copyText(this.pre.textContent, this.pre);
        status.textContent = "Copied.";
      } catch (failure) {
        status.textContent = failure.message;
      }
    });
  }

  async render(adjust) {
    this.pre.textContent = await apiText(`${this.base}/report.md?${new URLSearchParams({ adjust })}`);
  }
}
