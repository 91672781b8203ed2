"""`contrastgen review`: a person labels a seeded sample of a finished run's decided
candidates, and the labels measure the validator on that person's own data.

The sample is stratified by kind and origin (llm, rule, corpus) and uniform within each,
so that precision and recall per kind and origin need no weights; the strata take turns,
so any prefix of the labelling covers all of them. Labels are written in the judged set's
format (judged.LABEL_FIELDS) to a file of the user's, rewritten whole and atomically on
every label, and `validator.judged` in config.yaml names that file for a run's figures.
The web page around this is review_app.py.
"""

from __future__ import annotations

import difflib
import fcntl
import os
import random
import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contrastgen.cache import digest
from contrastgen.errors import UserError
from contrastgen.files import jsonl_lines, write_jsonl
from contrastgen.records import origin_of, record_problem
from contrastgen.validation.judged import KINDS, JudgedPair, label_row, read_labels, score
from contrastgen.validation.reasons import describe_reason

RESULTS = Path("results") / "contrastive.jsonl"
# Words and punctuation are compared; whitespace is kept for display only.
TOKEN = re.compile(r"\s+|\w+(?:'\w+)*|[^\w\s]")


def pair_key(original: str, candidate: str, kind: str) -> str:
    return digest([original, candidate, kind])[:16]


@dataclass(frozen=True)
class ReviewPair:
    """One decided candidate beside its original, as the run decided it."""

    key: str
    record_id: str
    original: str
    candidate: str
    kind: str
    origin: str  # llm | rule | corpus
    accepted: bool
    reasons: tuple[str, ...]  # the validator's reasons against it, in plain words

    def to_json(self) -> dict[str, Any]:
        original, candidate = word_diff(self.original, self.candidate)
        return {
            "key": self.key,
            "record_id": self.record_id,
            "kind": self.kind,
            "origin": self.origin,
            "accepted": self.accepted,
            "reasons": list(self.reasons),
            "original": original,
            "candidate": candidate,
        }


def word_diff(a: str, b: str) -> tuple[list[list[Any]], list[list[Any]]]:
    """Both texts as [text, differs] segments: a word (or punctuation mark) differs when it
    is not part of the longest matching blocks of the two word sequences (case aside)."""
    ta, tb = TOKEN.findall(a), TOKEN.findall(b)
    wa = [i for i, t in enumerate(ta) if not t.isspace()]
    wb = [i for i, t in enumerate(tb) if not t.isspace()]
    matcher = difflib.SequenceMatcher(
        a=[ta[i].lower() for i in wa], b=[tb[i].lower() for i in wb], autojunk=False
    )
    same_a, same_b = set(), set()
    for block in matcher.get_matching_blocks():
        same_a.update(wa[block.a + j] for j in range(block.size))
        same_b.update(wb[block.b + j] for j in range(block.size))
    return _segments(ta, same_a), _segments(tb, same_b)


