// The sign-in page.
import { api } from "../api.js";
import { safeNext } from "../caller.js";
import { byId, showError } from "../dom.js";

export async function init() {
  byId("link-error").hidden = new URLSearchParams(window.location.search).get("error") !== "link";
  const form = byId("login-form");
  const error = byId("login-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(error, null);
    try {
      const data = new FormData(form);
      await api("/api/auth/login", { method: "POST", json: { email: data.get("email"), password: data.get("password") } });
      window.location.assign(safeNext());
    } catch (failure) {
      showError(error, failure);
    }
  });
}
