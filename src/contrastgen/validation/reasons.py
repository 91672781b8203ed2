"""Every reason code the validator and the judge give, with its plain words: the refine
prompt's feedback (stages.generate.feedback_for) and the review page read them here.

A code is either one of `SAID` (one sentence each, filled from the reason's details) or
a fact family's `<family>_changed | _dropped | _added` (`clock_changed`, `arrival_added`),
worded from the family and its values. `is_known` tells a code of this registry from one
the validator does not give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contrastgen.language import dialogue, spatial

Reason = dict[str, Any]


def _words(reason: Reason) -> str:
    return ", ".join(f"'{w}'" for w in reason.get("words", [])[:4])


def _judge_differs(reason: Reason, kind: str) -> str:
    note = f" ({reason['note']})" if reason.get("note") else ""
    return f"a reviewer found your positive says something else{note}; keep every fact"


# code -> (reason, candidate kind) -> the sentence the next round's prompt shows
SAID: dict[str, Callable[[Reason, str], str]] = {
    "identical": lambda r, k: f"your {k} was a copy of the instruction; use other words",
    "meta_text": lambda r, k: f"your {k} talked about the task; write only the instruction",
    "duplicate": lambda r, k: f"your {k} repeated an earlier one; write a new one",
    "unparseable": lambda r, k: "your answer had no tagged line; start each line with its tag",
    "word_doubled": lambda r, k: f"your {k} wrote a word twice in a row; write it once",
    "few_shot_copy": lambda r, k: f"your {k} copied an example; use only this instruction's words",
    "length_mismatch": lambda r, k: f"your {k} was much longer or shorter; keep the length",
    "off_topic": lambda r, k: (
        f"your {k} was not about the same route; stay close to the instruction"
    ),
    "order_changed": lambda r, k: f"your {k} changed the order of the steps; keep their order",
    "binding_changed": lambda r, k: (
        f"your {k} gave '{r.get('value')}' to another landmark; keep it on the {r.get('from')}"
    ),
    # positives
    "content_dropped": lambda r, k: (
        f"your positive left out {_words(r)}; keep every word's meaning"
    ),
    "content_added": lambda r, k: (
        f"your positive added {_words(r)}; say nothing the instruction does not"
    ),
    "content_repeated": lambda r, k: f"your positive said {_words(r)} twice; say it once",
    "trivial_edit": lambda r, k: "your positive was almost a copy; reword it",
    # negatives
    "several_changes": lambda r, k: "your negative changed more than one thing; change exactly one",
    "content_changed": lambda r, k: "your negative changed other words too; change only one fact",
    "not_a_contrast": lambda r, k: (
        "your negative named the same place by its kind; change the landmark"
    ),
    "too_similar": lambda r, k: "your negative was nearly a copy; change one fact",
    "too_different": lambda r, k: "your negative changed too much; change exactly one fact",
    "self_contradiction": lambda r, k: (
        "your negative's yes / no contradicts the rest; change one fact"
    ),
    "no_spatial_change": lambda r, k: (
        "your negative changed nothing spatial; change a direction, a clock position, "
        "a color or a landmark"
    ),
    "only_dropped": lambda r, k: (
        "your negative only left something out; replace one direction, clock position, "
        "color or landmark with a different one instead"
    ),
    # validator.judge: llm
    "judge_differs": _judge_differs,
    "judge_same": lambda r, k: "a reviewer found your negative says the same; change one fact",
}
# Families whose codes are `<family>_changed | _dropped | _added`: the spatial ones, the
# dialogue acts, a goal and an attribute moved from one landmark to another.
FACT_FAMILIES = (*spatial.FAMILIES, *dialogue.ACTS, "goal", "attribute")
_LABELS = {"clock": "clock position", "cardinal": "compass direction"}


def is_known(code: str) -> bool:
    return code in SAID or _fact_code(code) is not None


def _fact_code(code: str) -> tuple[str, str] | None:
    """(family, what happened) of a fact family's code, else None."""
    family, _, what = code.rpartition("_")
    if family in FACT_FAMILIES and what in ("changed", "dropped", "added"):
        return family, what
    return None


def describe_reason(reason: Reason, kind: str) -> str:
    """One validator reason in plain words, for the next round's prompt. A negative's
    fact codes and codes outside the registry are named, not worded."""
    code = reason["code"]
    if code in SAID:
        return SAID[code](reason, kind)
    fact = _fact_code(code)
    if fact is None or kind != "positive":
        return f"your {kind} was rejected ({code})"
    family, what = fact
    if family in dialogue.ACTS:
        value = reason.get("value") or reason.get("from")
        what_to_do = {"dropped": "keep it", "added": "do not add it"}.get(what, "keep it")
        return f"your positive changed the answer's {family} ('{value}'); {what_to_do}"
    return _fact_in_words(reason, family, what)


def _fact_in_words(reason: Reason, family: str, what: str) -> str:
    label = _LABELS.get(family, family)

    def show(value: Any) -> str:
        return f"{value} o'clock" if family == "clock" else str(value)

    if what == "changed" and "from" in reason:
        return (
            f"your positive changed {show(reason['from'])} to {show(reason['to'])}; "
            f"keep {show(reason['from'])}"
        )
    if what == "dropped" and "value" in reason:
        return f"your positive left out the {label} '{show(reason['value'])}'; keep it"
    if what == "added" and "value" in reason:
        return f"your positive added the {label} '{show(reason['value'])}'; do not add facts"
    return f"your positive was rejected ({reason['code']})"
