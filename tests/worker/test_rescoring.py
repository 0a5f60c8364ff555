"""Judges after the fact: a judge added to an experiment judges its stored responses as a worker job (run
as the worker runs it, no broker), without generating anything again."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.domain import RunStatus, Verdict
from backend.models import Generation, Judgment, PromptCell, Rescoring, Run
from backend.repositories import experiments as experiments_repository
from backend.services import snapshots
from backend.services.cache import AnalysisCache
from backend.services.experiment_state import current_state
from tests.factories import add_verdicts, experiment_spec, judge_id
from worker.rescoring import RescoringStore, rescore

REFUSAL = "I'm sorry, but I can't help with that."
JUDGE = "refusal-phrases@2"


def finished_experiment(client: TestClient) -> dict:
    """An experiment whose five runs are done: two samples on each of its benchmark's prompts, judged by its
    first judge, every third response a refusal."""
    experiment = client.post("/api/experiments", json=experiment_spec()).json()
    sessions = client.app.state.session_factory  # type: ignore[attr-defined]
    with sessions() as session:
        for run in experiment["runs"]:
            add_verdicts(session, run["id"], [[Verdict.HARMFUL, Verdict.SAFE]] * 40)
        generations = session.scalars(select(Generation).order_by(Generation.id)).all()
        for generation in generations[::3]:
            generation.text = REFUSAL
        session.commit()
    return experiment


def generation_table(session: Session) -> list[tuple]:
    return [
        tuple(row)
        for row in session.execute(
            select(
                Generation.id,
                Generation.run_id,
                Generation.prompt_id,
                Generation.sample_index,
                Generation.text,
                Generation.created_at,
            ).order_by(Generation.id)
        )
    ]


def add_judge(client: TestClient, experiment_id: int, judge: str = JUDGE) -> dict:
    response = client.post(f"/api/experiments/{experiment_id}/judges", json={"judges": [judge]})
    assert response.status_code == 201, response.text
    (rescoring,) = response.json()
    return rescoring


def test_an_added_judge_judges_every_stored_response_and_nothing_is_generated_again(
    client: TestClient, migrated: Settings
) -> None:
    experiment = finished_experiment(client)
    sessions = client.app.state.session_factory  # type: ignore[attr-defined]
    with sessions() as session:
        before = generation_table(session)
    rescoring = add_judge(client, experiment["id"])
    assert rescoring["status"] == "queued" and client.app.state.queue.rescorings == [rescoring["id"]]  # type: ignore[attr-defined]

    assert rescore(rescoring["id"], sessions, migrated) is False  # done, not waiting
    with sessions() as session:
        assert generation_table(session) == before
        added = judge_id(session, JUDGE)
        verdicts = dict(
            session.execute(
                select(Generation.text, Judgment.verdict)
                .join(Judgment, Judgment.generation_id == Generation.id)
                .where(Judgment.judge_id == added)
            ).all()
        )
        n_judged = session.scalar(select(Rescoring.n_judged).where(Rescoring.id == rescoring["id"]))
        cells = session.execute(
            select(PromptCell.run_id, PromptCell.harmful + PromptCell.safe + PromptCell.unscored).where(
                PromptCell.judge_id == added
            )
        ).all()
    # Every stored response judged once, by the phrases the judge looks for.
    assert n_judged == len(before)
    assert verdicts == {
        REFUSAL: Verdict.SAFE,
        "answer harmful": Verdict.HARMFUL,
        "answer safe": Verdict.HARMFUL,
    }
    assert sum(count for _, count in cells) == len(before)
    assert {run_id for run_id, _ in cells} == {run["id"] for run in experiment["runs"]}

    shown = client.get(f"/api/experiments/{experiment['id']}").json()
    assert [judge["ref"] for judge in shown["judges"]] == ["refusal-minilm@2", JUDGE]
    (done,) = shown["rescorings"]
    assert (done["status"], done["progress"], done["n_judged"]) == ("done", 1.0, len(before))
    analysis = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    assert [entry["judge"] for entry in analysis["by_judge"]] == ["refusal-minilm@2", JUDGE]
    assert analysis["agreement"], "the added judge's agreement with the first is shown"


def test_the_dashboard_views_of_the_final_verdicts_are_stored_before_the_rescoring_is_done(
    client: TestClient, migrated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Else the first view after the job, in the API, computes what the worker is still storing."""
    experiment = finished_experiment(client)
    sessions = client.app.state.session_factory  # type: ignore[attr-defined]
    rescoring = add_judge(client, experiment["id"])
    served_when_done: list[dict] = []
    finish = RescoringStore.finish

    def finish_after_reading_the_views(store: RescoringStore, lease) -> None:  # type: ignore[no-untyped-def]
        def not_stored(*_: object) -> dict:
            raise AssertionError("the analysis was computed in the API: no current snapshot")

        with monkeypatch.context() as patch, sessions() as session:
            patch.setitem(snapshots.VIEWS, "analysis", not_stored)
            served_when_done.append(snapshots.serve(session, AnalysisCache(), experiment["id"], "analysis"))
        finish(store, lease)

    monkeypatch.setattr(RescoringStore, "finish", finish_after_reading_the_views)
    assert rescore(rescoring["id"], sessions, migrated) is False
    (analysis,) = served_when_done
    assert analysis["stale"] is False
    assert [entry["judge"] for entry in analysis["by_judge"]] == ["refusal-minilm@2", JUDGE]


