"""A model judge beside the rules (`validator.judge: llm`): does a candidate say exactly
what its original says, and if not, what differs?

The rules read facts as slots and stay the authority on them; the judge reads what no
lexicon lists. How a verdict combines with the rules' decision (`combine`):

- an accepted candidate the judge contradicts is rejected: a positive it calls
  DIFFERENT (`judge_differs`, with what it says differs), a negative it calls SAME
  (`judge_same`);
- a positive the rules reject only for its wording (content words dropped or added,
  similarity under the floor; no negation or number among those words) is accepted
  when the judge calls it SAME;
- every other rejection stands: a changed fact, a copy, meta text, a length far off.

No verdict (the judge's answer did not parse, or said SAME and named a difference)
leaves the rules' decision as it is and is counted (`judge_unparsed` in the scores).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from contrastgen.codec import JsonRecord
from contrastgen.generation import GenParams, Request
from contrastgen.records import Decision

JUDGE_PREFILL = "VERDICT:"
# greedy: the same pair gets the same verdict on every rerun (and from the cache)
JUDGE_PARAMS = GenParams(max_new_tokens=40, do_sample=False)

# The rejections the judge may overrule on a positive: how it is worded, not what it says.
WORDING_CODES = frozenset({"content_dropped", "content_added", "content_repeated", "off_topic"})
# ...unless the words are a negation or a number: the validator reads a dropped "not"
# ("is not tall" -> "is tall") as a content word, and a changed fact is never overruled.
_FACT_LIKE = frozenset(
    "not no never nor none nothing nobody nowhere neither without "
    "one two three four five six seven eight nine ten eleven twelve first second third "
    "half both only almost slightly".split()
) | frozenset(str(n) for n in range(100))

_SYSTEM = (
    "You check rewordings of instructions that guide a drone. Compare a candidate with "
    "its original. SAME: the candidate says exactly what the original says: every "
    "direction, clock position, landmark, color, size, count, order of steps and every "
    "yes / no, however it is worded. DIFFERENT: it changes, adds or drops any of them. "
    "Answer in exactly two lines:\n"
    "VERDICT: SAME or DIFFERENT\n"
    "DIFFERS: what differs, or nothing"
)
_EXAMPLES = (
    (
        "Turn left at the big white house and fly to your 3 o'clock.",
        "At the large white house, go left, then head toward your three o'clock.",
        "SAME\nDIFFERS: nothing",
    ),
    (
        "Yes, go past the two trees; the goal is the red car.",
        "Yes, go past the three trees; the goal is the red car.",
        "DIFFERENT\nDIFFERS: two trees became three trees",
    ),
)


def _question(original: str, candidate: str) -> str:
    return f"Original: {original}\nCandidate: {candidate}"


def judge_request(original: str, candidate: str) -> Request:
    """The judge's prompt for one pair: the rules, two worked turns, the pair; the answer
    pre-filled with its first tag so that even a small model answers in the format."""
    messages: list[dict[str, str]] = [{"role": "system", "content": _SYSTEM}]
    for o, c, answer in _EXAMPLES:
        messages += [
            {"role": "user", "content": _question(o, c)},
            {"role": "assistant", "content": f"{JUDGE_PREFILL} {answer}"},
        ]
    messages.append({"role": "user", "content": _question(original, candidate)})
    return Request(tuple(messages), JUDGE_PREFILL, JUDGE_PARAMS.max_new_tokens, ("\n\n",))


def fingerprint() -> str:
    """Changes when the judge's prompt does: part of its answers' cache key."""
    text = json.dumps([_SYSTEM, _EXAMPLES, JUDGE_PREFILL, JUDGE_PARAMS.to_json()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Verdict(JsonRecord):
    same: bool
    differs: str  # what the judge says differs ("" when same)


_VERDICT = re.compile(r"^\W*(SAME|DIFFERENT)\b", re.IGNORECASE)
_DIFFERS = re.compile(r"^\s*DIFFERS\s*:\s*(.*)$", re.IGNORECASE | re.MULTILINE)
_NOTHING = re.compile(r"^\W*(nothing|none|no differences?)\W*$", re.IGNORECASE)


def parse_verdict(answer: str) -> Verdict | None:
    """The judge's verdict from its answer (the text after the pre-filled "VERDICT:"),
    or None when the answer has no SAME / DIFFERENT first, or says SAME and then names a
    difference: a verdict is never guessed."""
    text = answer.strip()
    if text.upper().startswith(JUDGE_PREFILL):
        text = text[len(JUDGE_PREFILL) :]
    if not (match := _VERDICT.match(text)):
        return None
    same = match.group(1).upper() == "SAME"
    note = _DIFFERS.search(text)
    differs = note.group(1).strip() if note else ""
    if _NOTHING.match(differs):
        differs = ""
    if same and differs:
        return None  # "SAME / DIFFERS: the count": it contradicts itself
    return Verdict(same, differs)


def combine(decision: Decision, kind: str, verdict: Verdict | None) -> Decision:
    """The rules' `decision` (validator.decide) with the judge's verdict, as the module
    docstring says. Returns a new decision; the verdict goes into its scores."""
    if verdict is None:
        return replace(decision, scores={**decision.scores, "judge_unparsed": True})
    out = replace(decision, scores={**decision.scores, "judge": verdict.to_json()})
    if decision.valid:
        if kind == "positive" and not verdict.same:
            return replace(out, valid=False, reasons=[_differs(verdict)])
        if kind == "negative" and verdict.same:
            return replace(out, valid=False, reasons=[{"code": "judge_same"}])
        return out
    codes = set(decision.codes)
    words = {w for r in decision.reasons for w in r.get("words", [])}
    if kind == "positive" and verdict.same and codes <= WORDING_CODES and not words & _FACT_LIKE:
        scores = {**out.scores, "judge_overruled": sorted(codes)}
        return replace(out, valid=True, reasons=[], scores=scores)
    return out


def _differs(verdict: Verdict) -> dict[str, Any]:
    reason: dict[str, Any] = {"code": "judge_differs"}
    if verdict.differs:
        reason["note"] = verdict.differs
    return reason
