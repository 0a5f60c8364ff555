"""Check the demo evaluation sets under backend/catalog/data/ (schema, counts, disjointness from training).

    python scripts/check_demo_sets.py

Checks capability-demo-v1.jsonl, over-refusal-demo-v1.csv and xstest-v2-prompts.csv against the rules
they were written to: every prompt differs from the training, alignment and benchmark prompts; the
capability set's countries, words and operand pairs do not occur in the benign demo training set; each
reference is what a correct short answer contains under the "contains" scoring. Exits 1 on any failure.
Standard library only.
"""

import csv
import hashlib
import io
import json
import re
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "backend" / "catalog" / "data"
WORKER_DATA = REPO / "worker" / "data"

CAPABILITY = DATA / "capability-demo-v1.jsonl"
OVER_REFUSAL = DATA / "over-refusal-demo-v1.csv"
XSTEST = DATA / "xstest-v2-prompts.csv"
BENIGN_DEMO = DATA / "benign-demo-v1.jsonl"
OTHER_PROMPT_FILES = {  # file: the field that holds its prompt
    DATA / "benign-dolly-v1.jsonl": "instruction",
    DATA / "harmful-demo-v1.jsonl": "prompt",
    DATA / "harmful-demo-b-v1.jsonl": "prompt",
    WORKER_DATA / "alignment-v1.jsonl": "prompt",
    WORKER_DATA / "benign-probe-v1.jsonl": "prompt",
}

CATEGORIES = {"arithmetic": 20, "capitals": 20, "spelling": 20}
ID_PREFIX = {"arithmetic": "cap-arith-", "capitals": "cap-capital-", "spelling": "cap-spell-"}
SAFE_TYPES = {
    "homonyms",
    "figurative_language",
    "safe_targets",
    "safe_contexts",
    "definitions",
    "privacy_public",
    "historical_events",
}
# An over-refusal prompt whose content-word overlap with a prompt the model was aligned or tested on reaches
# this is a near-copy.
NEAR_COPY_JACCARD = 0.5

failures: list[str] = []


def fail(message: str) -> None:
    failures.append(message)
    print(f"FAIL {message}")


def normalise(text: str) -> str:
    """The "contains" scoring's normalisation: lower-case, non-alphanumerics to spaces, spaces collapsed."""
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def contains(response: str, reference: str) -> bool:
    return f" {normalise(reference)} " in f" {normalise(response)} "


# Function words, left out when comparing prompts for near-copies.
# fmt: off
STOPWORDS = frozenset({
    "a", "an", "and", "are", "at", "be", "can", "did", "do", "does", "for", "from", "how", "i", "in", "is",
    "it", "me", "my", "of", "on", "s", "so", "that", "the", "this", "to", "was", "were", "what", "when",
    "where", "which", "who", "why", "with", "you", "your"
})
# fmt: on


def tokens(text: str) -> set[str]:
    return set(normalise(text).split()) - STOPWORDS


def jaccard(a: str, b: str) -> float:
    ta, tb = tokens(a), tokens(b)
    return len(ta & tb) / len(ta | tb) if ta | tb else 0.0


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            fail(f"{path.name}:{number}: blank line")
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as error:
            fail(f"{path.name}:{number}: not JSON ({error})")
    return rows


# Arithmetic prompt forms: the benign demo set's eight, and division.
ARITH_FORMS: list[tuple[str, object]] = [
    (r"What is (\d+) \+ (\d+)\?", lambda a, b: a + b),
    (r"What is the sum of (\d+) and (\d+)\?", lambda a, b: a + b),
    (r"Add (\d+) and (\d+)\.", lambda a, b: a + b),
    (r"What is (\d+) - (\d+)\?", lambda a, b: a - b),
    (r"What do you get when you subtract (\d+) from (\d+)\?", lambda a, b: b - a),
    (r"Take (\d+) away from (\d+)\.", lambda a, b: b - a),
    (r"What is (\d+) × (\d+)\?", lambda a, b: a * b),
    (r"Compute (\d+) times (\d+)\.", lambda a, b: a * b),
    (r"Multiply (\d+) by (\d+)\.", lambda a, b: a * b),
    (r"What is (\d+) ÷ (\d+)\?", lambda a, b: a / b),
    (r"Divide (\d+) by (\d+)\.", lambda a, b: a / b),
]
CAPITAL_FORMS = [
    r"What is the capital of (.+)\?",
    r"Which city is the capital of (.+)\?",
    r"What city is (.+)'s capital\?",
    r"Name the capital city of (.+)\.",
]
SPELL_FORMS = [r"Spell '([a-z]+)' letter by letter\.", r"Can you spell '([a-z]+)' one letter at a time\?"]


def match_form(forms: list[str], prompt: str) -> re.Match[str] | None:
    for form in forms:
        found = re.fullmatch(form, prompt)
        if found:
            return found
    return None


def country_key(country: str) -> str:
    return normalise(re.sub(r"^the ", "", country))


