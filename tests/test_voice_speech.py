"""The voice channel's speech output: numbers made speakable, SSML, and the optional espeak-ng synthesiser."""
import shutil
import threading
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from voice.numbers import number_words
from voice.ssml import to_ssml
from voice.synthesis import EspeakSynthesiser, SynthesisError, load_synthesiser, speakable_pinyin

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")


# --- number_words ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, spoken", [
    # dialled: digit by digit, with 一 (never 幺)
    ("请拨打12345反映。", "请拨打一二三四五反映。"),
    ("110", "一一零"),
    ("可拨打110或120", "可拨打一一零或一二零"),
    ("119", "一一九"),
    ("122", "一二二"),
    ("96888", "九六八八八"),
    ("13800138000", "一三八零零一三八零零零"),
    ("0514", "零五一四"),
    ("0514-87654321", "零五一四，八七六五四三二一"),
    ("400-123-4567", "四零零，一二三，四五六七"),
    ("尾号1234", "尾号一二三四"),
    ("G312国道", "G三一二国道"),
    # quantities before a measure word
    ("14天", "十四天"),
    ("2小时", "两小时"),
    ("48小时", "四十八小时"),
    ("2个人", "两个人"),
    ("12个", "十二个"),
    ("30分钟", "三十分钟"),
    ("1050元", "一千零五十元"),
    ("2万", "两万"),
    ("120个", "一百二十个"),
    ("满18周岁", "满十八周岁"),
    # 二 for labels, ordinals and bare numbers
    ("2月2日", "二月二日"),
    ("2号楼", "二号楼"),
    ("第2条", "第二条"),
    ("2", "二"),
    # years
    ("2022年", "二零二二年"),
    ("依据 2021 年", "依据 二零二一 年"),
    ("2024-01-15", "二零二四年一月十五日"),
    ("2023-2024年", "二零二三到二零二四年"),
    # decimals, percentages, times, ranges
    ("3.5", "三点五"),
    ("0.5", "零点五"),
    ("50%", "百分之五十"),
    ("8:30", "八点三十"),
    ("8:05", "八点零五"),
    ("8:00", "八点"),
    ("2:30", "两点三十"),
    ("7-14天", "七到十四天"),
    ("7~14天", "七到十四天"),
    ("9:00-17:00", "九点到十七点"),
    ("10%-20%", "百分之十到百分之二十"),
    ("2至3天", "两至三天"),
    # other forms
    ("1,000元", "一千元"),
    ("10", "十"),
    ("1001", "一千零一"),
    ("２０２２年", "二零二二年"),
])
def test_number_words(text, spoken):
    assert number_words(text) == spoken


@pytest.mark.parametrize("text", [
    "您好，请问有什么可以帮您？",
    "核酸检测结果一般在二十四小时内出具。",
    "",
    "请稍候……",
])
def test_number_words_keeps_chinese_text(text):
    assert number_words(text) == text


def test_number_words_in_a_sentence():
    assert (number_words("隔离期满后加3天居家健康监测，持48小时内核酸阴性证明，可拨打12345咨询。")
            == "隔离期满后加三天居家健康监测，持四十八小时内核酸阴性证明，可拨打一二三四五咨询。")


# --- to_ssml -----------------------------------------------------------------------------------------------

def test_ssml_escapes_and_parses():
    ssml = to_ssml("A&B <办事指南> 请拨打12345。")
    root = ET.fromstring(ssml)
    assert root.tag == "speak"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "zh-CN"
    assert "&amp;" in ssml and "&lt;办事指南&gt;" in ssml
    assert "".join(root.itertext()).startswith("A&B <办事指南> 请拨打")


def test_ssml_marks_telephone_numbers_and_sentence_breaks():
    ssml = to_ssml("请拨打12345或0514-87654321。2022年3月起，持48小时内核酸！好的")
    root = ET.fromstring(ssml)
    says = root.findall("say-as")
    assert [(s.get("interpret-as"), s.text) for s in says] == [
        ("telephone", "12345"), ("telephone", "0514-87654321")]
    breaks = root.findall("break")
    assert len(breaks) == 2 and all(b.get("time") == "300ms" for b in breaks)
    text = "".join(root.itertext())
    assert "二零二二年三月" in text and "四十八小时" in text  # quantities and years as words, not telephone
    assert "。<break" in ssml and "！<break" in ssml


def test_ssml_break_follows_each_sentence_end_but_not_the_last():
    ssml = to_ssml("第一句。第二句？第三句；第四句！")
    root = ET.fromstring(ssml)
    assert len(root.findall("break")) == 3
    assert ssml.endswith("第四句！</speak>")


