"""Numbers in recognised Mandarin, written one way, as a court writes them.

Whisper writes the same spoken amount as 五十万元, 50万元 or 500,000元 as it pleases. The
transcript (笔录) writes each kind of number one way (GB/T 15835-2011, as judgments do):

- amounts of money and measures (元, 美元, 块钱, 平方米, 公斤, 公里, 吨...): Arabic numerals;
  an amount of 万 or 亿 to one decimal keeps that unit (50万元, 1.5万元, 1.2亿元), any other
  is written out with thousands separators (3,000元, 10,500元, 53,210元, 800元);
- percentages: 百分之五 and 5% are both 5%;
- dates: 二〇二四年三月五号 is 2024年3月5日 (a month and a day only as part of a date).

Everything else stays as said: ordinals and words made with numerals (第一, 一审, 一方, 一致,
万一, 千万), approximate numbers (三四万元, 十几万元, 一万多元), counts and durations
(两个孩子, 三次, 有期徒刑三年), and any number this module cannot read exactly.
"""

from __future__ import annotations

import re
from decimal import Decimal

_DIGITS = {
    "零": 0,
    "〇": 0,  # noqa: RUF001
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_SMALL = {"十": 10, "百": 100, "千": 1000}
_BIG = {"万": 10_000, "亿": 100_000_000}
_WAN, _YI = Decimal(10_000), Decimal(100_000_000)

_CN = "零〇一二两三四五六七八九"
_ANY = _CN + "十百千万亿点0-9."
# A number may not continue one before it, nor follow 第 (an ordinal) or 百分之.
_NOT_AFTER = rf"(?<![第{_CN}十百千万亿0-9.,])"
_ARABIC = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_NUMBER = rf"(?:{_ARABIC}(?:[十百千万亿][{_ANY}]*)?|[{_CN}十][{_ANY}]*)"
# Money and measures. 元 that begins another word (一元化, 三元素) is not money; 块 alone is
# money only after a number of at least 10 or in Arabic numerals (一块 is "together").
_UNIT = (
    r"(?:元(?![化论素宵旦月件])|圆|块钱|块|美元|港元|港币|欧元|日元|英镑|平方米|平方公里|"
    r"公斤|千克|公里|吨)"
)
_AMOUNT = re.compile(rf"{_NOT_AFTER}(?P<num>{_NUMBER})(?P<unit>{_UNIT})")
# Not 百分之十几 (about a tenth and more): an approximation stays as said.
_PERCENT = re.compile(rf"百分之(?P<num>[{_CN}十百点0-9.]+)(?![{_ANY}几多余来])")
_YEAR = rf"{_NOT_AFTER}(?P<y>[{_CN}0-9]{{4}})年"
_MD = rf"(?P<m>[{_CN}十0-9]{{1,3}})月(?:(?P<d>[{_CN}十0-9]{{1,3}})(?P<dayword>[日号]))?"
_DATE = re.compile(rf"{_YEAR}(?:{_MD})?")
_MONTH_DAY = re.compile(
    rf"{_NOT_AFTER}(?P<m>[{_CN}十0-9]{{1,3}})月(?P<d>[{_CN}十0-9]{{1,3}})(?P<dayword>[日号])"
)


def normalise_numbers(text: str) -> str:
    """``text`` with its amounts, measures, percentages and dates written the court's way
    (see the module's docstring); anything else unchanged."""
    text = _PERCENT.sub(_percent, text)
    text = _DATE.sub(_date, text)
    text = _MONTH_DAY.sub(_date, text)
    return _AMOUNT.sub(_amount, text)


def parse_number(spoken: str) -> Decimal | None:
    """The value of a number as Whisper writes it: Chinese numerals (五十万零三千, 一万五,
    三点五万, 两千), Arabic (500,000, 3.5) or both (5万3千); None if it is not one exact
    number (三四万, 万, 十几)."""
    if not spoken:
        return None
    if "点" in spoken:
        whole, _, rest = spoken.partition("点")
        frac = rest.rstrip("万亿")
        scale = rest[len(frac) :]
        if not frac or not all(ch in _DIGITS for ch in frac) or len(scale) > 1:
            return None
        head = parse_number(whole) if whole else None
        if head is None:
            return None
        value = head + Decimal("0." + "".join(str(_DIGITS[ch]) for ch in frac))
        return value * _BIG[scale] if scale else value
    total = section = Decimal(0)
    pending: Decimal | None = None
    last_small, last_big, last_unit = 10_000, 10**12, 0
    zero = False
    for token in re.findall(rf"{_ARABIC}|.", spoken):
        if token[0].isdigit():
            if pending is not None:
                return None
            pending = Decimal(token.replace(",", ""))
            zero = False
        elif token in _DIGITS:
            if _DIGITS[token] == 0:
                zero = True
                if pending is not None:
                    return None
                continue
            if pending is not None:
                return None  # 三四: two numbers side by side, an approximation
            pending = Decimal(_DIGITS[token])
        elif token in _SMALL:
            unit = _SMALL[token]
            if unit >= last_small:
                return None
            if pending is None:
                if unit != 10 or section or total:
                    return None
                pending = Decimal(1)  # 十五 is 15
            section += pending * unit
            pending, last_small, last_unit, zero = None, unit, unit, False
        elif token in _BIG:
            unit = _BIG[token]
            if unit >= last_big:
                return None
            section += pending or 0
            if section == 0:
                return None
            total = (total + section) * unit if unit == _YI else total + section * unit
            section, pending, last_big, last_small, last_unit, zero = (
                Decimal(0),
                None,
                unit,
                10_000,
                unit,
                False,
            )
        else:
            return None
    if pending is not None:
        # 一万五 is 15,000 and 三千五 is 3,500: a last digit right after a unit counts in the
        # unit below it (not after 零: 一万零五 is 10,005).
        if last_unit and not zero and pending < 10 and pending == pending.to_integral():
            pending *= Decimal(last_unit) / 10
        section += pending
    return total + section


def format_amount(value: Decimal) -> str:
    """An amount as a court writes it: 50万, 1.5万, 1.2亿, 12,345万, 10,500, 3,000, 800, 12.5."""
    for unit, word in ((_YI, "亿"), (_WAN, "万")):
        if value >= unit:
            scaled = value / unit
            if scaled == scaled.quantize(Decimal("0.1")):
                return _grouped(scaled) + word
    return _grouped(value)


def _grouped(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    whole, dot, frac = text.partition(".")
    return f"{int(whole):,}" + (dot + frac if frac.strip("0") else "")


def _amount(m: re.Match[str]) -> str:
    num, unit = m["num"], m["unit"]
    value = parse_number(num)
    if value is None:
        return m[0]
    if unit == "块" and value < 10 and not num[0].isdigit():
        return m[0]
    return format_amount(value) + unit


def _percent(m: re.Match[str]) -> str:
    num = m["num"]
    value = Decimal(100) if num == "百" else parse_number(num)
    return m[0] if value is None else _grouped(value).replace(",", "") + "%"


def _plain(spoken: str | None, low: int, high: int) -> str | None:
    if spoken is None:
        return None
    value = parse_number(spoken)
    if value is None or value != value.to_integral() or not low <= value <= high:
        return None
    return str(int(value))


def _date(m: re.Match[str]) -> str:
    """A year read digit by digit, then its month and day if they are a real date; whatever
    is not stays as said."""
    year, rest = "", m[0]
    if m.groupdict().get("y") is not None:
        year = "".join(ch if ch.isdigit() else str(_DIGITS[ch]) for ch in m["y"]) + "年"
        rest = m[0][len(m["y"]) + 1 :]
        if m["m"] is None:
            return year
    month = _plain(m["m"], 1, 12)
    if month is None:
        return year + rest
    if m["d"] is None:
        return f"{year}{month}月"
    day = _plain(m["d"], 1, 31)
    if day is None:
        return year + rest
    return f"{year}{month}月{day}日"
