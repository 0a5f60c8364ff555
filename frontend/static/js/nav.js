// The header's navigation: what the caller can go to.
import { api } from "./api.js";
import { byId, el, setChildren } from "./dom.js";

export function renderNav(caller) {
  const nav = byId("user-nav");
  if (!nav) return;
  if (caller.share) {
    setChildren(nav, el("span", { class: "muted" }, "shared read-only view"));
    return;
  }
  const signOut = async () => {
    await api("/api/auth/logout", { method: "POST" });
    window.location.assign("/login");
  };
  setChildren(
    nav,
    el("a", { href: "/" }, "Experiments"),
    // Only for someone who may submit somewhere: a viewer everywhere would meet a form they cannot send.
    caller.editableProjects.length ? el("a", { class: "button", href: "/experiments/new" }, "New experiment") : null,
    el("a", { href: "/judges" }, "Judges"),
    el("a", { href: "/projects" }, "Projects"),
    el("a", { href: "/datasets" }, "Datasets"),
    el("a", { href: "/docs" }, "API"),
    el("a", { href: "/account", id: "account-link" }, caller.user.email),
    el("button", { type: "button", id: "sign-out", onclick: signOut }, "Sign out"),
  );
}