def test_ssml_of_plain_text():
    root = ET.fromstring(to_ssml("您好"))
    assert root.text == "您好" and len(root) == 0


# --- pinyin for espeak-ng ----------------------------------------------------------------------------------

def test_speakable_pinyin_uses_tone_numbers_and_pauses():
    assert speakable_pinyin("您好，请拨打110。") == "nin2 hao3 ， qing3 bo1 da3 yi1 yi1 ling2 。"
    assert speakable_pinyin("好的") == "hao3 de5"          # the neutral tone as 5
    assert speakable_pinyin("一个人不是") == "yi2 ge4 ren2 bu2 shi4"  # tone sandhi of 一 and 不
    assert speakable_pinyin("绿色") == "lv4 se4"            # ü as v
    assert speakable_pinyin("。，！") == ""


# --- EspeakSynthesiser -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def espeak():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return EspeakSynthesiser(cache_size=4)


PHRASE = "您好请问有什么事"  # 8 Chinese characters


@needs_espeak
@pytest.mark.parametrize("rate", [8000, 16000])
def test_espeak_speaks(espeak, rate):
    pcm = espeak.synthesise(PHRASE, rate)
    assert pcm and len(pcm) % 2 == 0
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    seconds = samples.size / rate
    assert 0.3 <= seconds <= 5.0
    assert np.sqrt(np.mean(samples ** 2)) > 300  # not silence


@needs_espeak
def test_espeak_rates_agree_on_duration(espeak):
    narrow, wide = espeak.synthesise(PHRASE, 8000), espeak.synthesise(PHRASE, 16000)
    assert abs(len(wide) - 2 * len(narrow)) <= 4


@needs_espeak
def test_espeak_empty_text_is_no_audio(espeak):
    assert espeak.synthesise("", 8000) == b""
    assert espeak.synthesise("  。", 8000) == b""


@needs_espeak
def test_espeak_pauses_at_punctuation(espeak):
    plain = espeak.synthesise("您好请问", 8000)
    paused = espeak.synthesise("您好。请问", 8000)
    assert len(paused) > len(plain)


@needs_espeak
def test_espeak_cache_returns_identical_bytes_and_is_bounded():
    synthesiser = EspeakSynthesiser(cache_size=2)
    first = synthesiser.synthesise("请稍候", 8000)
    assert synthesiser.synthesise("请稍候", 8000) is first
    assert synthesiser.synthesise("请稍候", 16000) != first
    synthesiser.synthesise("谢谢", 8000)
    assert len(synthesiser._cache) == 2
    assert ("请稍候", 8000) not in synthesiser._cache  # the least recently used went
    assert synthesiser.synthesise("请稍候", 8000) == first  # made again, same bytes


@needs_espeak
def test_espeak_from_threads(espeak):
    results: dict[int, bytes] = {}

    def speak(index):
        results[index] = espeak.synthesise(f"第{index}号", 8000)

    threads = [threading.Thread(target=speak, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[i] for i in range(6))
    assert len(espeak._cache) <= 4


@needs_espeak
def test_espeak_rejects_a_bad_rate(espeak):
    with pytest.raises(ValueError):
        espeak.synthesise("您好", 0)


def test_missing_binary_is_a_synthesis_error():
    with pytest.raises(SynthesisError, match="apt-get install espeak-ng") as raised:
        EspeakSynthesiser(binary="no-such-espeak-ng-binary")
    assert "FRONTDOOR_SYNTHESISER=none" in str(raised.value)


@needs_espeak
def test_missing_voice_is_a_synthesis_error():
    with pytest.raises(SynthesisError, match="zz-no-such-voice"):
        EspeakSynthesiser(voice="zz-no-such-voice")


@needs_espeak
def test_voice_names_and_variants_are_accepted():
    assert EspeakSynthesiser(voice="cmn-latn-pinyin+f3").voice == "cmn-latn-pinyin+f3"
    assert EspeakSynthesiser(voice="sit/cmn-Latn-pinyin").voice == "sit/cmn-Latn-pinyin"


# --- load_synthesiser --------------------------------------------------------------------------------------

@needs_espeak
def test_load_espeak():
    assert isinstance(load_synthesiser("espeak"), EspeakSynthesiser)


def test_load_none():
    assert load_synthesiser("none") is None


def test_load_unknown_lists_the_choices():
    with pytest.raises(SynthesisError) as raised:
        load_synthesiser("festival")
    assert "'espeak'" in str(raised.value) and "'none'" in str(raised.value)