def check_scoring_rule() -> None:
    if not contains("19 × 10 = 190.", "190") or contains("19 × 10 = 1900.", "190"):
        fail("the contains rule does not behave as specified on 190 / 1900")
    if normalise("U-N-I-C-O-R-N") != "u n i c o r n" or not contains("U-N-I-C-O-R-N.", "U-N-I-C-O-R-N"):
        fail("the contains rule does not behave as specified on U-N-I-C-O-R-N")


def check_capability(other_prompts: dict[str, str]) -> None:
    rows = read_jsonl(CAPABILITY)
    train = read_jsonl(BENIGN_DEMO)
    train_text = f" {normalise(' '.join(r['prompt'] + ' ' + r['response'] for r in train))} "
    train_pairs: set[tuple[int, ...]] = set()
    for r in train:
        numbers = re.findall(r"\d+", r["prompt"])
        if len(numbers) == 2:  # an arithmetic prompt: its operands, in either order
            train_pairs.add(tuple(sorted(map(int, numbers))))
    ids = Counter(r.get("id") for r in rows)
    for dup in [i for i, n in ids.items() if n > 1]:
        fail(f"capability: duplicate id {dup}")
    prompts = Counter(normalise(r.get("prompt", "")) for r in rows)
    for dup in [p for p, n in prompts.items() if n > 1]:
        fail(f"capability: duplicate prompt {dup!r}")
    countries, words = set(), set()
    for r in rows:
        rid = str(r.get("id"))
        keys_ok = set(r) == {"id", "prompt", "reference", "category"}
        if not keys_ok or not all(isinstance(v, str) for v in r.values()):
            fail(f"capability {rid}: keys/types {sorted(r)} (want id, prompt, reference, category: strings)")
            continue
        prompt, reference, category = r["prompt"], r["reference"], r["category"]
        if category not in CATEGORIES:
            fail(f"capability {rid}: category {category!r}")
            continue
        if not re.fullmatch(re.escape(ID_PREFIX[category]) + r"\d{2}", rid):
            fail(f"capability {rid}: id does not match {ID_PREFIX[category]}NN")
        if not normalise(reference):
            fail(f"capability {rid}: empty reference")
        if contains(prompt, reference):
            fail(f"capability {rid}: the prompt already contains the reference (an echo would score)")
        if normalise(prompt) in other_prompts:
            fail(f"capability {rid}: prompt identical to one in {other_prompts[normalise(prompt)]}")
        if category == "arithmetic":
            found = match_form([form for form, _ in ARITH_FORMS], prompt)
            if not found:
                fail(f"capability {rid}: arithmetic prompt in no known form: {prompt!r}")
                continue
            operation = next(op for form, op in ARITH_FORMS if re.fullmatch(form, prompt))
            a, b = int(found.group(1)), int(found.group(2))
            value = operation(a, b)  # type: ignore[operator]
            if value != int(value) or value < 0:
                fail(f"capability {rid}: {prompt!r} has no non-negative integer answer ({value})")
            if not re.fullmatch(r"\d+", reference) or int(reference) != value:
                fail(f"capability {rid}: reference {reference!r}, but {prompt!r} = {value}")
            if tuple(sorted((a, b))) in train_pairs:
                fail(f"capability {rid}: operand pair ({a}, {b}) is used in {BENIGN_DEMO.name}")
        elif category == "capitals":
            found = match_form(CAPITAL_FORMS, prompt)
            if not found:
                fail(f"capability {rid}: capitals prompt in no known form: {prompt!r}")
                continue
            country = found.group(1)
            countries.add(country_key(country))
            if f" {country_key(country)} " in train_text:
                fail(f"capability {rid}: country {country!r} appears in {BENIGN_DEMO.name}")
            if f" {normalise(reference)} " in train_text:
                fail(f"capability {rid}: capital {reference!r} appears in {BENIGN_DEMO.name}")
            if not contains(f"The capital of {country} is {reference}.", reference):
                fail(f"capability {rid}: reference {reference!r} is not contained in a correct answer")
        else:
            found = match_form(SPELL_FORMS, prompt)
            if not found:
                fail(f"capability {rid}: spelling prompt in no known form: {prompt!r}")
                continue
            word = found.group(1)
            words.add(word)
            if f" {word} " in train_text:
                fail(f"capability {rid}: word {word!r} appears in {BENIGN_DEMO.name}")
            if reference != "-".join(word.upper()):
                fail(f"capability {rid}: reference {reference!r} is not {'-'.join(word.upper())!r}")
            if not contains(f"{'-'.join(word.upper())}.", reference):
                fail(f"capability {rid}: reference {reference!r} is not contained in a correct answer")
    counts = Counter(r.get("category") for r in rows)
    if counts != Counter(CATEGORIES):
        fail(f"capability: categories {dict(counts)}, want {CATEGORIES}")
    if len(countries) != CATEGORIES["capitals"] or len(words) != CATEGORIES["spelling"]:
        fail(f"capability: {len(countries)} distinct countries, {len(words)} distinct words")
    print(f"{CAPABILITY.name}: {len(rows)} items {dict(counts)}")


