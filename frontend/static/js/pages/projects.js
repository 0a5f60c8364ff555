// The projects page: your projects, and their members (owners manage them).
import { api } from "../api.js";
import { byId, el, setRows, showError } from "../dom.js";
import { when } from "../format.js";

const ROLES = ["viewer", "editor", "owner"];

export async function init() {
  const error = byId("projects-error");
  let selected = null;

  // Run an action, show its failure if any, then show the members as they are now.
  const act = (action) => async () => {
    try {
      await action();
    } catch (failure) {
      showError(error, failure);
    }
    await renderMembers(selected);
  };

  function memberRow(member, isOwner) {
    const path = `/api/projects/${selected}/members/${member.user_id}`;
    let role = member.role;
    if (isOwner) {
      role = el("select", { "aria-label": `role of ${member.email}` }, ROLES.map((r) => el("option", { value: r }, r)));
      role.value = member.role;
      role.addEventListener("change", act(() => api(path, { method: "PATCH", json: { role: role.value } })));
    }
    return el("tr", { dataset: { email: member.email } },
      el("td", {}, member.email),
      el("td", {}, role),
      el("td", {}, isOwner ? el("button", { type: "button", onclick: act(() => api(path, { method: "DELETE" })) }, "Remove") : null));
  }

  async function renderMembers(projectId) {
    selected = projectId;
    const project = await api(`/api/projects/${projectId}`);
    const isOwner = project.role === "owner";
    byId("project-title").textContent = `Members of ${project.name}`;
    byId("project-detail").hidden = false;
    byId("member-form").hidden = !isOwner;
    setRows(byId("members"), project.members.map((member) => memberRow(member, isOwner)));
    // Invited emails become members when an account with that email next signs in.
    byId("invitations-section").hidden = project.invitations.length === 0;
    setRows(byId("invitations"), project.invitations.map((invitation) =>
      el("tr", { dataset: { email: invitation.email } },
        el("td", {}, invitation.email), el("td", {}, invitation.role), el("td", {}, when(invitation.invited_at)))));
  }

  async function renderProjects() {
    const projects = await api("/api/projects");
    setRows(byId("projects"), projects.map((project) =>
      el("tr", { dataset: { projectId: project.id } },
        el("td", {}, project.name),
        el("td", {}, project.role),
        el("td", {}, el("button", { type: "button", onclick: () => { showError(error, null); renderMembers(project.id); } }, "Members")))));
  }

  const projectForm = byId("project-form");
  projectForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const project = await api("/api/projects", { method: "POST", json: { name: new FormData(projectForm).get("name") } });
      projectForm.reset();
      await renderProjects();
      await renderMembers(project.id);
    } catch (failure) {
      showError(error, failure);
    }
  });
  const memberForm = byId("member-form");
  memberForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(memberForm);
    try {
      const invitation = await api(`/api/projects/${selected}/members`, { method: "POST", json: { email: data.get("email"), role: data.get("role") } });
      memberForm.reset();
      byId("invited").textContent = `Invited ${invitation.email} as ${invitation.role}: they join when they next sign in with that email.`;
      byId("invited").hidden = false;
      await renderMembers(selected);
    } catch (failure) {
      showError(error, failure);
    }
  });
  await renderProjects();
}
