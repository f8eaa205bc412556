"""Speech-to-text engines. Each module imports its library lazily (at model load)."""

from __future__ import annotations

from .faster_whisper import FasterWhisperSettings, FasterWhisperSTT
from .pocketsphinx import PocketSphinxSettings, PocketSphinxSTT

__all__ = ["FasterWhisperSTT", "FasterWhisperSettings", "PocketSphinxSTT", "PocketSphinxSettings"]
