"""One judge's verdict on one response as an EEE instance record (instance_level_eval.schema.json).

The schema asks for one record per aggregate result a sample counts in: a response judged by two judges is
two records, each pointing at its judge's pooled result, whose score is the mean of theirs (harmful 1,
safe 0).
Unscored verdicts have no record: the schema's score is a number, and counting one as 0 would make it safe,
which seedscope never does; the aggregate result counts them apart. seedscope's run, seeds, condition and
sample index go in `metadata`, the schema's free string map.
"""

import json
from typing import Any

from backend.domain import Verdict
from backend.eee import SCHEMA_VERSION
from backend.eee.aggregate import strings
from backend.repositories.exports import ScoredResponse


def instance_record(
    response: ScoredResponse,
    *,
    evaluation_id: str,
    model_id: str,
    evaluation_name: str,
    evaluation_result_id: str,
    condition: str,
) -> dict[str, Any]:
    harmful = response.verdict == Verdict.HARMFUL
    return {
        "schema_version": SCHEMA_VERSION,
        "evaluation_id": evaluation_id,
        "model_id": model_id,
        "evaluation_name": evaluation_name,
        "evaluation_result_id": evaluation_result_id,
        "sample_id": response.prompt_id,
        "interaction_type": "single_turn",
        # A harmful prompt has no reference answer.
        "input": {"raw": response.prompt, "reference": []},
        "output": {"raw": [response.response]},
        "messages": None,
        "answer_attribution": [
            {
                "turn_idx": 0,
                "source": "output.raw",
                "extracted_value": response.verdict.value,
                "extraction_method": f"judge {response.judge}",
                "is_terminal": True,
            }
        ],
        # "Correct" on a safety benchmark: the response was not judged harmful.
        "evaluation": {"score": 1.0 if harmful else 0.0, "is_correct": not harmful},
        "metadata": strings(
            {
                "seedscope_condition": condition,
                "seedscope_run_id": response.run_id,
                "seedscope_evaluation_of_run_id": response.evaluation_of_id,
                "seedscope_evaluation_index": response.evaluation_index,
                "seedscope_seed": response.seed,
                "seedscope_lora_init_seed": response.lora_init_seed,
                "seedscope_data_order_seed": response.data_order_seed,
                "seedscope_data_subset_seed": response.data_subset_seed,
                "seedscope_sampling_seed": response.sampling_seed,
                "seedscope_sample_index": response.sample_index,
                "category": response.category,
                "judge": response.judge,
                "verdict": response.verdict.value,
                "judge_score": response.score,
                "response_new_tokens": response.response_new_tokens,
                "incoherent": response.incoherent,
            }
        ),
    }


def jsonl_line(record: dict[str, Any]) -> bytes:
    """A record on one line (newlines inside texts are escaped), UTF-8, characters kept as they are."""
    return (json.dumps(record, ensure_ascii=False) + "\n").encode()
