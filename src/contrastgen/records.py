"""What flows between the stages: one type per record kind, with its JSON form.

    corpus -> ingest --IngestItem--> mine --MinedNegatives--> generate/refine
           --RoundCandidates--> validate --ItemState--> (next round ...) --> merge
           --OutputRecord--> results/contrastive.jsonl (workflow/schemas/record.schema.yaml)

Each stage reads the previous stage's JSONL with `from_json` and writes its own with
`to_json`; the JSON keys are the files' format, the fields are what the code uses.
`tests/unit/test_records.py` keeps these types and the record schema equal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from contrastgen import codec
from contrastgen.settings import Settings

KINDS = ("positive", "negative")
UNPARSED = "unparsed"  # the kind of an answer from which no candidate could be read
ORIGINS = ("llm", "rule", "corpus")  # what made a candidate: its `origin`
# The output record's schema (workflow/schemas/record.schema.yaml). 2: a candidate's maker
# is `origin`; schema 1 called it `source`, the word a record uses for its file:line.
# Readers of this package read both.
SCHEMA_VERSION = 2
STATUSES = ("complete", "partial", "failed")


def origin_of(candidate: dict[str, Any]) -> str:
    """A candidate's `origin` (llm | rule | corpus), also from a schema-1 file (`source`)."""
    return candidate.get("origin", candidate.get("source", "llm"))


def upgraded(candidate: dict[str, Any]) -> dict[str, Any]:
    """A candidate's JSON as this schema has it: `origin`, also from a schema-1 file."""
    return {**candidate, "origin": origin_of(candidate)}


def with_member_texts(data: dict[str, Any]) -> dict[str, Any]:
    """An item's JSON whose members each carry their instruction (files written before
    each member had its own carry only the item's)."""
    text = data["instruction"]
    return {**data, "members": [{"instruction": text, **m} for m in data["members"]]}


@dataclass
class Member(codec.JsonRecord):
    """One corpus record of an item: its id, where it came from (file:line), the fields
    that pass through to the output, and its own normalised instruction."""

    id: str
    source: str
    extra: dict[str, Any]
    instruction: str


@dataclass
class IngestItem(codec.JsonRecord):
    """One unique normalised instruction and every corpus id that carries it (an ingest
    shard's line)."""

    item: str
    instruction: str
    members: list[Member]

    json_upgrade = staticmethod(with_member_texts)


@dataclass
class Rejected(codec.JsonRecord):
    """A corpus record ingest could not use (results/rejected.jsonl)."""

    id: Any
    source: str
    reason: str
    instruction: Any


@dataclass
class Proposal(codec.JsonRecord):
    """A candidate before it is judged: the LLM's line, a rule edit of the original
    (`edit` names it) or another corpus instruction (`donor` is its item)."""

    text: str
    kind: str
    origin: str = "llm"
    edit: str | None = field(default=None, metadata=codec.OMIT_NONE)
    donor: str | None = field(default=None, metadata=codec.OMIT_NONE)
    # the model judge's raw answer (validator.judge: llm), read by the validate stage
    judge_answer: str | None = field(default=None, metadata=codec.OMIT_NONE)

    json_upgrade = staticmethod(upgraded)


@dataclass
class MinedNegatives(codec.JsonRecord):
    """Round 0's corpus-mined negatives of one item (results/mined/<shard>.jsonl)."""

    item: str
    candidates: list[Proposal]


def mined_by_item(records) -> dict[str, list[Proposal]]:
    """item -> its mined negatives, from a results/mined/<shard>.jsonl."""
    return {m.item: m.candidates for m in map(MinedNegatives.from_json, records)}


@dataclass
class RoundCandidates(codec.JsonRecord):
    """What one round proposed for one item (results/generate, results/refine): the
    LLM's parsed lines and round 0's other sources, the answers nothing could be read
    from, and what asking cost."""

    item: str
    round: int
    candidates: list[Proposal]
    unparsed: list[str] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)
    asked_llm: bool = True
    cached: bool = False  # answered from the per-item cache
    written_at: float = 0.0  # epoch seconds: which run wrote it
    cut_lines: int = 0  # last lines dropped because the answer hit its token budget
    new_tokens: int = 0


@dataclass(frozen=True)
class Decision:
    """The validator's verdict on one candidate (validation.validator.decide; the model
    judge may overrule it, validation.judge.combine). `reasons` are `{"code": ...}` dicts
    with the details of each rejection (validation.reasons says each in plain words); a
    valid negative's `reasons` are the fact changes that make it one."""

    valid: bool
    reasons: list[dict[str, Any]]
    scores: dict[str, Any]
    features: dict[str, Any]  # the candidate's spatial facts

    @property
    def codes(self) -> list[str]:
        return [r["code"] for r in self.reasons]


