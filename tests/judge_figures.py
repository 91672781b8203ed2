"""The model judge (`validator.judge: llm`) on the two judged sets, beside the rules alone.

    .venv/bin/python tests/judge_figures.py [--model DIR] [--splits tune,dev] [--out FILE]

The judge runs on the transformers backend (greedy, true batching) with `--model`
(default: the embedded SmolLM2-135M-Instruct). Figures per set and split:
- the judge alone on positives: SAME for faithful ones, DIFFERENT for changed ones;
- rules alone and rules + judge (judge.combine): per kind, faithful candidates accepted
  and changed ones rejected, as tests/judged_figures.py prints them;
- answers that did not parse.
The judge's prompt was written before any of these figures were seen, and is not tuned
on them. The blind held-out split is read only when named (`--splits heldout`;
docs/judged-set.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from config_defaults import THRESHOLDS  # noqa: E402
from judged_figures import SETS, line  # noqa: E402

from contrastgen import go_offline  # noqa: E402
from contrastgen.generation import GenParams  # noqa: E402
from contrastgen.validation import judged  # noqa: E402
from contrastgen.validation.judge import combine, judge_request, parse_verdict  # noqa: E402
from contrastgen.validation.validator import Embedder, decide, embedded_validator_path  # noqa: E402


def model_judge(model: str):
    """The judge's answers from `model` (transformers, bucketed, greedy)."""
    from contrastgen.backends.transformers_backend import Engine, TransformersBackend

    backend = TransformersBackend(Engine(model, device="cpu", threads=2), "bucketed", 32, 16384)
    params = GenParams(max_new_tokens=40, do_sample=False)

    def answers(pairs) -> list[str]:
        requests = [judge_request(p.original, p.candidate) for p in pairs]
        return [g[0].text for g in backend.generate(requests, params)[0]]

    return answers


def saved_answers(paths: list[Path]):
    """The answers of earlier runs (--out files), by pair: to read them again after the
    parser or the combination changed, without the model."""
    saved = {}
    for path in paths:
        for text in path.read_text().splitlines():
            row = json.loads(text)
            saved[(row["original"], row["candidate"])] = row["answer"]
    return lambda pairs: [saved[(p.original, p.candidate)] for p in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "resources/models/SmolLM2-135M-Instruct"))
    parser.add_argument("--splits", default="tune,dev", help="comma-separated: tune,dev,heldout")
    parser.add_argument("--out", type=Path, help="write every pair's verdicts here (JSONL)")
    parser.add_argument(
        "--answers", type=Path, nargs="+", help="read the judge's answers from earlier --out files"
    )
    args = parser.parse_args()
    go_offline()
    embedder = Embedder(embedded_validator_path(), batch_size=32, threads=2)
    judge = saved_answers(args.answers) if args.answers else model_judge(args.model)
    splits = tuple(args.splits.split(","))
    rows = []
    for name, path in SETS.items():
        pairs = [p for p in judged.load(path) if p.split in splits]
        sims = embedder.similarities([(p.original, p.candidate) for p in pairs])
        started = time.monotonic()
        answers = judge(pairs)
        seconds = time.monotonic() - started
        rules, both, verdicts = {}, {}, {}
        for p, sim, answer in zip(pairs, sims, answers, strict=True):
            verdict = verdicts[id(p)] = parse_verdict(answer)
            rules[id(p)] = decide(p.original, p.candidate, p.kind, sim, THRESHOLDS)
            both[id(p)] = combine(rules[id(p)], p.kind, verdict)
            rows.append(
                {
                    **{"set": name, "split": p.split, "kind": p.kind, "label": p.label},
                    **{"original": p.original, "candidate": p.candidate, "answer": answer},
                    **{"rules": rules[id(p)].valid, "combined": both[id(p)].valid},
                }
            )
        unparsed = sum(v is None for v in verdicts.values())
        print(f"{name}: {len(pairs)} pairs judged in {seconds:.0f} s, {unparsed} unparsed")
        for split in splits:
            part = [p for p in pairs if p.split == split]
            if not part:
                continue
            positives = [p for p in part if p.kind == "positive"]
            said = [p for p in positives if verdicts[id(p)] is not None]
            agree = sum(verdicts[id(p)].same == p.label for p in said)
            print(f"  judge alone, {split}: positives right {agree} of the {len(said)} with a "
                  f"verdict ({len(positives)} positives)")  # fmt: skip
            print("  rules       " + line(name, split, part, rules))
            print("  rules+judge " + line(name, split, part, both))
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
