"""The undertakings of witnesses and experts: in the person's language, else in both."""

from __future__ import annotations

from hearing_server.core.oath import SWORN_ROLES, oaths_for
from hearing_server.core.participant import Role


def test_a_witness_reads_it_in_their_language() -> None:
    (zh,) = oaths_for(Role.WITNESS, "zh-CN")
    assert zh.title == "证人保证书" and "如实提供证言" in zh.text
    (en,) = oaths_for(Role.WITNESS, "en")
    assert en.language == "en" and "truthful testimony" in en.text


def test_another_or_no_language_gets_chinese_and_english() -> None:
    for language in (None, "fr", ""):
        assert [o.language for o in oaths_for(Role.EXPERT, language)] == ["zh-CN", "en"]
    assert oaths_for(Role.EXPERT, None)[0].title == "鉴定人保证书"


def test_only_witnesses_and_experts_give_one() -> None:
    assert {Role.WITNESS, Role.EXPERT} == SWORN_ROLES
    for role in set(Role) - SWORN_ROLES:
        assert oaths_for(role, "zh-CN") == ()
