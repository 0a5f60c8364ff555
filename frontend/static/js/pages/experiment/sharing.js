// Share links to this dashboard, for its project's editors and owners: make one, see who made which and
// when each was last used, revoke them. A link whose maker left the project (or lost editor rights) no
// longer opens anything, and says so.
import { api } from "../../api.js";
import { byId, el, setRows } from "../../dom.js";
import { when } from "../../format.js";

const STATES = {
  active: () => "active",
  expired: () => "expired",
  revoked: (link) => `revoked ${when(link.revoked_at)}`,
  maker_left: () => "inactive: its maker is no longer an editor of the project",
};

export class ShareLinks {
  constructor(base) {
    this.base = base;
    this.shown = false;
    const form = byId("share-form");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      // A date picked in the form expires at the end of that day, in the viewer's time zone.
      const expires = data.get("expires") ? new Date(`${data.get("expires")}T23:59:59`).toISOString() : null;
      try {
        const link = await api(`${base}/share-links`, { method: "POST", json: { scope: data.get("scope"), expires_at: expires } });
        byId("new-link-value").textContent = `${window.location.origin}${link.path}`;
        byId("new-link").hidden = false;
      } catch (failure) {
        window.alert(failure.message);
      }
      await this.render();
    });
  }

  /** Show the section to an editor (listing the links once), hide it from anyone else. */
  async show(canEdit) {
    byId("sharing").hidden = !canEdit;
    if (canEdit && !this.shown) {
      this.shown = true;
      await this.render();
    }
  }

  async render() {
    const links = await api(`${this.base}/share-links`);
    const revoke = (link) => async () => {
      await api(`${this.base}/share-links/${link.id}`, { method: "DELETE" });
      await this.render();
    };
    setRows(byId("share-links"), links.map((link) =>
      el("tr", { dataset: { linkId: link.id, state: link.state } },
        el("td", {}, link.scope === "figures" ? "figures and tables only" : "with responses"),
        el("td", {}, link.created_by || "—"),
        el("td", {}, when(link.created_at)),
        el("td", {}, link.expires_at ? when(link.expires_at) : "never"),
        el("td", {}, when(link.last_used_at)),
        el("td", {}, (STATES[link.state] || (() => link.state))(link)),
        el("td", {}, link.revoked_at ? null : el("button", { type: "button", onclick: revoke(link) }, "Revoke")))));
  }
}
