"""Judge definitions: creating new ones (or new versions), and the definitions a user can see."""

from sqlalchemy.orm import Session

from backend.api_models.judges import JudgeDefinitionRead, JudgeDetailRead
from backend.catalog.base_models import local_model_path
from backend.config import Settings
from backend.domain import JudgeRef
from backend.errors import Forbidden, InvalidInput, NotFound
from backend.judging.definition import REFERENCE_PLACEHOLDER, JudgeConfig, JudgeKind, JudgeSpec
from backend.judging.endpoints import EndpointRules, KeyRefused
from backend.net.urls import parse_http_url
from backend.repositories import judges as repository
from backend.repositories import stress_tests as stress_test_repository
from backend.repositories import validations as validation_repository
from backend.services.documents import parse_yaml


def parse_yaml_spec(text: str) -> JudgeSpec:
    return parse_yaml(text, JudgeSpec, "judge", "name, kind and the kind's settings")


def check_operator_rules(config: JudgeConfig, project_id: int | None, settings: Settings) -> None:
    """What the operator's settings allow a definition of the project (None: a built-in): its endpoint, its
    API key, its local model path. The worker checks the same again before it calls or loads anything."""
    try:
        if config.endpoint is not None:
            endpoint = parse_http_url(config.endpoint)
            rules = EndpointRules.from_settings(settings)
            rules.check_endpoint(endpoint)
            if config.api_key_env is not None:
                rules.check_key(endpoint, config.api_key_env, project_id)
        if config.model is not None and config.kind != JudgeKind.OPENAI_CHAT:
            local_model_path(config.model, settings.resolved_model_roots)
    except KeyRefused as error:
        raise Forbidden(str(error)) from None
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def check_judges_safety_benchmarks(judge: JudgeDefinitionRead) -> None:
    """InvalidInput for a definition that cannot be an experiment's judge of its safety benchmarks' responses:
    one that scores or grades answers against reference answers, which those responses have none of."""
    if judge.config.kind == JudgeKind.REFERENCE_ANSWER:
        raise InvalidInput(
            f"{judge.ref} scores capability sets against their reference answers, not a safety benchmark: "
            "list the capability sets under `capability`, and it scores them"
        )
    if judge.config.grades_against_references:
        raise InvalidInput(
            f"{judge.ref} grades answers against reference answers ({REFERENCE_PLACEHOLDER} in its "
            f"template), not a safety benchmark's responses: make it a capability set's scoring rule, "
            f"judge:{judge.name}"
        )


def create_judge(
    session: Session, settings: Settings, spec: JudgeSpec, project_id: int, user_id: int
) -> JudgeDefinitionRead:
    """A new definition in the project, or a new version of the project's definition of that name; if its
    newest version already judges the same way, that version (nothing stored). Stored versions are never
    changed, so verdicts keep pointing at what made them."""
    if spec.name in repository.builtin_names(session):
        raise InvalidInput(f"{spec.name!r} is the name of a built-in judge; give yours another name")
    config = spec.config()
    check_operator_rules(config, project_id, settings)
    definition, _ = repository.add_definition(
        session,
        project_id=project_id,
        name=spec.name,
        description=spec.description,
        config=config,
        created_by_id=user_id,
    )
    session.commit()
    return definition


def list_judges(session: Session, project_ids: list[int], *, all_versions: bool) -> list[JudgeDefinitionRead]:
    return repository.list_judges(session, project_ids, newest_only=not all_versions)


def judge_detail(session: Session, judge_id: int, project_ids: list[int]) -> JudgeDetailRead:
    """The definition, with its validations and stress tests in the given projects (newest first)."""
    # dict(), not model_dump(): the stored configuration is passed on as read, not validated anew.
    return JudgeDetailRead(
        **dict(repository.get_judge(session, judge_id)),
        validations=validation_repository.list_validations(session, project_ids, judge_id=judge_id),
        stress_tests=stress_test_repository.of_judge(session, judge_id, project_ids),
    )


def visible_judge(session: Session, reference: str, project_id: int) -> JudgeDefinitionRead:
    """A definition by id or by name[@version], among the built-ins and the project's, as user input."""
    try:
        if reference.strip().isdigit() and int(reference) < 2**31:
            judge = repository.get_judge(session, int(reference))
            if judge.project_id not in (None, project_id):
                raise NotFound(f"judge definition {reference} not found")
            return judge
        return repository.find_judge(session, JudgeRef.parse(reference), project_id)
    except (NotFound, ValueError) as error:
        raise InvalidInput(str(error)) from None
