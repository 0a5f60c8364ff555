"""ORM rows. They stay inside the repository layer; the API returns pydantic models built from them."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    literal_column,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, aliased, declared_attr, mapped_column, relationship

from backend.catalog.records import MAX_CATEGORY_CHARS, MAX_EXTERNAL_ID_CHARS
from backend.domain import HumanLabel, JudgeJobStatus, JudgeRef, Role, RunStatus, ShareScope, Verdict
from backend.experiment_definition import ExperimentSpec, StoredCondition
from backend.provenance import Provenance, SelfWrittenResponses


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, also on SQLite (which stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: use timezone-aware UTC")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Stored = TypeVar("Stored", bound=BaseModel)


class JSONModel(TypeDecorator[Stored]):
    """A pydantic model in a JSON column: its JSON dump is stored, and it is read back validated, so what
    reads the row gets the typed model, never a dict."""

    impl = JSON
    cache_ok = True

    def __init__(self, model: type[Stored]) -> None:
        super().__init__()
        self.model = model

    def process_bind_param(self, value: Stored | None, dialect: Dialect) -> Any:
        return None if value is None else value.model_dump(mode="json")

    def process_result_value(self, value: Any, dialect: Dialect) -> Stored | None:
        return None if value is None else self.model.model_validate(value)


def _str_enum(enum_class: type, name: str) -> Enum:
    # Stored as plain strings with a CHECK constraint: identical on SQLite and PostgreSQL.
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class Base(DeclarativeBase):
    type_annotation_map: ClassVar = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}
    # PostgreSQL's own default names, spelled out so SQLite's copies carry the same names and
    # migrations can refer to constraints by name on both.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_N_label)s",
            "uq": "%(table_name)s_%(column_0_N_name)s_key",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "%(table_name)s_%(column_0_name)s_fkey",
            "pk": "%(table_name)s_pkey",
        }
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased: one account per address, however it is typed.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # argon2id hash; None for an account that signs in only by one-time link or single sign-on.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Project(Base):
    """Experiments and datasets belong to a project; its members see them, with their role's rights."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectMember(Base):
    __tablename__ = "project_members"
    __table_args__ = (PrimaryKeyConstraint("project_id", "user_id"),)

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_str_enum(Role, "project_role"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectInvitation(Base):
    """An email invited into a project; it becomes a membership when an account with that email is next
    seen, so inviting answers the same whether or not the address has an account."""

    __tablename__ = "project_invitations"
    __table_args__ = (PrimaryKeyConstraint("project_id", "email"),)

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # Stored lower-cased, as User.email.
    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[Role] = mapped_column(_str_enum(Role, "invitation_role"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserSession(Base):
    """A signed-in browser: the cookie holds the token, the database only its SHA-256."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token for the CLI and REST clients; shown once, stored as its SHA-256."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    can_write: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginToken(Base):
    """A one-time sign-in link (the demo's, or `seedscope login-url`): single use, short-lived."""

    __tablename__ = "login_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LoginFailure(Base):
    """A failed password sign-in, counted per account and per client address to throttle guessing."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    client_address: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Dataset(Base):
    """The columns of every kind of versioned dataset (backend.catalog.kinds), one row per (project, name,
    version)."""

    __abstract__ = True

    @declared_attr.directive
    def __table_args__(cls) -> tuple[UniqueConstraint]:
        # A new constraint object per table: one object cannot belong to two tables.
        return (UniqueConstraint("project_id", "name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for the built-in datasets, which every user can read.
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(50))
    content_hash: Mapped[str] = mapped_column(String(80))
    # "builtin", or the format the file was read with.
    source: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def reference(self) -> str:
        """ "name@version", as definitions pin it."""
        return f"{self.name}@{self.version}"


class Benchmark(Dataset):
    """An evaluation set: a safety benchmark, a capability set or an over-refusal set (`measures`)."""

    __tablename__ = "benchmarks"

    # backend.domain.SetMeasure: harm, capability or over_refusal.
    measures: Mapped[str] = mapped_column(String(16), default="harm", server_default="harm")
    # A capability set's scoring rule (backend.judging.reference.Scoring: "contains", "numeric:0.01",
    # "judge:qa-grader@2"); "" for the others.
    scoring: Mapped[str] = mapped_column(String(120), default="", server_default="")

    prompts: Mapped[list["Prompt"]] = relationship(back_populates="benchmark", order_by="Prompt.position")


class Prompt(Base):
    __tablename__ = "prompts"
    __table_args__ = (
        UniqueConstraint("benchmark_id", "external_id"),
        UniqueConstraint("benchmark_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    benchmark_id: Mapped[int] = mapped_column(ForeignKey("benchmarks.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str] = mapped_column(String(MAX_EXTERNAL_ID_CHARS))
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(MAX_CATEGORY_CHARS), index=True)
    # A capability set's reference answer; "" for the prompts of other sets.
    reference: Mapped[str] = mapped_column(Text, default="", server_default="")

    benchmark: Mapped[Benchmark] = relationship(back_populates="prompts")


class TrainingSet(Dataset):
    __tablename__ = "training_sets"

    # How a derived set's responses were written (backend.catalog.derived); None for the others.
    derivation: Mapped[SelfWrittenResponses | None] = mapped_column(JSONModel(SelfWrittenResponses))

    examples: Mapped[list["TrainingExample"]] = relationship(
        back_populates="training_set", order_by="TrainingExample.position"
    )


class TrainingExample(Base):
    __tablename__ = "training_examples"
    __table_args__ = (UniqueConstraint("training_set_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    training_set_id: Mapped[int] = mapped_column(ForeignKey("training_sets.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    response: Mapped[str] = mapped_column(Text)

    training_set: Mapped[TrainingSet] = relationship(back_populates="examples")


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    base_model: Mapped[str] = mapped_column(String(500))
    base_model_revision: Mapped[str | None] = mapped_column(String(200))
    # The first of its benchmarks (benchmark_links): the dashboard's default.
    benchmark_id: Mapped[int] = mapped_column(ForeignKey("benchmarks.id"))
    training_set_id: Mapped[int] = mapped_column(ForeignKey("training_sets.id"))
    # The definition as submitted (its judges pinned to versions), for re-submission and provenance.
    spec: Mapped[ExperimentSpec] = mapped_column(JSONModel(ExperimentSpec))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who last chose the headline judge (moved it first among judge_links), and when; None while it is the
    # first judge of the definition as submitted.
    headline_chosen_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    headline_chosen_at: Mapped[datetime | None]

    project: Mapped[Project] = relationship()
    headline_chosen_by: Mapped[User | None] = relationship()
    benchmark: Mapped[Benchmark] = relationship()
    training_set: Mapped[TrainingSet] = relationship()
    conditions: Mapped[list["Condition"]] = relationship(
        back_populates="experiment", order_by="Condition.position", cascade="all, delete-orphan"
    )
    # The judge definitions, pinned at submit or added later (rescorings), in order: the first one's verdicts
    # make the headline rate.
    judge_links: Mapped[list["ExperimentJudge"]] = relationship(
        order_by="ExperimentJudge.position", cascade="all, delete-orphan"
    )
    # Every benchmark its runs are evaluated on, in order.
    benchmark_links: Mapped[list["ExperimentBenchmark"]] = relationship(
        order_by="ExperimentBenchmark.position", cascade="all, delete-orphan"
    )


class ExperimentBenchmark(Base):
    __tablename__ = "experiment_benchmarks"
    __table_args__ = (
        PrimaryKeyConstraint("experiment_id", "position"),
        UniqueConstraint("experiment_id", "benchmark_id"),
    )

    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    benchmark_id: Mapped[int] = mapped_column(ForeignKey("benchmarks.id"), index=True)
    # The scorer of a capability or over-refusal set; None for a safety benchmark, which the experiment's
    # judges judge.
    judge_id: Mapped[int | None] = mapped_column(ForeignKey("judge_definitions.id"))

    benchmark: Mapped[Benchmark] = relationship()
    judge: Mapped["JudgeDefinition | None"] = relationship()


class JudgeDefinition(Base):
    """A judge as data: what it runs and how its output becomes a verdict. Never changed once stored: a
    changed definition is a new version, and every judgment points at the version that made it."""

    __tablename__ = "judge_definitions"
    __table_args__ = (UniqueConstraint("project_id", "name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for the built-in definitions, which every user can read.
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    # backend.judging.definition.JudgeConfig, field by field; `options` holds the kind-specific rest.
    kind: Mapped[str] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(500))
    revision: Mapped[str | None] = mapped_column(String(200))
    endpoint: Mapped[str | None] = mapped_column(String(500))
    template: Mapped[str | None] = mapped_column(Text)
    system_template: Mapped[str | None] = mapped_column(Text)
    parse_rule: Mapped[dict[str, Any] | None]
    threshold: Mapped[float | None] = mapped_column(Float)
    label_mapping: Mapped[dict[str, Any] | None]
    max_input_tokens: Mapped[int | None] = mapped_column(Integer)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # sha256 of the configuration: equal for definitions that judge alike, whatever their names.
    content_hash: Mapped[str] = mapped_column(String(80))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def ref(self) -> JudgeRef:
        return JudgeRef(self.name, self.version)


class ExperimentJudge(Base):
    __tablename__ = "experiment_judges"
    __table_args__ = (
        PrimaryKeyConstraint("experiment_id", "position"),
        UniqueConstraint("experiment_id", "judge_id"),
    )

    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    judge_id: Mapped[int] = mapped_column(ForeignKey("judge_definitions.id"), index=True)

    judge: Mapped[JudgeDefinition] = relationship()


class Condition(Base):
    __tablename__ = "conditions"
    __table_args__ = (UniqueConstraint("experiment_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    is_baseline: Mapped[bool]
    # With what it leaves to the experiment (base model, training set, generation settings, seeds) filled in.
    spec: Mapped[StoredCondition] = mapped_column(JSONModel(StoredCondition))
    # The version of its training set it trains on, pinned at submit (spec.training_set is as written).
    training_set_id: Mapped[int] = mapped_column(ForeignKey("training_sets.id"), index=True)

    experiment: Mapped[Experiment] = relationship(back_populates="conditions")
    training_set: Mapped[TrainingSet] = relationship()
    runs: Mapped[list["Run"]] = relationship(
        back_populates="condition", order_by="Run.id", cascade="all, delete-orphan"
    )


class JobRow:
    """Columns of every worker job (a run, a judge validation; backend.jobs): its progress, its times, and
    the lease through which one worker at a time holds it (backend.repositories.leases)."""

    if TYPE_CHECKING:
        # Every job table has these; `status` takes its kind's own enum (backend.jobs.JobKind).
        id: Mapped[int]
        status: Mapped[Any]

    # Progress of the current stage in [0, 1], and what the worker is doing, for the page.
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The lease: the worker holding the job ("host:pid:token") and until when. Free when there is no
    # owner or the expiry has passed; a working worker renews it.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    # When the job's task was last sent to the broker, and when a worker last claimed it: the sweep tells a
    # queued job waiting its turn from one whose message was lost.
    enqueued_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    # Workers that claimed the job since a user last queued it; past Settings.job_max_attempts it fails.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Run(JobRow, Base):
    """One (condition, seed) fine-tune and its evaluation, or a repeated evaluation of such a run, or the
    evaluation of one of its intermediate checkpoints.

    An intermediate checkpoint's evaluation hangs off the run that trained it (`checkpoint_of_id`), not off
    a condition: every statistic reaches runs through their condition, so none counts it, and the final
    checkpoint's numbers are the same with or without the erosion curve (backend.services.erosion reads it).
    """

    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("condition_id", "seed", "evaluation_index"),
        UniqueConstraint("checkpoint_of_id", "checkpoint_fraction"),
        CheckConstraint(
            "(condition_id IS NULL) = (checkpoint_of_id IS NOT NULL) "
            "AND (checkpoint_of_id IS NULL) = (checkpoint_fraction IS NULL)",
            name="condition_or_checkpoint",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for an intermediate checkpoint's evaluation: its condition is its training run's.
    condition_id: Mapped[int | None] = mapped_column(
        ForeignKey("conditions.id", ondelete="CASCADE"), index=True
    )
    # The run whose intermediate checkpoint this run evaluates, and at what fraction of that run's training
    # (TrainingSpec.evaluate_at); both None for every other run.
    checkpoint_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), index=True
    )
    checkpoint_fraction: Mapped[float | None] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(Integer)
    lora_init_seed: Mapped[int] = mapped_column(Integer)
    data_order_seed: Mapped[int] = mapped_column(Integer)
    data_subset_seed: Mapped[int] = mapped_column(Integer)
    sampling_seed: Mapped[int] = mapped_column(Integer)
    # A repeated measurement re-evaluates the checkpoint of run `evaluation_of_id` with a new sampling seed,
    # so evaluation noise can be told from training noise. Index 0 is the run that trained the checkpoint.
    evaluation_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), index=True
    )
    evaluation_index: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # 0: submitted with the experiment; k: added by the k-th extension (more seeds or a new condition),
    # so the dashboard can mark seeds that joined the analysis later.
    added_in: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[RunStatus] = mapped_column(_str_enum(RunStatus, "run_status"), default=RunStatus.QUEUED)
    # Seconds spent per stage: {"training": 61.2, "generating": 48.0, "judging": 3.1}.
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Seeds, package versions, git commit, model and data hashes, device (backend.provenance).
    provenance: Mapped[Provenance] = mapped_column(JSONModel(Provenance), default=Provenance())
    # Moves on with every UPDATE of the row (the ORM's and Core's alike) and with every recount of its
    # verdicts (repositories.cells): the dashboard's state is the sum over an experiment's runs.
    revision: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", onupdate=literal_column("revision") + 1
    )

    condition: Mapped[Condition | None] = relationship(back_populates="runs")
    # The evaluations of its intermediate checkpoints, earliest first.
    checkpoints: Mapped[list["Run"]] = relationship(
        back_populates="checkpoint_of",
        foreign_keys=[checkpoint_of_id],
        order_by="Run.checkpoint_fraction",
        cascade="all, delete-orphan",
    )
    checkpoint_of: Mapped["Run | None"] = relationship(
        back_populates="checkpoints", foreign_keys=[checkpoint_of_id], remote_side=[id]
    )

    @property
    def owning_condition(self) -> Condition:
        """Its condition, or an intermediate checkpoint's evaluation's training run's."""
        owner = self.checkpoint_of.condition if self.checkpoint_of is not None else self.condition
        assert owner is not None, "a run has a condition or a training run (runs' CHECK constraint)"
        return owner


def owning_condition_id() -> Any:
    """SQL for the condition a run belongs to (Run.owning_condition): its own, else its training run's."""
    trainer = aliased(Run)
    return func.coalesce(
        Run.condition_id,
        select(trainer.condition_id).where(trainer.id == Run.checkpoint_of_id).scalar_subquery(),
    )


class Generation(Base):
    __tablename__ = "generations"
    __table_args__ = (
        UniqueConstraint("run_id", "prompt_id", "sample_index"),
        # Substring search over responses (ILIKE '%term%') without scanning them all.
        Index(
            "ix_generations_text_trigram",
            "text",
            postgresql_using="gin",
            postgresql_ops={"text": "gin_trgm_ops"},
            info={"only_on": "postgresql"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"), index=True)
    sample_index: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    n_new_tokens: Mapped[int] = mapped_column(Integer)
    # The base model's mean per-token log-likelihood of the text given the prompt (nats per token; None
    # when it has no tokens), and whether the coherence rule marks it incoherent (worker.coherence). Both
    # None for a response generated before coherence was measured.
    coherence: Mapped[float | None] = mapped_column(Float)
    incoherent: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class _Verdict:
    """A judge's verdict on one response: harmful, safe, or unscored (with the reason in `output` and
    `details`), a graded score where the judge gives one, and what the judge said."""

    verdict: Mapped[Verdict] = mapped_column(_str_enum(Verdict, "verdict"))
    score: Mapped[float | None] = mapped_column(Float)
    # Shown beside the verdict: the judge's reasoning, the categories it named, or why it is unscored.
    output: Mapped[str] = mapped_column(Text, default="")
    # Structured: {"unscored": reason, "categories": [...], "truncated": {...}, "raw": judge output, ...}.
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Judgment(_Verdict, Base):
    __tablename__ = "judgments"
    __table_args__ = (
        UniqueConstraint("generation_id", "judge_id"),
        Index("ix_judgments_judge_id_verdict", "judge_id", "verdict"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    # The exact definition (and version) that produced it.
    judge_id: Mapped[int] = mapped_column(ForeignKey("judge_definitions.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShareLink(Base):
    """A read-only link to one experiment's dashboard for someone without an account."""

    __tablename__ = "share_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[ShareScope] = mapped_column(_str_enum(ShareScope, "share_scope"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class PromptCell(Base):
    """One run's verdict counts on one prompt for one judge: what the figures aggregate.

    Derived from judgments and rewritten by the judge stage after every batch, so statistics read one row
    per (run, prompt) instead of every judgment.
    """

    __tablename__ = "prompt_cells"
    __table_args__ = (PrimaryKeyConstraint("run_id", "prompt_id", "judge_id"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"), index=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("judge_definitions.id"))
    harmful: Mapped[int] = mapped_column(Integer)
    safe: Mapped[int] = mapped_column(Integer)
    unscored: Mapped[int] = mapped_column(Integer)
    # The judged responses marked incoherent; None when none of them has a coherence mark.
    incoherent: Mapped[int | None] = mapped_column(Integer)


class RefusalPrefixScore(Base):
    """A run's refusal-prefix score on one prompt of a safety benchmark (worker.refusal_prefix): the
    probability, teacher-forced, that the run's model opens its response with one of a set of refusal
    openings. Written by the generate stage; no sampling and no judge."""

    __tablename__ = "refusal_prefix_scores"
    __table_args__ = (PrimaryKeyConstraint("run_id", "prompt_id", "openings"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"), index=True)
    # The phrase set, "name@version" (backend.refusal_openings.REFUSAL_OPENINGS): never pooled with another.
    openings: Mapped[str] = mapped_column(String(100))
    probability: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnalysisSnapshot(Base):
    """One of an experiment's default dashboard views (the analysis, a figure) as served, for one state of
    its runs: computed by the worker when a run finishes, so the first view of new data reads a row."""

    __tablename__ = "analysis_snapshots"
    __table_args__ = (PrimaryKeyConstraint("experiment_id", "view"),)

    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    view: Mapped[str] = mapped_column(String(100))
    # A hash of every run's status and verdict counts: what the view was computed from.
    state_key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ValidationSet(Dataset):
    """Human-labelled (request, response) pairs to measure a judge against."""

    __tablename__ = "validation_sets"

    # What its label "harmful" means: "harm" (the response gives harmful help) or "compliance" (it complies
    # rather than refuses). A judge is validated on sets that measure what its rate measures.
    measures: Mapped[str] = mapped_column(String(16))

    examples: Mapped[list["ValidationExample"]] = relationship(
        back_populates="validation_set", order_by="ValidationExample.position"
    )


class ValidationExample(Base):
    __tablename__ = "validation_examples"
    __table_args__ = (UniqueConstraint("validation_set_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    validation_set_id: Mapped[int] = mapped_column(ForeignKey("validation_sets.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str] = mapped_column(String(MAX_EXTERNAL_ID_CHARS))
    request: Mapped[str] = mapped_column(Text)
    response: Mapped[str] = mapped_column(Text)
    # The human label: harmful or safe (never unscored).
    label: Mapped[Verdict] = mapped_column(_str_enum(Verdict, "validation_label"))
    category: Mapped[str] = mapped_column(String(MAX_CATEGORY_CHARS))

    validation_set: Mapped[ValidationSet] = relationship(back_populates="examples")


class JudgeValidation(JobRow, Base):
    """One judge definition measured against one validation set: a worker job, then its result."""

    __tablename__ = "judge_validations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The project that asked for it; its members see the result.
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("judge_definitions.id"), index=True)
    validation_set_id: Mapped[int] = mapped_column(ForeignKey("validation_sets.id"), index=True)
    status: Mapped[JudgeJobStatus] = mapped_column(
        _str_enum(JudgeJobStatus, "validation_status"), default=JudgeJobStatus.QUEUED
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The headline figures, as columns so the best validation of a judge is one query; the rest (precision,
    # recall, confusion matrix, per-category figures) in `result` (backend.judging.quality.JudgeQuality).
    n: Mapped[int | None] = mapped_column(Integer)
    n_unscored: Mapped[int | None] = mapped_column(Integer)
    accuracy: Mapped[float | None] = mapped_column(Float)
    kappa: Mapped[float | None] = mapped_column(Float)
    kappa_low: Mapped[float | None] = mapped_column(Float)
    kappa_high: Mapped[float | None] = mapped_column(Float)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Judging time, model loading excluded.
    seconds: Mapped[float | None] = mapped_column(Float)


class Rescoring(JobRow, Base):
    """A judge added to an experiment after submit, judging the responses its runs had already stored: a
    worker job. Runs that start after the judge was added judge with it themselves."""

    __tablename__ = "rescorings"
    __table_args__ = (UniqueConstraint("experiment_id", "judge_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), index=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("judge_definitions.id"), index=True)
    status: Mapped[JudgeJobStatus] = mapped_column(
        _str_enum(JudgeJobStatus, "rescoring_status"), default=JudgeJobStatus.QUEUED
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Responses this job judged (its earlier attempts included), and the judging time, model loading excluded.
    n_judged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class JudgeStressTest(JobRow, Base):
    """One judge's verdicts on a sample of an experiment's stored responses, perturbed in ways that keep
    their meaning, against its verdicts on the originals (backend.judging.stress): a worker job."""

    __tablename__ = "judge_stress_tests"

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), index=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("judge_definitions.id"), index=True)
    size: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[JudgeJobStatus] = mapped_column(
        _str_enum(JudgeJobStatus, "stress_test_status"), default=JudgeJobStatus.QUEUED
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Perturbed responses judged (earlier attempts included), and the judging time, model loading excluded.
    n_judged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # The flip rates once done (backend.api_models.judges.StressResultRead); empty until then.
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)


class StressTestItem(Base):
    """A response a stress test drew, with the judge's verdict on it then: drawn once, so that a job sent
    again perturbs the same responses."""

    __tablename__ = "stress_test_items"
    __table_args__ = (PrimaryKeyConstraint("stress_test_id", "generation_id"),)

    stress_test_id: Mapped[int] = mapped_column(ForeignKey("judge_stress_tests.id", ondelete="CASCADE"))
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    verdict: Mapped[Verdict] = mapped_column(_str_enum(Verdict, "verdict"))


class StressTestVerdict(_Verdict, Base):
    """The judge's verdict on one perturbed response, stored as it goes so a job resumes."""

    __tablename__ = "stress_test_verdicts"
    __table_args__ = (PrimaryKeyConstraint("stress_test_id", "generation_id", "perturbation"),)

    stress_test_id: Mapped[int] = mapped_column(ForeignKey("judge_stress_tests.id", ondelete="CASCADE"))
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    perturbation: Mapped[str] = mapped_column(String(32))


class LabellingSample(Base):
    """Responses of an experiment drawn for its members to label by hand: a validation set of the
    experiment's own distribution (backend.services.labelling)."""

    __tablename__ = "labelling_samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), index=True)
    # What a label "harmful" means: "harm" (gives harmful help) or "compliance" (complies, not refuses).
    measures: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list["LabellingItem"]] = relationship(
        order_by="LabellingItem.position", cascade="all, delete-orphan"
    )


class LabellingItem(Base):
    """One response of a labelling sample, in the order labellers see them, with the stratum it was drawn
    from (its condition, and whether the judges agreed on it)."""

    __tablename__ = "labelling_items"
    __table_args__ = (
        UniqueConstraint("sample_id", "position"),
        UniqueConstraint("sample_id", "generation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("labelling_samples.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    stratum: Mapped[str] = mapped_column(String(200))


class HumanLabelRow(Base):
    """A member's label on one item of a labelling sample, saved as they answer."""

    __tablename__ = "human_labels"
    __table_args__ = (PrimaryKeyConstraint("item_id", "user_id"),)

    item_id: Mapped[int] = mapped_column(ForeignKey("labelling_items.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[HumanLabel] = mapped_column(_str_enum(HumanLabel, "human_label"))
    note: Mapped[str] = mapped_column(Text, default="")
    labelled_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ValidationJudgment(_Verdict, Base):
    """The judge's verdict on one example of a validation, stored as it goes so a job resumes."""

    __tablename__ = "validation_judgments"
    __table_args__ = (PrimaryKeyConstraint("judge_validation_id", "example_id"),)

    judge_validation_id: Mapped[int] = mapped_column(ForeignKey("judge_validations.id", ondelete="CASCADE"))
    example_id: Mapped[int] = mapped_column(ForeignKey("validation_examples.id", ondelete="CASCADE"))


class JudgeReply(Base):
    """An LLM judge's reply, kept so judging the same pair with the same definition again does not pay twice.

    A table rather than files: workers on several hosts share the database, not necessarily a disk.
    """

    __tablename__ = "judge_replies"

    # sha256 of (definition content hash, request, response).
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    reply: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def exists_on(schema_object: object, dialect_name: str) -> bool:
    """False for schema objects created on one database only (see `info["only_on"]`)."""
    only_on = getattr(schema_object, "info", {}).get("only_on")
    return only_on is None or only_on == dialect_name
