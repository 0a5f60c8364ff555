// Who is calling (GET /api/me): a signed-in user with their projects and roles, or a share link's holder.
// The server decides every permission; the pages only hide what the caller could not do anyway.

const ROLE_RANK = { viewer: 0, editor: 1, owner: 2 };

export class Caller {
  constructor(me) {
    this.user = me.user;
    this.projects = me.projects;
    this.share = me.share;
  }

  roleIn(projectId) {
    const project = this.projects.find((p) => p.id === projectId);
    return project ? project.role : null;
  }

  /** Whether the caller holds at least `role` in the project. */
  can(projectId, role) {
    const held = this.roleIn(projectId);
    return held !== null && ROLE_RANK[held] >= ROLE_RANK[role];
  }

  /** The projects where the caller may submit, upload and share (editor or owner). */
  get editableProjects() {
    return this.projects.filter((project) => this.can(project.id, "editor"));
  }

  projectName(projectId) {
    if (projectId === null) return "built-in";
    const project = this.projects.find((p) => p.id === projectId);
    return project ? project.name : `project ${projectId}`;
  }
}

/** Where to go after signing in: `next` when it is a page of this site, else the front page. The browser's own
 * URL parser decides (it reads "\" as "/" and drops tabs and newlines, as it would when following the link). */
export function safeNext(search = window.location.search) {
  const next = new URLSearchParams(search).get("next");
  if (!next || !next.startsWith("/")) return "/";
  const target = new URL(next, window.location.origin);
  return target.origin === window.location.origin ? target.pathname + target.search + target.hash : "/";
}
