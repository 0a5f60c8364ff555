// The account page: the password and the API tokens.
import { api } from "../api.js";
import { byId, el, setRows } from "../dom.js";
import { when } from "../format.js";

function initPassword(caller) {
  const current = byId("current-password-label");
  current.hidden = !caller.user.has_password;
  const form = byId("password-form");
  const message = byId("password-message");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      await api("/api/auth/password", { method: "POST", json: {
        current_password: data.get("current_password") || null, new_password: data.get("new_password") } });
      message.className = "notice";
      message.textContent = "Password set; your other sessions were signed out.";
      form.reset();
      current.hidden = false;
    } catch (failure) {
      message.className = "error";
      message.textContent = failure.message;
    }
    message.hidden = false;
  });
}

async function renderTokens() {
  const tokens = await api("/api/tokens");
  const revoke = (token) => async () => {
    await api(`/api/tokens/${token.id}`, { method: "DELETE" });
    await renderTokens();
  };
  setRows(byId("tokens"), tokens.map((token) =>
    el("tr", { dataset: { tokenId: token.id } },
      el("td", {}, token.name),
      el("td", {}, token.can_write ? "read-write" : "read-only"),
      el("td", {}, when(token.created_at)),
      el("td", {}, when(token.last_used_at)),
      el("td", {}, token.revoked_at ? `revoked ${when(token.revoked_at)}` : "active"),
      el("td", {}, token.revoked_at ? null : el("button", { type: "button", onclick: revoke(token) }, "Revoke")))));
}

export async function init(caller) {
  byId("account-email").textContent = `Signed in as ${caller.user.email}`;
  initPassword(caller);
  const form = byId("token-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const created = await api("/api/tokens", { method: "POST", json: { name: data.get("name"), can_write: data.get("can_write") === "on" } });
    byId("new-token-value").textContent = created.token;
    byId("new-token").hidden = false;
    form.reset();
    await renderTokens();
  });
  await renderTokens();
}