@dataclass
class Candidate(codec.JsonRecord):
    """A judged candidate: the proposal, the round it came in, and the decision."""

    text: str
    kind: str  # positive | negative | unparsed
    round: int
    origin: str
    edit: str | None = field(default=None, metadata=codec.OMIT_NONE)
    donor: str | None = field(default=None, metadata=codec.OMIT_NONE)
    # the Decision's fields, flat in the JSON as the record schema has them
    valid: bool = False
    reasons: list[dict[str, Any]] = field(default_factory=list)
    scores: dict[str, Any] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)

    json_upgrade = staticmethod(upgraded)

    @classmethod
    def proposed(cls, proposal: Proposal, round_: int) -> Candidate:
        return cls(
            proposal.text,
            proposal.kind,
            round_,
            proposal.origin,
            edit=proposal.edit,
            donor=proposal.donor,
        )

    @classmethod
    def unparsed(cls, answer: str, round_: int) -> Candidate:
        """An LLM answer from which no candidate line could be read."""
        return cls(answer, UNPARSED, round_, "llm", reasons=[{"code": "unparseable"}])

    def decided(self, decision: Decision) -> None:
        self.valid = decision.valid
        self.reasons = decision.reasons
        self.scores = decision.scores
        self.features = decision.features


@dataclass
class ItemState(codec.JsonRecord):
    """An item after a round of validation (results/validate/round<r>/<shard>.jsonl):
    what it has, every candidate so far, and how far it got."""

    item: str
    instruction: str
    members: list[Member]
    features: dict[str, Any]  # spatial.Features.to_json() of the instruction
    positives: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    rounds: int = 0
    completed_round: int | None = None
    status: str = "failed"

    json_upgrade = staticmethod(with_member_texts)

    @classmethod
    def start(cls, item: IngestItem, features: dict[str, Any]) -> ItemState:
        """An ingested item before round 0, with its instruction's spatial `features`."""
        return cls(item.item, item.instruction, item.members, features)


@dataclass
class OutputRecord:
    """One line of results/contrastive.jsonl: a corpus id with its item's result, and
    the corpus record's other fields passed through."""

    id: str
    instruction: str
    positives: list[str]
    negatives: list[str]
    status: str
    rounds: int
    source: str  # corpus file:line
    candidates: list[Candidate]
    made_by: dict[str, Any]  # made_by(): the models and thresholds that decided it
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, member: Member, state: ItemState, made: dict[str, Any]) -> OutputRecord:
        return cls(
            member.id,
            member.instruction,
            state.positives,
            state.negatives,
            state.status,
            state.rounds,
            member.source,
            state.candidates,
            made,
            member.extra,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutputRecord:
        fields = ("id", "instruction", "positives", "negatives", "status", "rounds", "source")
        own = (*fields, "candidates", "made_by", "schema_version")
        version = data.get("schema_version", 1)
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"record {data['id']!r} has schema_version {version}: written by a newer "
                f"contrastgen (this one reads up to {SCHEMA_VERSION})"
            )
        extra = {k: v for k, v in data.items() if k not in own}
        return codec.from_json(cls, {**data, "extra": extra})

    def to_json(self) -> dict[str, Any]:
        own = codec.to_json(self)
        # the corpus record's own fields first, as they came; ours after
        return {**own.pop("extra"), "schema_version": SCHEMA_VERSION, **own}


def made_by_names(settings: Settings) -> dict[str, Any]:
    """made_by's arguments for a run's settings: readable model names, no machine paths
    (a rule's params, so that a new model or threshold rebuilds the records)."""
    from pathlib import Path

    generator = settings.generator
    validator = settings.validator
    return {
        "generator_model": generator.server.model
        if generator.uses_server
        else Path(generator.model).name,
        "backend": generator.backend,
        "validator_model": "all-MiniLM-L6-v2 (embedded)"
        if validator.model == "embedded"
        else Path(validator.model).name,
        "thresholds": asdict(validator.thresholds),
        "judge": validator.judge,
    }


def made_by(
    generator_model: str,
    backend: str,
    validator_model: str,
    thresholds: dict[str, Any],
    judge: str = "none",
) -> dict[str, Any]:
    """What decided a run's records, readable and as a short hash, so that two runs'
    data can be told apart: the generator model and backend, the validator model, its
    thresholds and its model judge (named only when there is one, so that runs without
    keep their hash). On every output record, in stats.json and in the dataset card."""
    from contrastgen.cache import digest

    validator = {"model": validator_model, "thresholds": dict(sorted(thresholds.items()))}
    if judge != "none":
        validator["judge"] = judge
    settings = {"generator": {"model": generator_model, "backend": backend}, "validator": validator}
    return {**settings, "hash": digest(settings)[:12]}


RECORD_FIELDS = {"id": str, "instruction": str, "status": str, "rounds": int, "candidates": list}
CANDIDATE_FIELDS = {"text": str, "kind": str, "round": int, "valid": bool, "reasons": list}


def record_problem(record: Any) -> str | None:
    """What keeps `record` from being one of results/contrastive.jsonl's, or None."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    for fields, obj, what in [(RECORD_FIELDS, record, "")] + [
        (CANDIDATE_FIELDS, c, "candidate ") for c in record.get("candidates") or []
    ]:
        if not isinstance(obj, dict):
            return f"a {what}that is not an object"
        for key, kind in fields.items():
            if not isinstance(obj.get(key), kind):
                return f"{what}field {key!r} missing or not a {kind.__name__}"
    return None
