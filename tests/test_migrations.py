"""Migrations build exactly the ORM's schema, on SQLite and on PostgreSQL, and roll back cleanly."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from backend.api_models.accounts import ProjectRead
from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.domain import Role
from backend.experiment_definition import ConditionSpec, ExperimentSpec, GenerationSpec, StoredCondition
from backend.jobs import VALIDATIONS
from backend.migrate import alembic_config
from backend.models import Base, exists_on
from backend.repositories.experiments import get_experiment
from backend.repositories.leases import requeue_stranded
from backend.repositories.projects import projects_of_user
from backend.services import accounts
from backend.services.accounts import ensure_local_owner
from backend.services.catalog import ensure_builtins

# A condition as versions before 0011 stored it: its spec with the generation settings and seeds resolved
# (the base model and training set were the experiment's).
STORED_CONDITION = StoredCondition(
    name="c", generation=GenerationSpec(), seeds=[0], base_model="m", training_set="t"
).model_dump_json(exclude={"base_model", "base_model_revision", "training_set"})
# An experiment's definition as versions before 0004 stored it: judges named without versions, and no
# project (a key added since).
OLD_EXPERIMENT_SPEC = json.dumps(
    ExperimentSpec(
        name="old",
        benchmark="b",
        training_set="t",
        judges=["refusal-minilm", "refusal-phrases"],
        seeds=[0],
        conditions=[ConditionSpec(name="c")],
    ).model_dump(mode="json", exclude={"project"})
)


def _check_round_trip(database_url: str) -> None:
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": lambda obj, *_: exists_on(obj, connection.dialect.name)}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models and migrations disagree: {differences}"
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert {"experiments", "runs", "generations", "judgments"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_migrations_on_sqlite(tmp_path: pytest.TempPathFactory) -> None:
    _check_round_trip(f"sqlite:///{tmp_path}/migrations.sqlite")


def test_migrations_on_postgresql(postgres_url: str) -> None:
    _check_round_trip(postgres_url)


def _check_existing_rows_move_to_a_default_project(database_url: str, tmp_path: Path) -> None:
    """Data stored before 0004 belongs to a project "default" afterwards; the built-ins to none; the
    first start makes the local owner its owner, and nothing is lost on the way."""
    config = alembic_config(database_url)
    command.upgrade(config, "0003")
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for table, source in (("benchmarks", "builtin"), ("benchmarks", "jsonl")):
            connection.execute(
                text(
                    f"INSERT INTO {table} (name, version, content_hash, source, description, created_at) "
                    "VALUES (:name, '1', 'h', :source, '', :now)"
                ),
                {"name": f"bench-{source}", "source": source, "now": now},
            )
        connection.execute(
            text(
                "INSERT INTO training_sets (name, version, content_hash, source, description, created_at) "
                "VALUES ('train', '1', 'h', 'jsonl', '', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO experiments (name, description, base_model, benchmark_id, training_set_id, "
                "judges, spec, created_at) VALUES ('old', '', 'm', 2, 1, '[]', '{}', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO conditions (experiment_id, position, name, is_baseline, spec) "
                "VALUES (1, 0, 'c', :false, :spec)"
            ),
            {"false": False, "spec": STORED_CONDITION},
        )
        connection.execute(
            text(
                "INSERT INTO runs (condition_id, seed, lora_init_seed, data_order_seed, data_subset_seed, "
                "sampling_seed, status, progress, progress_message, created_at, timings, provenance) "
                "VALUES (1, 0, 0, 0, 0, 0, 'done', 1, '', :now, '{}', '{}')"
            ),
            {"now": now},
        )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        projects = connection.execute(text("SELECT id, name FROM projects")).all()
        assert [name for _, name in projects] == ["default"]
        default = projects[0][0]
        assert connection.execute(text("SELECT project_id FROM experiments")).scalar_one() == default
        assert dict(connection.execute(text("SELECT source, project_id FROM benchmarks")).all()) == {
            "builtin": None,
            "jsonl": default,
        }
        assert connection.execute(text("SELECT project_id FROM training_sets")).scalar_one() == default
        # Rebuilding the experiments table (SQLite's batch mode) must not cascade into its children.
        assert connection.execute(text("SELECT count(*) FROM runs")).scalar_one() == 1
    settings = Settings(home=tmp_path / "home", database_url=database_url, broker_url="memory://")
    factory = make_session_factory(engine)
    with factory() as session:
        ensure_local_owner(session, settings)
        owner = accounts.find_user(session, None, settings)
        assert projects_of_user(session, owner.id) == [
            ProjectRead(id=default, name="default", role=Role.OWNER)
        ]
    engine.dispose()


def test_existing_rows_move_to_a_default_project_on_sqlite(tmp_path: Path) -> None:
    _check_existing_rows_move_to_a_default_project(f"sqlite:///{tmp_path}/old.sqlite", tmp_path)


def test_existing_rows_move_to_a_default_project_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    _check_existing_rows_move_to_a_default_project(postgres_url, tmp_path)


def _check_verdicts_survive_judges_becoming_data(database_url: str, tmp_path: Path) -> None:
    """Judgments, prompt cells and experiments stored with judge names before 0006 point at version 1 of
    the built-in definitions afterwards, with every verdict kept; downgrading writes the names back."""
    config = alembic_config(database_url)
    command.upgrade(config, "0004")
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    rows = [
        ("INSERT INTO projects (name, created_at) VALUES ('p', :now)", {}),
        (
            "INSERT INTO benchmarks (project_id, name, version, content_hash, source, description, "
            "created_at) VALUES (1, 'b', '1', 'h', 'jsonl', '', :now)",
            {},
        ),
        (
            "INSERT INTO training_sets (project_id, name, version, content_hash, source, description, "
            "created_at) VALUES (1, 't', '1', 'h', 'jsonl', '', :now)",
            {},
        ),
        (
            "INSERT INTO prompts (benchmark_id, position, external_id, text, category) "
            "VALUES (1, 0, 'p1', 'a prompt', 'c')",
            {},
        ),
        (
            "INSERT INTO experiments (project_id, name, description, base_model, benchmark_id, "
            "training_set_id, judges, spec, created_at) VALUES (1, 'old', '', 'm', 1, 1, "
            '\'["refusal-minilm", "refusal-phrases"]\', :spec, :now)',
            {"spec": OLD_EXPERIMENT_SPEC},
        ),
        (
            "INSERT INTO conditions (experiment_id, position, name, is_baseline, spec) "
            "VALUES (1, 0, 'c', :false, :spec)",
            {"false": False, "spec": STORED_CONDITION},
        ),
        (
            "INSERT INTO runs (condition_id, seed, lora_init_seed, data_order_seed, data_subset_seed, "
            "sampling_seed, evaluation_index, added_in, status, progress, progress_message, created_at, "
            "timings, provenance) VALUES (1, 0, 0, 0, 0, 0, 0, 0, 'done', 1, '', :now, '{}', '{}')",
            {},
        ),
    ]
    rows += [
        (
            "INSERT INTO generations (run_id, prompt_id, sample_index, text, n_new_tokens, created_at) "
            f"VALUES (1, 1, {sample}, 'an answer', 2, :now)",
            {},
        )
        for sample in (0, 1)
    ]
    judged = [(1, "refusal-minilm@1", "harmful"), (2, "refusal-minilm@1", "unscored")]
    judged += [(1, "refusal-phrases@1", "safe"), (2, "refusal-phrases@1", "harmful")]
    rows += [
        (
            "INSERT INTO judgments (generation_id, judge, verdict, score, output, created_at) "
            "VALUES (:generation, :judge, :verdict, NULL, 'why', :now)",
            {"generation": generation, "judge": judge, "verdict": verdict},
        )
        for generation, judge, verdict in judged
    ]
    rows += [
        (
            "INSERT INTO prompt_cells (run_id, prompt_id, judge, harmful, safe, unscored) "
            "VALUES (1, 1, :judge, :h, :s, :u)",
            {"judge": judge, "h": h, "s": s, "u": u},
        )
        for judge, h, s, u in (("refusal-minilm@1", 1, 0, 1), ("refusal-phrases@1", 1, 1, 0))
    ]
    with engine.begin() as connection:
        for statement, parameters in rows:
            connection.execute(text(statement), {"now": now, **parameters})
    command.upgrade(config, "head")
    with engine.connect() as connection:
        definitions = {
            key: judge_id
            for key, judge_id in connection.execute(
                text("SELECT name || '@' || CAST(version AS VARCHAR), id FROM judge_definitions")
            )
        }
        assert set(definitions) == {"refusal-minilm@1", "refusal-phrases@1"}
        verdicts = connection.execute(
            text("SELECT generation_id, judge_id, verdict, output FROM judgments ORDER BY id")
        ).all()
        assert [tuple(v) for v in verdicts] == [
            (generation, definitions[judge], verdict, "why") for generation, judge, verdict in judged
        ]
        assert connection.execute(
            text("SELECT judge_id FROM experiment_judges ORDER BY position")
        ).scalars().all() == [definitions["refusal-minilm@1"], definitions["refusal-phrases@1"]]
        cells = connection.execute(
            text("SELECT judge_id, harmful, safe, unscored FROM prompt_cells ORDER BY judge_id")
        ).all()
        assert {tuple(c) for c in cells} == {
            (definitions["refusal-minilm@1"], 1, 0, 1),
            (definitions["refusal-phrases@1"], 1, 1, 0),
        }
    # The first start stores the code's built-ins (version 2) beside them, and the old experiment reads on.
    factory = make_session_factory(engine)
    with factory() as session:
        ensure_builtins(session)
        session.commit()
        experiment = get_experiment(session, 1)
        assert [j.ref for j in experiment.judges] == ["refusal-minilm@1", "refusal-phrases@1"]
        assert experiment.spec.judges == ["refusal-minilm", "refusal-phrases"]
        assert experiment.spec.project is None and experiment.conditions[0].spec.seeds == [0]
        condition = experiment.conditions[0]
        assert (condition.spec.base_model, condition.spec.training_set, condition.training_set) == (
            "m",
            "t@1",
            "t@1",
        )
        assert experiment.runs[0].rate is not None
        assert (experiment.runs[0].rate.harmful, experiment.runs[0].rate.unscored) == (1, 1)
    command.downgrade(config, "0004")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT judge, verdict FROM judgments ORDER BY id")).all() == [
            (judge, verdict) for _, judge, verdict in judged
        ]
        assert connection.execute(text("SELECT judges FROM experiments")).scalar_one() in (
            ["refusal-minilm", "refusal-phrases"],
            '["refusal-minilm", "refusal-phrases"]',
        )
        assert connection.execute(text("SELECT count(*) FROM prompt_cells")).scalar_one() == 2
    engine.dispose()


def test_verdicts_survive_judges_becoming_data_on_sqlite(tmp_path: Path) -> None:
    _check_verdicts_survive_judges_becoming_data(f"sqlite:///{tmp_path}/judges.sqlite", tmp_path)


def test_verdicts_survive_judges_becoming_data_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    _check_verdicts_survive_judges_becoming_data(postgres_url, tmp_path)


def _check_a_validation_stranded_before_leases_is_swept(database_url: str) -> None:
    """Validations stored before 0009 keep their state, count as enqueued when they were created, and one
    left "running" by a worker that died (which nothing could recover then) is found by the sweep."""
    config = alembic_config(database_url)
    command.upgrade(config, "0008")
    engine = make_engine(database_url)
    created = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO projects (name, created_at) VALUES ('p', :now)"), {"now": created}
        )
        connection.execute(
            text(
                "INSERT INTO judge_definitions (name, version, description, kind, options, content_hash, "
                "created_at) VALUES ('j', 1, '', 'refusal-phrases', '{}', 'h', :now)"
            ),
            {"now": created},
        )
        connection.execute(
            text(
                "INSERT INTO validation_sets (name, version, content_hash, source, description, measures, "
                "created_at) VALUES ('v', '1', 'h', 'jsonl', '', 'compliance', :now)"
            ),
            {"now": created},
        )
        for status in ("running", "done"):
            connection.execute(
                text(
                    "INSERT INTO judge_validations (project_id, judge_id, validation_set_id, status, "
                    "progress, created_at, result) VALUES (1, 1, 1, :status, 0.5, :now, '{}')"
                ),
                {"status": status, "now": created},
            )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT status, progress_message, lease_owner, enqueued_at, attempts FROM judge_validations "
                "ORDER BY id"
            )
        ).all()
    assert [(status, message, owner, attempts) for status, message, owner, _, attempts in rows] == [
        ("running", "", None, 0),
        ("done", "", None, 0),
    ]
    assert {_as_utc(row[3]) for row in rows} == {created}
    with make_session_factory(engine).begin() as session:
        now = datetime.now(UTC)
        assert requeue_stranded(session, VALIDATIONS, now, 120, now) == [1]
    command.downgrade(config, "0008")
    with engine.connect() as connection:
        assert connection.execute(
            text("SELECT status FROM judge_validations ORDER BY id")
        ).scalars().all() == [
            "queued",
            "done",
        ]
    engine.dispose()


def _as_utc(value: datetime | str) -> datetime:
    """A timestamp as SQLite (text, naive) or PostgreSQL (aware) returns it from plain SQL."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def test_a_validation_stranded_before_leases_is_swept_on_sqlite(tmp_path: Path) -> None:
    _check_a_validation_stranded_before_leases_is_swept(f"sqlite:///{tmp_path}/validations.sqlite")


def test_a_validation_stranded_before_leases_is_swept_on_postgresql(postgres_url: str) -> None:
    _check_a_validation_stranded_before_leases_is_swept(postgres_url)
