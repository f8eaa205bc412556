"""The undertaking a witness or an expert gives before testifying (证人保证书 / 鉴定人保证书).

Chinese procedure has the witness sign an undertaking to tell the truth, and has it read out
(Civil Procedure Law art. 76; SPC interpretation of the Civil Procedure Law art. 119: the
witness signs the undertaking and reads it aloud in court, except the incapable); an expert
gives the like for an honest opinion. The server shows it to them in their language when the
judge calls them in, and records that they gave it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .participant import Role

#: The languages an undertaking is written in; others are shown the Chinese and the English.
OATH_LANGUAGES = ("zh-CN", "en")

_TEXTS: dict[Role, dict[str, tuple[str, str]]] = {
    Role.WITNESS: {
        "zh-CN": (
            "证人保证书",
            "我保证向法庭如实提供证言，不作伪证，不隐匿证据。"
            "如有虚假陈述，我愿意接受罚款、拘留等处罚；构成犯罪的，依法承担刑事责任。",
        ),
        "en": (
            "Witness undertaking",
            "I undertake to give the court truthful testimony, neither to give false evidence "
            "nor to conceal evidence. Should I make a false statement, I accept a fine, "
            "detention or other sanction, and criminal liability where it is a crime.",
        ),
    },
    Role.EXPERT: {
        "zh-CN": (
            "鉴定人保证书",
            "我保证客观、公正、诚实地进行鉴定，如实向法庭说明鉴定意见。"
            "如作虚假鉴定，我愿意接受罚款、拘留等处罚；构成犯罪的，依法承担刑事责任。",
        ),
        "en": (
            "Expert's undertaking",
            "I undertake to give my expert opinion objectively, impartially and honestly, and "
            "to explain it truthfully to the court. Should I give a false opinion, I accept a "
            "fine, detention or other sanction, and criminal liability where it is a crime.",
        ),
    },
}

#: The roles that give an undertaking before they testify.
SWORN_ROLES = frozenset(_TEXTS)


@dataclass(frozen=True, slots=True)
class Oath:
    """The undertaking in one language."""

    language: str
    title: str
    text: str


def oaths_for(role: Role, language: str | None) -> tuple[Oath, ...]:
    """The undertaking ``role`` gives, in ``language`` if it is written in it (zh-CN or en);
    otherwise in Chinese and English both. Empty for a role that gives none."""
    texts = _TEXTS.get(role)
    if texts is None:
        return ()
    wanted = (language,) if language in texts else OATH_LANGUAGES
    return tuple(Oath(lang, *texts[lang]) for lang in wanted)
