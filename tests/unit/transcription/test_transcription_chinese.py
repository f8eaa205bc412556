"""Chinese text as a court writes it: Simplified characters (OpenCC t2s), Chinese
punctuation, no spaces between characters; the prompt that carries the court's vocabulary and
the hearing's names; the character error rate the benchmarks report."""

from __future__ import annotations

from transcription.chinese import (
    COURT_VOCABULARY,
    MAX_PROMPT_CHARS,
    ChineseText,
    cer,
    court_prompt,
    engine_language,
    is_chinese,
)


def test_traditional_characters_become_simplified() -> None:
    c = ChineseText()
    assert c.normalise("廣州市房地產中介協會分析") == "广州市房地产中介协会分析"
    assert c.normalise("審判長：現在開庭") == "审判长：现在开庭"


def test_ascii_punctuation_between_chinese_becomes_chinese_punctuation() -> None:
    c = ChineseText()
    assert c.normalise("首先,说一下,刚才的问题.") == "首先，说一下，刚才的问题。"
    assert c.normalise("你们知道吗?") == "你们知道吗？"
    assert c.normalise("被告:我不同意!") == "被告：我不同意！"
    assert c.normalise("原告(张三)到庭") == "原告（张三）到庭"


def test_spaces_between_chinese_go_numbers_and_latin_stay() -> None:
    c = ChineseText()
    assert c.normalise("甚至 出现 交易 几乎 停滞") == "甚至出现交易几乎停滞"
    assert c.normalise("利息按3.5%计算") == "利息按3.5%计算"  # a decimal point is not a 。
    assert c.normalise("Apple 公司") == "Apple公司"
    assert c.normalise("  ") == ""


def test_full_width_forms_are_folded_before_converting() -> None:
    # NFKC turns full-width digits and letters into ASCII, so 50万元 is written one way.
    assert ChineseText().normalise("５０万元") == "50万元"


def test_the_prompt_is_simplified_with_vocabulary_and_names() -> None:
    prompt = court_prompt(["张三", "李四", "张三", " 王 五 "], court="北京市朝阳区人民法院")
    assert prompt.startswith("以下是普通话的庭审笔录，使用简体中文。北京市朝阳区人民法院开庭审理。")
    for word in COURT_VOCABULARY:
        assert word in prompt
    assert prompt.endswith("张三、李四、王 五。")
    assert prompt.count("张三") == 1
    assert ChineseText().simplified(prompt) == prompt


def test_the_prompt_keeps_within_its_length() -> None:
    names = [f"当事人{i:03d}" for i in range(100)]
    prompt = court_prompt(names)
    assert len(prompt) <= MAX_PROMPT_CHARS
    assert "当事人000" in prompt and "当事人099" not in prompt
    assert court_prompt([]).endswith("质证。")


def test_hearing_languages_map_to_engine_languages() -> None:
    assert engine_language("zh-CN") == "zh"
    assert engine_language("en") == "en"
    assert engine_language("auto") is None
    assert engine_language(None) is None
    assert is_chinese("zh") and not is_chinese("en") and not is_chinese(None)


def test_character_error_rate_ignores_punctuation_and_script() -> None:
    assert cer("甚至出现交易几乎停滞的情况", "甚至出现交易几乎停滞的情况。").rate == 0.0
    assert cer("广州市房地产中介协会分析", "廣州市房地產中介協會分析").rate == 0.0
    one = cer("甚至出现交易几乎停滞的情况", "甚至出现交易几乎停制的情况")
    assert (one.errors, one.words) == (1, 13)
    assert cer("换一首歌", "").rate == 1.0
    assert cer("甚至 出现", "甚至出现").errors == 0
