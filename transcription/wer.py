"""Word error rate, with the text normalisation speech benchmarks use (case, punctuation,
hyphens, numerals as words, common abbreviations)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "ok": "okay"}


def number_words(n: int) -> str:
    """Cardinal English words for 0 <= n < 10**9."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    for size, word in ((10**6, "million"), (1000, "thousand")):
        if n >= size:
            high, rest = divmod(n, size)
            return number_words(high) + " " + word + ("" if rest == 0 else " " + number_words(rest))
    raise ValueError(n)  # pragma: no cover


def normalize(text: str) -> list[str]:
    """Lower case words without punctuation; numerals and abbreviations spelled out."""
    text = text.lower().replace("-", " ").replace("\u2019", "'")
    text = re.sub(r"(\d),(\d{3})", r"\1\2", text)
    text = re.sub(r"[^\w\s']", " ", text)
    words: list[str] = []
    for w in text.split():
        w = w.strip("'")
        if not w:
            continue
        if w.isdigit() and len(w) <= 9:
            words.extend(number_words(int(w)).split())
        else:
            words.append(_ABBREVIATIONS.get(w, w))
    return words


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


@dataclass(frozen=True, slots=True)
class WER:
    errors: int
    words: int

    @property
    def rate(self) -> float:
        return self.errors / self.words if self.words else 0.0

    def __add__(self, other: WER) -> WER:
        return WER(self.errors + other.errors, self.words + other.words)


def wer(reference: str, hypothesis: str) -> WER:
    ref, hyp = normalize(reference), normalize(hypothesis)
    return WER(edit_distance(ref, hyp), len(ref))


def corpus_wer(pairs: Iterable[tuple[str, str]]) -> WER:
    """Errors over all pairs / reference words over all pairs."""
    total = WER(0, 0)
    for ref, hyp in pairs:
        total = total + wer(ref, hyp)
    return total
