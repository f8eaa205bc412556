"""The name on a transcript line: interpreted speech says whose words it renders."""

from __future__ import annotations

from hearing_server.core.participant import Participant, Role, speaker_name


def test_interpreted_speech_is_marked_by_whose_words_it_renders() -> None:
    zhang = Participant(id="p1", hearing_id="h", role=Role.PARTY, display_name="张三")
    zhou = Participant(
        id="p2", hearing_id="h", role=Role.INTERPRETER, display_name="周翻译", interprets_for="p1"
    )
    assert speaker_name(zhou, zhang) == "周翻译\uff08为张三翻译\uff09"
    assert speaker_name(zhang, None) == "张三"
    assert speaker_name(zhou, None) == "周翻译"  # whom they interpret for is unknown
    other = Participant(id="p3", hearing_id="h", role=Role.PARTY, display_name="李四")
    assert speaker_name(zhou, other) == "周翻译"  # not their principal
