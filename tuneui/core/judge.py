"""The pairwise LLM judge: tuned vs baseline against the reference, asked in both orders.

A judge model tends to prefer whichever answer it reads first. Every example is therefore judged
twice, once with the tuned answer as A and once as B, and the two choices are combined:

- win:  the tuned answer is preferred in at least one order and not beaten in the other;
- loss: the same for the baseline answer;
- tie:  anything else (both orders tie, or each order prefers a different side: position bias).

Win rate = (wins + ties / 2) / examples: a tie is worth half a win, so 0.5 means "no difference".
Its 95 % interval is a seeded bootstrap over the per-example scores 1, 0.5 and 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence

from tuneui.core.evalset import message_text
from tuneui.core.intervals import bootstrap_mean_ci
from tuneui.errors import UsageError

if TYPE_CHECKING:
    from tuneui.core.backend import Backend, ModelRef

Choice = Literal["A", "B", "tie"]
Outcome = Literal["win", "tie", "loss"]
OUTCOME_SCORE = {"win": 1.0, "tie": 0.5, "loss": 0.0}

JUDGE_SYSTEM = (
    "You are a strict, impartial evaluator. You compare two answers to the same request against a "
    "reference answer and a task description. Judge correctness and faithfulness to the reference "
    "first, then following the task's instructions and format. Length and style matter only when the "
    "task says so. Do not let the order of the answers influence you."
)
JUDGE_INSTRUCTION = (
    'Give your reason in one sentence, then end with exactly one line: "Winner: A", "Winner: B" or "Winner: tie".'
)
# Room for the one-sentence reason a person reads in the Evaluate view, and the winner line.
JUDGE_MAX_TOKENS = 96
_CHOICE = re.compile(r"winner\s*[:=\-]?\s*\**\s*(a|b|tie)\b", re.IGNORECASE)


@dataclass(frozen=True)
class JudgeResult:
    """Wins, ties and losses of the tuned model against the baseline, per example and in total."""

    model: str
    outcomes: tuple[Outcome, ...]
    replies: tuple[tuple[str, str], ...]  # the judge's raw text: (tuned as A, tuned as B)
    unparsed: int  # replies naming no winner, counted as ties for that order
    ci95: tuple[float, float]

    @property
    def wins(self) -> int:
        return self.outcomes.count("win")

    @property
    def ties(self) -> int:
        return self.outcomes.count("tie")

    @property
    def losses(self) -> int:
        return self.outcomes.count("loss")

    @property
    def win_rate(self) -> float:
        return (self.wins + self.ties / 2) / len(self.outcomes) if self.outcomes else float("nan")

    def summary(self) -> dict[str, Any]:
        """The `judge` object of `tuneui eval --json` (an exact interface)."""
        return {
            "model": self.model,
            "wins": self.wins,
            "ties": self.ties,
            "losses": self.losses,
            "win_rate": round(self.win_rate, 4),
            "ci95": [round(self.ci95[0], 4), round(self.ci95[1], 4)],
        }


def parse_model_spec(spec: str, what: str = "--judge") -> tuple[str, str]:
    """'backend:model' -> (backend, model); the model part may itself contain colons."""
    backend, sep, model = spec.partition(":")
    if not sep or not backend.strip() or not model.strip():
        raise UsageError(
            f"{what} {spec!r} is not BACKEND:MODEL", "For example openai:gpt-4o-mini or local:/path/to/model."
        )
    return backend.strip(), model.strip()


def judge_conversation(
    task: str, prompt: Sequence[Mapping[str, Any]], reference: str, answer_a: str, answer_b: str
) -> list[dict[str, str]]:
    """The messages asking the judge to pick between A and B for one example."""
    request = "\n".join(f"[{m.get('role', '?')}] {message_text(m)}" for m in prompt)
    body = (
        f"Task description:\n{task.strip() or 'Answer the request as the reference answer does.'}\n\n"
        f"Request:\n{request}\n\n"
        f"Reference answer:\n{reference}\n\n"
        f"Answer A:\n{answer_a}\n\n"
        f"Answer B:\n{answer_b}\n\n"
        f"Which answer is better for this task? {JUDGE_INSTRUCTION}"
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": body}]


def parse_choice(reply: str) -> Choice | None:
    """The winner a judge reply names, or None when it names none."""
    # The last winner line counts: the reason before it may mention either answer.
    matches = _CHOICE.findall(reply)
    word = matches[-1] if matches else reply.strip().strip(".*\"'").strip()
    word = word.lower()
    if word == "a":
        return "A"
    if word == "b":
        return "B"
    if word == "tie":
        return "tie"
    return None


def reason_of(reply: str) -> str:
    """The judge's reason: its reply without the winner line, on one line."""
    without_verdict = _CHOICE.sub("", reply)
    return " ".join(without_verdict.replace("*", " ").split()).strip(" .:-") or ""


def combine(tuned_as_a: Choice | None, tuned_as_b: Choice | None) -> Outcome:
    """One example's outcome from the two orders (see the module docstring)."""
    score = _tuned_points(tuned_as_a, "A") + _tuned_points(tuned_as_b, "B")
    if score > 1:
        return "win"
    if score < 1:
        return "loss"
    return "tie"


def _tuned_points(choice: Choice | None, tuned_position: str) -> float:
    if choice is None or choice == "tie":
        return 0.5
    return 1.0 if choice == tuned_position else 0.0


def run_judge(
    backend: "Backend",
    judge_model: "ModelRef",
    task: str,
    prompts: Sequence[Sequence[Mapping[str, Any]]],
    references: Sequence[str],
    tuned: Sequence[str],
    baseline: Sequence[str],
    *,
    seed: int = 0,
) -> JudgeResult:
    """Ask the judge about every example in both orders (one `generate` call) and tally."""
    from tuneui.core.backend import GenerationParams

    conversations: list[list[dict[str, str]]] = []
    for prompt, reference, mine, theirs in zip(prompts, references, tuned, baseline):
        conversations.append(judge_conversation(task, prompt, reference, mine, theirs))
        conversations.append(judge_conversation(task, prompt, reference, theirs, mine))
    replies = backend.generate(judge_model, conversations, GenerationParams(max_new_tokens=JUDGE_MAX_TOKENS, seed=seed))
    pairs = tuple((replies[i], replies[i + 1]) for i in range(0, len(replies), 2))
    choices = [(parse_choice(a), parse_choice(b)) for a, b in pairs]
    outcomes = tuple(combine(a, b) for a, b in choices)
    unparsed = sum((a is None) + (b is None) for a, b in choices)
    ci95 = bootstrap_mean_ci([OUTCOME_SCORE[o] for o in outcomes], seed=seed)
    return JudgeResult(judge_model.label, outcomes, pairs, unparsed, ci95)
