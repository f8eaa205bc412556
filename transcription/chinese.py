"""Chinese text for captions and the transcript (笔录).

Whisper writes Mandarin in Traditional or Simplified characters as it pleases, with ASCII
punctuation or none. A court writes Simplified characters with Chinese (full-width)
punctuation, so every recognised Chinese text goes through :meth:`ChineseText.normalise`:
OpenCC's ``t2s`` conversion (the safety net behind the Simplified prompt), full-width
punctuation, no spaces between Chinese characters, and numbers written one way
(:mod:`.chinese_numbers`: 50万元, 3,000元, 5%, 2024年3月5日).

:func:`court_prompt` builds the initial prompt that steers Whisper: a Simplified sentence
(without one, Whisper base writes Traditional characters and no punctuation), the court's
vocabulary and the parties' names, so that 审判长, 原告 and 张某某 come out as the court writes
them. :func:`cer` is the character error rate the benchmarks and tests report.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from .chinese_numbers import normalise_numbers
from .wer import WER, edit_distance

HEARING_LANGUAGES = ("zh-CN", "en", "auto")
"""A hearing's language setting: Mandarin, English, or detected per utterance."""

DEFAULT_HEARING_LANGUAGE = "zh-CN"

COURT_VOCABULARY = ("审判长", "审判员", "书记员", "原告", "被告", "诉讼请求", "调解", "举证",
                    "质证")
"""Words of every hearing that Whisper base otherwise mishears (诉讼 as 素颂, 调解 as 条件)."""

MAX_PROMPT_CHARS = 120
"""Whisper keeps at most 223 prompt tokens and a Chinese character costs one to three; past
this the names at the end would be cut off by the model instead of by us."""

_ASCII_TO_FULL = {",": "，", "?": "？", "!": "！", ":": "：", ";": "；", "(": "（", ")": "）"}


def engine_language(hearing_language: str | None) -> str | None:
    """The engine's language code for a hearing language setting ("auto": None, detect)."""
    if hearing_language is None or hearing_language == "auto":
        return None
    if hearing_language.lower().startswith("zh"):
        return "zh"
    return hearing_language.split("-")[0].lower()


def is_chinese(language: str | None) -> bool:
    return bool(language) and str(language).lower().startswith("zh")


def court_prompt(names: Iterable[str] = (), *, court: str = "") -> str:
    """Whisper's initial prompt for a Mandarin hearing: Simplified, punctuated, the court's
    vocabulary and the names of the people in it (as many as fit)."""
    head = "以下是普通话的庭审笔录，使用简体中文。"
    if court:
        head += f"{court}开庭审理。"
    text = head + "、".join(COURT_VOCABULARY) + "。"
    kept: list[str] = []
    for name in names:
        name = " ".join(name.split())
        if not name or name in kept:
            continue
        candidate = text + "、".join([*kept, name]) + "。"
        if len(candidate) > MAX_PROMPT_CHARS:
            break
        kept.append(name)
    return text + ("、".join(kept) + "。" if kept else "")


class ChineseText:
    """Normalises recognised Chinese text. Holds the OpenCC converter (loaded on first use,
    once per engine: its dictionaries take ~50 ms to read)."""

    def __init__(self) -> None:
        self._t2s: Any = None

    def simplified(self, text: str) -> str:
        """``text`` in Simplified characters (OpenCC t2s)."""
        if self._t2s is None:
            import opencc  # type: ignore[import-not-found,unused-ignore]

            self._t2s = opencc.OpenCC("t2s")
        return str(self._t2s.convert(text))

    def normalise(self, text: str) -> str:
        """Simplified characters, Chinese punctuation, no spaces between Chinese characters,
        amounts, percentages and dates written one way (:mod:`.chinese_numbers`)."""
        text = self.simplified(unicodedata.normalize("NFKC", text).strip())
        out: list[str] = []
        for i, ch in enumerate(text):
            before = text[i - 1] if i else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            if ch in _ASCII_TO_FULL and (_cjk(before) or _cjk(after) or ch in "()"):
                ch = _ASCII_TO_FULL[ch]
            elif ch == "." and _cjk(before) and not after.isdigit():
                ch = "。"
            elif ch == " " and (_cjk(before) or _cjk(after) or before in "，。？！：；"):
                continue  # Chinese is written without spaces; a pause becomes nothing
            out.append(ch)
        return normalise_numbers("".join(out))


def _cjk(ch: str) -> bool:
    return bool(ch) and ("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf")


_NOT_COUNTED = re.compile(r"[\s\W_]+", re.UNICODE)


def cer_chars(text: str, converter: ChineseText) -> list[str]:
    """The characters a CER counts: Simplified, numbers written one way (a reference's 五十万元
    and a result's 50万元 are the same words), without punctuation or spaces."""
    text = converter.simplified(unicodedata.normalize("NFKC", text))
    return list(_NOT_COUNTED.sub("", normalise_numbers(text)))


def cer(reference: str, hypothesis: str, converter: ChineseText | None = None) -> WER:
    """Character errors (edit distance) over reference characters, punctuation removed,
    both sides converted to Simplified."""
    c = converter or ChineseText()
    ref, hyp = cer_chars(reference, c), cer_chars(hypothesis, c)
    return WER(edit_distance(ref, hyp), len(ref))
