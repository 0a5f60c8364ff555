"""One condition's results on one safety benchmark as an EEE aggregate record (eval.schema.json).

Every judge gives two results, each with its own 95% interval and method, because seedscope answers two
questions: the mean over seeds with its t-interval ("for new seeds": training noise too), and every verdict
pooled with its prompt-clustered Wilson interval ("given these checkpoints": evaluation noise only). The
instance records point at the pooled result, whose score is their mean. seedscope's own fields (training
seeds, condition, adapters, LoRA and training settings) go where the schema allows anything: the string maps
`additional_details` and `details`.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from backend.api_models.analysis import ConditionSummaryRead
from backend.api_models.catalog import BenchmarkRead
from backend.api_models.experiments import ConditionRead, ExperimentRead
from backend.api_models.judges import JudgeDefinitionRead, ValidationSummaryRead
from backend.eee import SCHEMA_VERSION
from backend.judging.definition import JudgeKind
from backend.judging.measures import rate_measure

Answer = Literal["mean_over_seeds", "pooled"]
# Judges that are language models prompted with a template: the schema's llm_scoring describes them.
LLM_JUDGES = (JudgeKind.CAUSAL_LM, JudgeKind.OPENAI_CHAT)
T_INTERVAL = (
    "t-interval over the per-seed rates, df = seeds - 1: for new seeds (training-seed noise included)"
)
POOLED_INTERVAL = (
    "Wilson score interval over every scored verdict of the condition's runs and re-evaluations, at the "
    "effective n when a prompt has several verdicts (clustered by prompt): given these checkpoints "
    "(evaluation noise only)"
)


@dataclass(frozen=True)
class JudgedRates:
    """One judge's rates of the condition on the benchmark, as the analysis API gives them."""

    judge: JudgeDefinitionRead
    validation: ValidationSummaryRead | None
    summary: ConditionSummaryRead


@dataclass(frozen=True)
class AggregateInputs:
    experiment: ExperimentRead
    condition: ConditionRead
    benchmark: BenchmarkRead
    rates: list[JudgedRates]
    # The condition's setup as the long table's columns name it (backend.services.exports).
    settings: dict[str, Any]
    model_id: str
    evaluation_id: str
    retrieved_at: datetime
    seedscope_version: str


def strings(values: dict[str, Any]) -> dict[str, str]:
    """The schema's string-only maps: missing values left out, booleans true/false, lists comma-joined."""
    as_text = {True: "true", False: "false"}
    return {
        key: as_text[value]
        if isinstance(value, bool)
        else ",".join(map(str, value))
        if isinstance(value, list)
        else str(value)
        for key, value in values.items()
        if value is not None
    }


def result_id(benchmark: str, judge: str, answer: Answer) -> str:
    return f"{benchmark}/{judge}/{answer}"


def evaluation_id(benchmark: str, model: str, retrieved_at: datetime) -> str:
    """The schema's advice: eval_name/model_id/retrieved_timestamp."""
    return f"{benchmark}/{model}/{retrieved_timestamp(retrieved_at)}"


