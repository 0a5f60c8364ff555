// Every page's entry point: who is calling, the header, then the page's own module (by <body data-page>).
import { api } from "./api.js";
import { Caller } from "./caller.js";
import { el } from "./dom.js";
import { renderNav } from "./nav.js";

async function start() {
  const page = document.body.dataset.page;
  const module = await import(`./pages/${page}.js`);
  if (page === "login") {
    await module.init();
    return;
  }
  const caller = new Caller(await api("/api/me"));
  renderNav(caller);
  await module.init(caller);
}

start().catch((failure) => {
  document.querySelector("main").prepend(el("div", { class: "error", role: "alert" }, failure.message));
});