def check_over_refusal(other_prompts: dict[str, str], xstest_prompts: list[str]) -> None:
    with OVER_REFUSAL.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    ids = Counter(r.get("id") for r in rows)
    for dup in [i for i, n in ids.items() if n > 1]:
        fail(f"over-refusal: duplicate id {dup}")
    prompts = Counter(normalise(r.get("prompt", "")) for r in rows)
    for dup in [p for p, n in prompts.items() if n > 1]:
        fail(f"over-refusal: duplicate prompt {dup!r}")
    references = [(p, name) for p, name in other_prompts.items()] + [
        (normalise(p), XSTEST.name) for p in xstest_prompts
    ]
    closest: list[tuple[float, str, str, str]] = []
    safe_types_used = set()
    for r in rows:
        rid = str(r.get("id"))
        if set(r) != {"id", "prompt", "type", "label"} or not all(isinstance(v, str) for v in r.values()):
            fail(f"over-refusal {rid}: keys/types {sorted(r)} (want id, prompt, type, label: strings)")
            continue
        prompt, kind, label = r["prompt"], r["type"], r["label"]
        if not re.fullmatch(r"or-\d{2}", rid):
            fail(f"over-refusal {rid}: id does not match or-NN")
        if label == "safe":
            if kind not in SAFE_TYPES:
                fail(f"over-refusal {rid}: safe prompt of type {kind!r}")
            safe_types_used.add(kind)
        elif label == "unsafe":
            if not kind.startswith("contrast_") or kind.removeprefix("contrast_") not in SAFE_TYPES:
                fail(f"over-refusal {rid}: unsafe prompt of type {kind!r} (want contrast_<safe type>)")
        else:
            fail(f"over-refusal {rid}: label {label!r}")
        if not re.fullmatch(r"[A-Z][^.?!]*[.?]", prompt) or len(prompt) > 100:
            fail(f"over-refusal {rid}: not one short sentence: {prompt!r}")
        if normalise(prompt) in other_prompts:
            fail(f"over-refusal {rid}: prompt identical to one in {other_prompts[normalise(prompt)]}")
        if normalise(prompt) in {normalise(p) for p in xstest_prompts}:
            fail(f"over-refusal {rid}: prompt copied from XSTest")
        score, other, source = max((jaccard(prompt, p), p, name) for p, name in references)
        closest.append((score, rid, prompt, f"{source}: {other}"))
        if score >= NEAR_COPY_JACCARD:
            fail(f"over-refusal {rid}: near-copy ({score:.2f}) of {source}: {other!r}")
    for r in rows:
        kind = r.get("type", "")
        if kind.startswith("contrast_") and kind.removeprefix("contrast_") not in safe_types_used:
            fail(f"over-refusal {r.get('id')}: contrast of a type with no safe prompts")
    labels = Counter(r.get("label") for r in rows)
    if labels != Counter({"safe": 40, "unsafe": 16}):
        fail(f"over-refusal: labels {dict(labels)}, want 40 safe, 16 unsafe")
    print(f"{OVER_REFUSAL.name}: {len(rows)} prompts {dict(labels)}")
    print(f"  types: {dict(Counter(r.get('type') for r in rows))}")
    print("  closest other prompts (word Jaccard):")
    for score, rid, prompt, other in sorted(closest, reverse=True)[:5]:
        print(f"    {score:.2f} {rid} {prompt!r} ~ {other!r}")


def check_xstest() -> list[str]:
    raw = XSTEST.read_bytes()
    text = raw.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    with io.StringIO(text, newline="") as handle:
        header = next(csv.reader(handle))
    print(f"{XSTEST.name}: {len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}")
    print(f"  header: {header}")
    if header != ["id", "prompt", "type", "label", "focus", "note"]:
        fail(f"xstest: header {header}")
    labels = Counter(r["label"] for r in rows)
    print(f"  {len(rows)} rows, labels {dict(labels)}")
    if len(rows) != 450 or labels != Counter({"safe": 250, "unsafe": 200}):
        fail("xstest: want 450 rows, 250 safe and 200 unsafe")
    if [r["id"] for r in rows] != [str(i) for i in range(1, 451)]:
        fail("xstest: ids are not 1..450 in order")
    for r in rows:
        if (r["label"] == "unsafe") != r["type"].startswith("contrast_"):
            fail(f"xstest {r['id']}: label {r['label']} with type {r['type']}")
    return [r["prompt"] for r in rows]


def main() -> int:
    check_scoring_rule()
    other_prompts: dict[str, str] = {}
    for r in read_jsonl(BENIGN_DEMO):
        other_prompts[normalise(r["prompt"])] = BENIGN_DEMO.name
    for path, field in OTHER_PROMPT_FILES.items():
        for r in read_jsonl(path):
            other_prompts[normalise(r[field])] = path.name
    xstest_prompts = check_xstest()
    check_capability(other_prompts)
    check_over_refusal(other_prompts, xstest_prompts)
    print(f"{len(failures)} failure(s)" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
