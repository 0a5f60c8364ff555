// Every page's entry point: who is calling, the header, then the page's own module (by <body data-page>).
import { api } from "./api.js";
import { Caller } from "./caller.js";
import { el } from "./dom.js";
import { renderNav } from "./nav.js";

// No form here submits natively: each page's module sends it. One submitted before that module has attached its
// handlers (a quick click while the page loads) is held and sent once it has, rather than reloading the page with
// the form's fields (a password among them) in the address.
let pageReady = false;
let heldSubmission = null;
document.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!pageReady) heldSubmission = { form: event.target, submitter: event.submitter };
}, true);

function sendHeldSubmission() {
  pageReady = true;
  if (heldSubmission && heldSubmission.form.isConnected) heldSubmission.form.requestSubmit(heldSubmission.submitter);
  heldSubmission = null;
}

async function start() {
  const page = document.body.dataset.page;
  const module = await import(`./pages/${page}.js`);
  if (page === "login") {
    await module.init();
  } else {
    const caller = new Caller(await api("/api/me"));
    renderNav(caller);
    await module.init(caller);
  }
  sendHeldSubmission();
}

start().catch((failure) => {
  document.querySelector("main").prepend(el("div", { class: "error", role: "alert" }, failure.message));
});