def _segments(tokens: list[str], same: set[int]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for i, token in enumerate(tokens):
        differs = not (token.isspace() or i in same)
        if out and out[-1][1] == differs:
            out[-1][0] += token
        else:
            out.append([token, differs])
    return out


def run_pairs(run_dir: str | Path) -> list[ReviewPair]:
    """Every decided positive and negative of the run at `run_dir`, once each."""
    path = Path(run_dir) / RESULTS
    if not path.is_file():
        raise UserError(f"{run_dir}: no {RESULTS}: not a finished run (run the workflow first)")
    pairs: dict[str, ReviewPair] = {}
    for where, record, error in jsonl_lines(path, path.read_bytes().split(b"\n")):
        problem = error or record_problem(record)
        if problem:
            raise UserError(f"{where}: {problem} (not a contrastgen output record)")
        for cand in record["candidates"]:
            if cand["kind"] not in KINDS or _is_repeat(cand):
                continue  # an unparsed answer has nothing to label
            key = pair_key(record["instruction"], cand["text"], cand["kind"])
            pairs.setdefault(key, _review_pair(key, record, cand))
    if not pairs:
        raise UserError(f"{path}: no decided candidate to review")
    return list(pairs.values())


def _is_repeat(cand: dict[str, Any]) -> bool:
    """A repeat of an earlier candidate was rejected for being one, which says nothing
    of whether it is faithful: not the validator's judgement to measure."""
    return any(r["code"] == "duplicate" for r in cand["reasons"])


def _review_pair(key: str, record: dict[str, Any], cand: dict[str, Any]) -> ReviewPair:
    return ReviewPair(
        key,
        record["id"],
        record["instruction"],
        cand["text"],
        cand["kind"],
        origin_of(cand),
        cand["valid"],
        tuple(reason_for_reader(r, cand["kind"], cand["valid"]) for r in cand["reasons"]),
    )


def reason_for_reader(reason: dict[str, Any], kind: str, accepted: bool) -> str:
    """A decision's reason for the person labelling: on an accepted negative, the one fact
    it changes; on a rejection, the refine prompt's words (reasons.describe_reason, the
    one place they are written) said of the candidate, without the advice to the model."""
    if accepted and "from" in reason and "to" in reason:
        family = reason["code"].rpartition("_")[0].replace("_", " ")
        shown = [
            f"{v} o'clock" if family == "clock" else repr(v) for v in (reason["from"], reason["to"])
        ]
        return f"the one fact it changes: {family} {shown[0]} -> {shown[1]}"
    said = describe_reason(reason, kind).split("; ")[0]
    return said.replace(f"your {kind}", "the candidate").replace("your answer", "the answer")


def draw_sample(pairs: list[ReviewPair], size: int, seed: int) -> list[ReviewPair]:
    """`size` pairs: uniform within each (kind, origin), the strata taking turns."""
    rng = random.Random(seed)
    strata: dict[tuple[str, str], list[ReviewPair]] = defaultdict(list)
    for pair in sorted(pairs, key=lambda p: p.key):
        strata[(pair.kind, pair.origin)].append(pair)
    for group in strata.values():
        rng.shuffle(group)
    order = sorted(strata)
    rng.shuffle(order)
    out: list[ReviewPair] = []
    while len(out) < size and any(strata.values()):
        for stratum in order:
            if strata[stratum] and len(out) < size:
                out.append(strata[stratum].pop())
    return out


class LabelStore:
    """A labels file, held by one review page at a time (an flock on FILE.lock), read
    once and rewritten whole and atomically on every label. Labels of pairs that are not
    this run's are kept in the file untouched."""

    def __init__(self, path: str | Path, pairs: dict[str, ReviewPair], by: str) -> None:
        self.path = Path(path).resolve()  # one lock file, whichever link names it
        if self.path.is_dir():
            raise UserError(f"{path}: is a directory; name a labels file (.jsonl)")
        self.by = by
        self._lock_fd = _lock(self.path)
        self.labels: dict[str, JudgedPair] = {}
        self.others: list[JudgedPair] = []
        try:
            self._read(pairs)
        except UserError:
            self.close()
            raise

    def _read(self, pairs: dict[str, ReviewPair]) -> None:
        if not self.path.exists():
            return
        for row in read_labels(self.path):
            key = pair_key(row.original, row.candidate, row.kind)
            if key in pairs:
                self.labels[key] = row
            else:
                self.others.append(row)
        if self.others and not self.labels:
            raise UserError(
                f"{self.path}: none of its {len(self.others)} labels is a candidate of this "
                "run: labels of another run? Name a new file with --labels"
            )

    def set(self, pair: ReviewPair, label: bool, note: str) -> None:
        """Write the file with this label first; keep it only once the file has it."""
        origin = f"review {pair.origin}"
        given = JudgedPair(
            pair.original, pair.candidate, pair.kind, label, note, origin, by=self.by
        )
        after = {**self.labels, pair.key: given}
        write_jsonl(self.path, [label_row(p) for p in [*self.others, *after.values()]])
        self.labels = after

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None


def _lock(path: Path) -> int:
    """Hold FILE.lock for as long as the page runs: two pages on one labels file would
    each rewrite it without the other's labels."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UserError(f"{path}: cannot write a labels file here ({exc.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise UserError(
            f"{path}: already open in another review page (pid {holder}); stop that one "
            "first, or name another --labels file"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def validator_figures(
    pairs: dict[str, ReviewPair], labels: dict[str, JudgedPair]
) -> list[dict[str, Any]]:
    """The run's decisions against the labels so far: per kind and origin, precision and
    recall (judged.score) with 95% intervals, as rows."""
    rows = []
    accepted = {id(jp): pairs[key].accepted for key, jp in labels.items()}
    for origin in sorted({pairs[key].origin for key in labels}):
        mine = [jp for key, jp in labels.items() if pairs[key].origin == origin]
        for kind, figures in score(mine, lambda jp: accepted[id(jp)]).items():
            rows.append({"kind": kind, "origin": origin, **figures})
    return rows


class ReviewSession:
    """What the page shows and changes: the sample (with the pairs labelled before, even
    when outside it), the labels file and the figures. One lock serialises labels."""

    def __init__(self, run_dir: str | Path, labels_path: str | Path, size: int, seed: int, by: str):
        self.run_dir = Path(run_dir)
        every = {p.key: p for p in run_pairs(run_dir)}
        self.store = LabelStore(labels_path, every, by)
        sample = draw_sample(list(every.values()), size, seed)
        drawn = {p.key for p in sample}
        self.pairs = {p.key: p for p in sample}
        self.pairs.update((k, every[k]) for k in self.store.labels if k not in drawn)
        self._lock = threading.Lock()

    def state(self) -> dict[str, Any]:
        with self._lock:
            labels = self.store.labels
            return {
                "run": str(self.run_dir),
                "labels_file": str(self.store.path),
                "by": self.store.by,
                "other_labels": len(self.store.others),
                "pairs": [
                    {**p.to_json(), **_label_json(labels.get(k))} for k, p in self.pairs.items()
                ],
                "figures": validator_figures(self.pairs, labels),
            }

    def label(self, key: str, label: bool, note: str) -> dict[str, Any]:
        if key not in self.pairs:
            raise KeyError(key)
        with self._lock:
            self.store.set(self.pairs[key], label, note)
            return {
                "labelled": len(self.store.labels),
                "figures": validator_figures(self.pairs, self.store.labels),
            }

    def close(self) -> None:
        self.store.close()


def _label_json(label: JudgedPair | None) -> dict[str, Any]:
    return (
        {"label": None, "note": ""} if label is None else {"label": label.label, "note": label.note}
    )