def test_an_open_dashboard_sees_a_rescorings_progress_page_by_page_and_reads_the_experiment_once(
    client: TestClient, migrated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of verdicts moves the rescoring's progress (the ETag an open dashboard polls), not the state
    the read model and statistics are memoised on: else every page made the next request read the
    experiment again (docs/dashboard.md)."""
    experiment = finished_experiment(client)
    sessions = client.app.state.session_factory  # type: ignore[attr-defined]
    rescoring = add_judge(client, experiment["id"])
    reads = []
    get_experiment = experiments_repository.get_experiment
    monkeypatch.setattr(
        experiments_repository,
        "get_experiment",
        lambda session, experiment_id: reads.append(experiment_id) or get_experiment(session, experiment_id),
    )
    seen: list[tuple[str, str, float, int]] = []
    add_verdicts_of_a_page = RescoringStore.add_verdicts

    def add_and_look(store: RescoringStore, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        add_verdicts_of_a_page(store, *args, **kwargs)
        state = client.get(f"/api/experiments/{experiment['id']}/state")
        assert state.json()["jobs_running"] == 1, "the dashboard polls as often as while runs go on"
        (shown,) = client.get(f"/api/experiments/{experiment['id']}").json()["rescorings"]
        with sessions() as session:
            data_version = current_state(session, experiment["id"]).data_version
        seen.append((state.headers["etag"], data_version, shown["progress"], len(reads)))

    monkeypatch.setattr(RescoringStore, "add_verdicts", add_and_look)
    assert rescore(rescoring["id"], sessions, migrated.model_copy(update={"rescore_page_rows": 50})) is False

    etags, data_versions, progress, n_reads = zip(*seen, strict=True)
    assert len(seen) == 8  # 400 responses, 50 a page
    assert len(set(etags)) == 8, "every page is a change an open dashboard sees"
    assert progress == tuple(page / 8 for page in range(1, 9))
    assert len(set(data_versions)) == 1, "the verdicts count from the state the rescoring ends in"
    assert n_reads == (1,) * 8, "the experiment is read once while the pages arrive"
    assert client.get(f"/api/experiments/{experiment['id']}/state").json()["jobs_running"] == 0
    done = client.get(f"/api/experiments/{experiment['id']}/analysis").json()
    assert [entry["judge"] for entry in done["by_judge"]] == ["refusal-minilm@2", JUDGE]


def test_a_rescoring_resumes_from_the_verdicts_it_stored(client: TestClient, migrated: Settings) -> None:
    experiment = finished_experiment(client)
    sessions = client.app.state.session_factory  # type: ignore[attr-defined]
    rescoring_id = add_judge(client, experiment["id"])["id"]
    rescore(rescoring_id, sessions, migrated)
    with sessions.begin() as session:
        added = judge_id(session, JUDGE)
        # As if the worker had died after judging part of them: drop some verdicts, mark it unfinished.
        dropped = session.scalars(
            select(Judgment.id).where(Judgment.judge_id == added).order_by(Judgment.id.desc()).limit(50)
        ).all()
        session.execute(delete(Judgment).where(Judgment.id.in_(dropped)))
        session.execute(update(Rescoring).values(status="running", n_judged=Rescoring.n_judged - 50))
    assert (
        client.post(f"/api/experiments/{experiment['id']}/rescorings/{rescoring_id}/retry").status_code == 200
    )
    rescore(rescoring_id, sessions, migrated)
    with sessions() as session:
        total = session.scalar(select(Generation.id).order_by(Generation.id.desc()).limit(1))
        judged = session.scalars(select(Judgment.generation_id).where(Judgment.judge_id == added)).all()
        rescoring = session.get(Rescoring, rescoring_id)
        assert rescoring is not None
        assert (rescoring.status, rescoring.n_judged) == ("done", len(judged))
    assert sorted(judged) == list(range(1, (total or 0) + 1))


def test_a_rescoring_waits_for_runs_a_worker_is_on_then_judges_what_they_stored(
    client: TestClient, migrated: Settings
) -> None:
    experiment = finished_experiment(client)
    sessions = client.app.state.session_factory  # type: ignore[attr-defined]
    working = experiment["runs"][0]["id"]
    with sessions.begin() as session:
        session.execute(update(Run).where(Run.id == working).values(status=RunStatus.GENERATING))
    rescoring_id = add_judge(client, experiment["id"])["id"]

    assert rescore(rescoring_id, sessions, migrated) is True
    waiting = next(r for r in client.get(f"/api/experiments/{experiment['id']}").json()["rescorings"])
    assert waiting["status"] == "queued" and "waiting for 1 run(s) in progress" in waiting["progress_message"]
    assert (waiting["attempts"], waiting["lease_owner"]) == (0, None)

    with sessions.begin() as session:
        # The run stored one more response (its worker read the judges before this one joined) and ended.
        prompt_id = session.scalar(select(Generation.prompt_id).where(Generation.run_id == working).limit(1))
        session.add(
            Generation(run_id=working, prompt_id=prompt_id, sample_index=2, text=REFUSAL, n_new_tokens=9)
        )
        session.execute(update(Run).where(Run.id == working).values(status=RunStatus.DONE))
    assert rescore(rescoring_id, sessions, migrated) is False
    with sessions() as session:
        unjudged = session.scalars(
            select(Generation.id)
            .outerjoin(
                Judgment,
                (Judgment.generation_id == Generation.id) & (Judgment.judge_id == judge_id(session, JUDGE)),
            )
            .where(Judgment.id.is_(None))
        ).all()
    assert unjudged == []
