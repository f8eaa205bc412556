from __future__ import annotations

from transcription.wer import WER, corpus_wer, normalize, number_words, wer


def test_number_words() -> None:
    assert number_words(0) == "zero"
    assert number_words(10) == "ten"
    assert number_words(42) == "forty two"
    assert number_words(692) == "six hundred ninety two"
    assert number_words(33_004) == "thirty three thousand four"


def test_normalize_case_punctuation_numbers_abbreviations() -> None:
    assert normalize("Mr. John Dashwood, ill-disposed!") == ["mister", "john", "dashwood", "ill",
                                                            "disposed"]
    assert normalize("Go forward 10 meters.") == ["go", "forward", "ten", "meters"]
    assert normalize("It's 1,000 pounds") == ["it's", "one", "thousand", "pounds"]


def test_wer_counts_substitutions_insertions_deletions() -> None:
    assert wer("the cat sat", "the cat sat") == WER(0, 3)
    assert wer("the cat sat", "the bat sat down") == WER(2, 3)
    assert wer("the cat sat", "cat") == WER(2, 3)
    assert wer("", "anything") == WER(1, 0)
    assert wer("", "").rate == 0.0


def test_corpus_wer_pools_words() -> None:
    total = corpus_wer([("a b c d", "a b c d"), ("e f", "e g")])
    assert total == WER(1, 6)
    assert abs(total.rate - 1 / 6) < 1e-9
