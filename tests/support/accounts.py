"""A small team for authorization tests: project A with an owner, an editor and a viewer, an outsider who
owns project B, an experiment of A with judged runs, and a share link of each scope."""

from dataclasses import dataclass, field

from fastapi.testclient import TestClient
from sqlalchemy import select

from backend.api.auth import SESSION_COOKIE
from backend.catalog.kinds import VALIDATION_SETS
from backend.config import Settings
from backend.domain import Role, RunStatus, ShareScope, Verdict
from backend.judging.definition import JudgeSpec
from backend.models import Generation, Prompt
from backend.repositories import catalog as catalog_repository
from backend.repositories import experiments as experiment_repository
from backend.repositories import projects as project_repository
from backend.repositories import validations as validation_repository
from backend.services import accounts, judges, sharing
from tests.factories import add_verdicts, experiment_spec, upload_small_benchmark

PASSWORD = "correct horse battery staple"
USERS = {
    "owner": "alice@example.org",
    "editor": "erin@example.org",
    "viewer": "victor@example.org",
    "outsider": "otto@example.org",
    "newcomer": "nina@example.org",  # an account in no project yet, to invite
}
N_PROMPTS = 4


@dataclass
class World:
    project_a: int
    project_b: int
    user_ids: dict[str, int]
    sessions: dict[str, str]  # role name -> session cookie value
    experiment_id: int
    done_run_id: int
    cancelled_run_id: int
    prompt_id: int
    prompt_texts: list[str]
    share_tokens: dict[ShareScope, str]
    share_link_ids: dict[ShareScope, int]
    owner_token_id: int
    # A judge definition of project A and a validation of it.
    judge_id: int
    validation_id: int
    response_texts: list[str] = field(default_factory=list)
    # A rescoring, a judge stress test, a labelling sample and one of its items, where a test adds them
    # (0: none).
    rescoring_id: int = 0
    stress_test_id: int = 0
    sample_id: int = 0
    item_id: int = 0

    def cookie(self, who: str) -> dict[str, str]:
        return {"cookie": f"{SESSION_COOKIE}={self.sessions[who]}"}

    def bearer(self, scope: ShareScope) -> dict[str, str]:
        return {"authorization": f"Bearer {self.share_tokens[scope]}"}


def build_world(client: TestClient, settings: Settings) -> World:
    """Everything through the services, as the API would store it; `client` may be anonymous."""
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        user_ids = {who: accounts.add_user(session, email, PASSWORD).id for who, email in USERS.items()}
        project_a = project_repository.create_project(session, "alpha", user_ids["owner"]).id
        project_repository.add_member(session, project_a, user_ids["editor"], Role.EDITOR)
        project_repository.add_member(session, project_a, user_ids["viewer"], Role.VIEWER)
        project_b = project_repository.create_project(session, "beta", user_ids["outsider"]).id
        session.commit()
        sessions = {who: accounts.start_session(session, settings, user_ids[who]) for who in USERS}
        owner_token = accounts.create_api_token(session, user_ids["owner"], "owner's", can_write=True)
        session.commit()

    owner = {"cookie": f"{SESSION_COOKIE}={sessions['owner']}"}
    client.cookies.clear()
    upload_small_benchmark(client, "four-prompts", N_PROMPTS, project=project_a, headers=owner)
    spec = experiment_spec(project=project_a, benchmark="four-prompts", seeds=[0, 1])
    response = client.post("/api/experiments", json=spec, headers=owner)
    assert response.status_code == 201, response.text
    experiment = response.json()
    verdicts = [Verdict.HARMFUL, Verdict.SAFE] * (N_PROMPTS // 2)
    with factory() as session:
        for run in experiment["runs"]:
            add_verdicts(session, run["id"], [[v] for v in verdicts])
        # Model outputs no "figures only" link may see, easy to find in any answer.
        response_texts = []
        for generation in session.scalars(select(Generation)):
            generation.text = f"zq-response-{generation.id}: here is exactly how to do it"
            response_texts.append(generation.text)
        cancelled = experiment["runs"][-1]["id"]
        experiment_repository.set_status(session, [cancelled], RunStatus.CANCELLED, message="cancelled")
        links = {
            scope: sharing.create_link(session, experiment["id"], user_ids["owner"], scope, None)
            for scope in ShareScope
        }
        judge = judges.create_judge(
            session,
            settings,
            JudgeSpec(name="alpha-phrases", kind="refusal-phrases"),
            project_a,
            user_ids["owner"],
        )
        validation = validation_repository.create_validation(
            session,
            project_id=project_a,
            judge_id=judge.id,
            validation_set_id=catalog_repository.find(
                session, VALIDATION_SETS, "pyrit-refusal-extra", project_a
            ).id,
            created_by_id=user_ids["owner"],
        )
        prompts = session.execute(
            select(Prompt.id, Prompt.text)
            .where(Prompt.benchmark_id == experiment["benchmark_id"])
            .order_by(Prompt.position)
        ).all()
        session.commit()
    return World(
        project_a=project_a,
        project_b=project_b,
        user_ids=user_ids,
        sessions=sessions,
        experiment_id=experiment["id"],
        done_run_id=experiment["runs"][0]["id"],
        cancelled_run_id=cancelled,
        prompt_id=prompts[0][0],
        prompt_texts=[text for _, text in prompts],
        share_tokens={scope: link.path.rsplit("/", 1)[1] for scope, link in links.items()},
        share_link_ids={scope: link.id for scope, link in links.items()},
        owner_token_id=owner_token.id,
        judge_id=judge.id,
        validation_id=validation.id,
        response_texts=response_texts,
    )