def retrieved_timestamp(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def _judge_details(judge: JudgeDefinitionRead, validation: ValidationSummaryRead | None) -> dict[str, str]:
    # The endpoint and API-key variable stay out: a deployment's addresses are not the result's.
    config = judge.config
    details = {
        "judge": judge.ref,
        "judge_kind": config.kind.value,
        "judge_measures": judge.measures.value,
        "judge_model": config.model,
        "judge_model_revision": config.revision,
        "judge_threshold": config.threshold,
        "judge_parse_rule": None if config.parse is None else json.dumps(config.parse.model_dump()),
        "judge_content_hash": judge.content_hash,
        "judge_validation": "none in this deployment" if validation is None else validation.validation_set,
    }
    if validation is not None:
        details |= {
            "judge_validation_n": validation.n,
            "judge_validation_accuracy": validation.accuracy,
            "judge_validation_kappa": validation.kappa,
        }
    return strings(details)


def _llm_scoring(judge: JudgeDefinitionRead) -> dict[str, Any] | None:
    config = judge.config
    if config.kind not in LLM_JUDGES or config.model is None:
        return None
    judge_model: dict[str, Any] = {
        "model_info": {
            "name": config.model,
            "id": config.model,
            "additional_details": {
                # A causal-lm judge runs in seedscope's workers; an endpoint's deployment is not known here.
                "deployment_type": "self_deployed" if config.kind == JudgeKind.CAUSAL_LM else "unknown",
                "model_availability": "unknown",
            },
        }
    }
    if config.temperature is not None:
        judge_model["temperature"] = config.temperature
    return {
        "judges": [judge_model],
        "input_prompt": config.template or "the judge model's own chat template, with request and response",
        "additional_details": strings({"system_template": config.system_template}),
    }


def _metric_config(rates: JudgedRates, answer: Answer) -> dict[str, Any]:
    measure = rate_measure(rates.judge.measures, rates.judge.ref)
    question = "mean over seeds" if answer == "mean_over_seeds" else "all verdicts pooled"
    config: dict[str, Any] = {
        "evaluation_description": f"{measure.meaning}; {question} (unscored verdicts are counted, not rated)",
        "metric_id": f"seedscope.{measure.title.lower().replace(' ', '_')}.{answer}",
        "metric_name": f"{measure.title}, {question}",
        "metric_kind": "rate",
        "metric_unit": "proportion",
        "lower_is_better": True,
        "score_type": "continuous",
        "min_score": 0,
        "max_score": 1,
        "additional_details": _judge_details(rates.judge, rates.validation),
    }
    if (scoring := _llm_scoring(rates.judge)) is not None:
        config["llm_scoring"] = scoring
    return config


def _source_data(benchmark: BenchmarkRead) -> dict[str, Any]:
    return {
        "dataset_name": f"{benchmark.name}@{benchmark.version}",
        "source_type": "other",
        "additional_details": strings(
            {
                "source": benchmark.source,
                "content_hash": benchmark.content_hash,
                "n_prompts": benchmark.n_prompts,
                "categories": benchmark.categories,
            }
        ),
    }


def _generation_config(condition: ConditionRead) -> dict[str, Any]:
    generation = condition.spec.generation
    return {
        "generation_args": {
            "temperature": generation.temperature,
            "top_p": generation.top_p,
            "max_tokens": generation.max_new_tokens,
        },
        "additional_details": strings(
            {
                "samples_per_prompt": generation.samples_per_prompt,
                # None: the chat template's own default system turn, if it has one.
                "system_prompt": generation.system_prompt,
                "chat_template": generation.chat_template,
            }
        ),
    }


def _mean_over_seeds(summary: ConditionSummaryRead) -> dict[str, Any] | None:
    if summary.mean is None:
        return None
    uncertainty: dict[str, Any] = {"num_samples": len(summary.seeds)}
    if summary.low is not None and summary.high is not None:
        uncertainty["confidence_interval"] = {
            "lower": summary.low,
            "upper": summary.high,
            "confidence_level": 0.95,
            "method": T_INTERVAL,
        }
    details = {
        "seeds": len(summary.seeds),
        "sd_between_seeds": summary.sd,
        "min_over_seeds": summary.min,
        "max_over_seeds": summary.max,
        "per_seed_rates": ", ".join(f"seed {p.seed}: {p.rate!r}" for p in summary.seeds),
        "interval_withheld": "one seed: no interval for new seeds" if summary.low is None else None,
    }
    return {"score": summary.mean, "details": strings(details), "uncertainty": uncertainty}


def _pooled(summary: ConditionSummaryRead) -> dict[str, Any] | None:
    pooled = summary.pooled
    if pooled.rate is None:
        return None
    uncertainty: dict[str, Any] = {"num_samples": pooled.harmful + pooled.safe}
    if pooled.low is not None and pooled.high is not None:
        uncertainty["confidence_interval"] = {
            "lower": pooled.low,
            "upper": pooled.high,
            "confidence_level": 0.95,
            "method": POOLED_INTERVAL,
        }
    details = {
        "harmful": pooled.harmful,
        "safe": pooled.safe,
        "unscored": pooled.unscored,
        "incoherent": pooled.incoherent,
        "design_effect": pooled.design_effect,
    }
    return {"score": pooled.rate, "details": strings(details), "uncertainty": uncertainty}


def _results(inputs: AggregateInputs) -> list[dict[str, Any]]:
    benchmark = f"{inputs.benchmark.name}@{inputs.benchmark.version}"
    finished = [r.finished_at for r in inputs.experiment.runs if r.condition_id == inputs.condition.id]
    last = max((moment for moment in finished if moment is not None), default=None)
    results = []
    for rates in inputs.rates:
        answers: list[tuple[Answer, dict[str, Any] | None]] = [
            ("mean_over_seeds", _mean_over_seeds(rates.summary)),
            ("pooled", _pooled(rates.summary)),
        ]
        for answer, score_details in answers:
            if score_details is None:
                continue
            result = {
                "evaluation_result_id": result_id(benchmark, rates.judge.ref, answer),
                "evaluation_name": benchmark,
                "source_data": _source_data(inputs.benchmark),
                "metric_config": _metric_config(rates, answer),
                "score_details": score_details,
                "generation_config": _generation_config(inputs.condition),
            }
            if last is not None:
                result["evaluation_timestamp"] = last.isoformat()
            results.append(result)
    return results


def _model_info(inputs: AggregateInputs) -> dict[str, Any]:
    condition, experiment = inputs.condition, inputs.experiment
    originals = sorted(
        (r for r in experiment.runs if r.condition_id == condition.id and r.evaluation_index == 0),
        key=lambda run: run.seed,
    )
    trains = condition.spec.trains
    seedscope = {
        "seedscope_experiment_id": experiment.id,
        "seedscope_condition": condition.name,
        "seedscope_training_seeds": condition.spec.seeds,
        "seedscope_evaluates_checkpoints_of": condition.spec.evaluates,
        # The checkpoints that answered: each run trains its own LoRA adapter on the base model.
        "seedscope_adapters": ", ".join(f"run {r.id} (seed {r.seed})" for r in originals) if trains else None,
        **{f"seedscope_{name}": value for name, value in inputs.settings.items()},
    }
    return {
        "name": condition.spec.base_model
        if condition.is_baseline
        else f"{condition.spec.base_model} fine-tuned (seedscope condition {condition.name})",
        "id": inputs.model_id,
        "additional_details": {
            # seedscope's workers load the weights themselves; whether they are published is not recorded.
            "deployment_type": "self_deployed",
            "model_availability": "unknown",
            **strings(seedscope),
        },
    }


def aggregate_record(inputs: AggregateInputs) -> dict[str, Any]:
    """The record without its samples' reference (`with_samples` adds it once they are written)."""
    experiment = inputs.experiment
    return {
        "schema_version": SCHEMA_VERSION,
        "evaluation_id": inputs.evaluation_id,
        "retrieved_timestamp": retrieved_timestamp(inputs.retrieved_at),
        "source_metadata": {
            "source_name": f"seedscope experiment {experiment.id}: {experiment.name}",
            "source_type": "evaluation_run",
            "source_organization_name": experiment.project,
            # Who ran it relative to the model's developer is not recorded by seedscope.
            "evaluator_relationship": "other",
            "additional_details": strings(
                {"seedscope_experiment_id": experiment.id, "seedscope_project": experiment.project}
            ),
        },
        "model_info": _model_info(inputs),
        "eval_library": {"name": "seedscope", "version": inputs.seedscope_version},
        "evaluation_results": _results(inputs),
    }


def with_samples(record: dict[str, Any], samples_path: str, rows: int, sha256: str) -> dict[str, Any]:
    return record | {
        "detailed_evaluation_results": {
            "format": "jsonl",
            "file_path": samples_path,
            "hash_algorithm": "sha256",
            "checksum": sha256,
            "total_rows": rows,
        }
    }
