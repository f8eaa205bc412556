"""Numbers in recognised Mandarin written one way, as a court writes them: amounts and
measures in Arabic numerals (50万元, 3,000元), percentages (5%), dates (2024年3月5日);
ordinals, words made with numerals, approximations, counts and durations left as said."""

from __future__ import annotations

from decimal import Decimal

import pytest

from transcription.chinese import ChineseText, cer
from transcription.chinese_numbers import format_amount, normalise_numbers, parse_number


@pytest.mark.parametrize(
    ("spoken", "value"),
    [
        ("五", 5),
        ("十", 10),
        ("十五", 15),
        ("二十", 20),
        ("一百零三", 103),
        ("两千", 2000),
        ("三千五", 3500),
        ("一万五", 15000),
        ("一万零五", 10005),
        ("五十万零三千", 503000),
        ("一亿两千万", 120_000_000),
        ("三点五", Decimal("3.5")),
        ("三点五万", 35000),
        ("零", 0),
        ("500,000", 500000),
        ("3.5", Decimal("3.5")),
        ("5万3千", 53000),
        ("1.5万", 15000),
        ("两万", 20000),
        ("一千二百三十四点五", Decimal("1234.5")),
    ],
)
def test_numbers_are_read_as_whisper_writes_them(spoken: str, value: int | Decimal) -> None:
    assert parse_number(spoken) == Decimal(value)


@pytest.mark.parametrize(
    "spoken", ["", "三四", "万", "十几", "五百三千", "万万", "三点", "点五", "一百千", "5,00"]
)
def test_what_is_not_one_exact_number_is_not_read(spoken: str) -> None:
    assert parse_number(spoken) is None


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (500000, "50万"),
        (15000, "1.5万"),
        (120_000_000, "1.2亿"),
        (10500, "10,500"),
        (53210, "53,210"),
        (3000, "3,000"),
        (800, "800"),
        (Decimal("12.5"), "12.5"),
        (123_450_000, "12,345万"),
        (10000, "1万"),
        (Decimal("1234.50"), "1,234.5"),
    ],
)
def test_amounts_are_written_one_way(value: int | Decimal, written: str) -> None:
    assert format_amount(Decimal(value)) == written


@pytest.mark.parametrize(
    ("recognised", "court"),
    [
        # The same amount, however Whisper wrote it
        ("五十万元", "50万元"),
        ("50万元", "50万元"),
        ("500,000元", "50万元"),
        ("500000元", "50万元"),
        ("三千元", "3,000元"),
        ("3000元", "3,000元"),
        ("3,000元", "3,000元"),
        ("一万五千元", "1.5万元"),
        ("一万五元", "1.5万元"),
        ("1.5万元", "1.5万元"),
        ("三点五万元", "3.5万元"),
        ("五万三千二百一十元", "53,210元"),
        ("一万零五百元", "10,500元"),
        ("一亿两千万元", "1.2亿元"),
        ("123456元", "123,456元"),
        ("八百元", "800元"),
        ("一千二百三十四点五元", "1,234.5元"),
        # In a sentence, with other currencies and words for money
        ("原告请求被告返还借款五十万元及利息。", "原告请求被告返还借款50万元及利息。"),
        ("人民币三万元整", "人民币3万元整"),
        ("两万块钱", "2万块钱"),
        ("五百块", "500块"),
        ("十万美元", "10万美元"),
        ("三千港元", "3,000港元"),
        # Measures
        ("三百平方米", "300平方米"),
        ("五千克", "5千克"),
        ("两吨", "2吨"),
        ("十五公里", "15公里"),
        # Percentages
        ("百分之五", "5%"),
        ("百分之五点五", "5.5%"),
        ("百分之百", "100%"),
        ("年利率百分之二十四", "年利率24%"),
        ("利息按3.5%计算", "利息按3.5%计算"),
        # Dates
        ("二〇二四年三月五日", "2024年3月5日"),
        ("二零二四年三月五号", "2024年3月5日"),
        ("二零二四年十二月三十一日", "2024年12月31日"),
        ("2024年3月5号", "2024年3月5日"),
        ("二〇二四年三月", "2024年3月"),
        ("二〇二四年", "2024年"),
        ("三月五日", "3月5日"),
        ("十月一号开庭", "10月1日开庭"),
        ("借款于二零二三年六月十日到期", "借款于2023年6月10日到期"),
    ],
)
def test_amounts_measures_percentages_and_dates_are_written_as_a_court_does(
    recognised: str, court: str
) -> None:
    assert normalise_numbers(recognised) == court


@pytest.mark.parametrize(
    "said",
    [
        # Ordinals and words made with numerals
        "一审",
        "二审判决",
        "第一",
        "第三次",
        "一方",
        "双方一致同意",
        "万一",
        "千万不要",
        "一起",
        "一元化",
        "三元素",
        "一块去",
        "两块",
        "统一",
        "唯一",
        # Approximations
        "三四万元",
        "十几万元",
        "一万多元",
        "二三十万元",
        "百分之十几",
        "5万多元",
        # Counts and durations
        "两个孩子",
        "三次",
        "有期徒刑三年",
        "六个月内",
        "五号楼",
        # Not a date, not an amount
        "十三月五日",
        "二月三十二日",
        "(2026)京0105民初12345号",
        "13800138000",
        "五十万",
    ],
)
def test_what_is_not_an_amount_measure_percentage_or_date_stays_as_said(said: str) -> None:
    assert normalise_numbers(said) == said


def test_writing_twice_changes_nothing() -> None:
    for text in ("50万元", "3,000元", "2024年3月5日", "5%", "10,500元", "1.2亿元"):
        assert normalise_numbers(normalise_numbers(text)) == normalise_numbers(text)


def test_every_recognised_chinese_text_gets_the_numbers_written_one_way() -> None:
    # ChineseText.normalise is what the engine applies to every Mandarin result, live and in
    # the final pass, so captions and transcript read the same.
    c = ChineseText()
    assert (
        c.normalise("被告應於二〇二四年三月五號前支付五十萬元")
        == "被告应于2024年3月5日前支付50万元"
    )
    assert c.normalise("利息 百分之六, 共 500,000 元") == "利息6%，共50万元"


def test_the_character_error_rate_reads_numbers_written_either_way_as_the_same() -> None:
    assert cer("被告支付五十万元", "被告支付50万元").errors == 0
    assert cer("二〇二四年三月五日开庭", "2024年3月5号开庭").errors == 0
    assert cer("被告支付五十万元", "被告支付40万元").errors == 1
