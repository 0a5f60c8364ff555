// A condition's settings (from the server, in words), what differs between the experiment's conditions first.
import { el } from "./dom.js";

export function settingsList(settings, isBaseline) {
  const differs = settings.filter((s) => s.differs);
  const same = settings.filter((s) => !s.differs);
  return el("div", { class: "settings" },
    isBaseline ? el("span", { class: "badge" }, "untuned baseline") : null,
    differs.map((s) => el("span", { class: "setting differs", title: "differs between the conditions", dataset: { key: s.key } }, s.text)),
    same.length ? el("span", { class: "muted", dataset: { key: "same" } }, same.map((s) => s.text).join(", ")) : null);
}
