"""Numbers in words: the Arabic numerals of a Chinese text written out as a Mandarin voice should read them.

Which reading a number gets (a quantity, digit by digit because it is dialled, a year, a date, a time, a range…)
is decided here (`number_words` lists the rules); the words themselves come from cn2an.
`number_spans` says where the numbers are and how each is read, for voice/ssml.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import cn2an

# Measure words after which a short number is a quantity. Longest first, so 小时 wins over 小, 个月 over 个.
_MEASURES = sorted({
    "天", "日", "个", "次", "人", "元", "岁", "米", "公里", "分钟", "周", "月", "年", "号", "点",
    "小时", "个月", "周岁", "工作日", "星期", "年级", "年度", "季度", "号线", "单元", "平方米", "平米", "千米",
    "公斤", "千克", "毫升", "人次", "分", "秒", "件", "份", "项", "条", "页", "张", "户", "家", "名", "位",
    "辆", "台", "套", "间", "所", "种", "类", "步", "级", "层", "楼", "栋", "幢", "室", "路", "克", "斤",
    "吨", "升", "度", "块", "角", "万", "亿", "千", "百", "倍", "期", "批", "段", "届", "班", "趟", "盒",
    "剂", "针", "例", "座", "只", "本", "句", "篇", "款", "章", "节", "轮", "遍", "场", "所", "岗", "毛",
}, key=len, reverse=True)
# Measures that label or order rather than count: a bare 2 before them is 二 (二月, 二号, 二楼), not 两.
_ORDINAL_MEASURES = {"日", "月", "号", "号线", "路", "室", "楼", "层", "栋", "幢", "单元", "级", "期", "届",
                     "类", "年级", "年度", "季度", "章", "节", "版", "班"}
# A number right after one of these is a number to dial or type: read digit by digit.
_PHONE_CUES = ("拨打", "致电", "电话", "热线", "号码", "手机", "拨", "打", "编号", "尾号", "工号", "验证码",
               "邮编", "传真", "账号", "卡号", "单号", "代码", "QQ", "qq", "微信")
# Short service numbers, read digit by digit unless a measure word follows (120个 is a quantity).
_SERVICE_NUMBERS = {"110", "112", "114", "119", "120", "121", "122", "999", "12110", "12117", "12121", "12306",
                    "12309", "12315", "12319", "12320", "12328", "12329", "12333", "12338", "12345", "12348",
                    "12351", "12355", "12356", "12358", "12365", "12366", "12369", "12377", "12388", "12393",
                    "95598", "96888", "10000", "10010", "10086"}

_FULLWIDTH = str.maketrans("０１２３４５６７８９％．：", "0123456789%.:")

_NUMBER = re.compile(r"""
    (?P<date>(?<![\d.])\d{4}(?P<dsep>[-/.])(?:0?[1-9]|1[0-2])(?P=dsep)(?:0?[1-9]|[12]\d|3[01])(?![\d.]))
  | (?P<chain>(?<![\d.])\d+(?:[-–—]\d+){2,}(?!\d))
  | (?P<time>(?<![\d:])(?:[01]?\d|2[0-4]):[0-5]\d(?![\d:]))
  | (?P<num>(?<![\d,])(?:\d{1,3}(?:,\d{3})+(?![\d,])(?:\.\d+)?|\d+(?:\.\d+)*))(?P<pct>[ ]?[%‰])?
""", re.X)
_RANGE_GAP = re.compile(r"\s*([-–—~～])\s*")        # becomes 到
_SHARED_GAP = re.compile(r"\s*(至|到|或|~|～|-|–|—)\s*")  # the first number takes the second one's measure
_PHONE_GAP = re.compile(r"[-–—]")


def _cardinal(digits: str) -> str:
    """An integer in words (cn2an): 14 -> 十四, 110 -> 一百一十, 10001 -> 一万零一, 2000 -> 两千; digit by digit
    beyond the 16 digits cn2an reads."""
    digits = str(int(digits))
    if len(digits) > 16:
        return _digit_by_digit(digits)
    words = cn2an.an2cn(digits, "low")
    return re.sub(r"(?<![十零])二(?=[千万亿])", "两", words)


def _digit_by_digit(digits: str) -> str:
    """Each digit in words (cn2an's "direct" reading, 0 as 零): 0514 -> 零五一四."""
    digits = "".join(str(int(d)) for d in digits if d.isdigit())
    return cn2an.an2cn(digits, "direct") if digits else ""


def _decimal(number: str) -> str:
    """3.5 -> 三点五; 1.2.3 (a version) -> 一点二点三."""
    whole, *fractions = number.replace(",", "").split(".")
    if len(fractions) == 1:
        return _cardinal(whole) + "点" + _digit_by_digit(fractions[0])
    return "点".join(_digit_by_digit(part) for part in [whole, *fractions])


def _measure_after(text: str, end: int) -> str:
    following = text[end:end + 8].lstrip(" \u3000")
    return next((m for m in _MEASURES if following.startswith(m)), "")


def _phone_cue_before(text: str, start: int) -> bool:
    return text[max(0, start - 8):start].rstrip(" \u3000:：").endswith(_PHONE_CUES)


@dataclass
class Span:
    start: int
    end: int
    words: str
    telephone: bool = False  # digit by digit because it is dialled (to_ssml marks it), unlike a year


@dataclass
class _Atom:
    start: int
    end: int
    kind: str       # "date" | "chain" | "time" | "num"
    digits: str     # the number without % (num), or the matched text
    percent: str    # "", "%" or "‰"

    @property
    def plain(self) -> bool:
        return self.kind == "num" and not self.percent and "." not in self.digits


def _atoms(text: str) -> list[_Atom]:
    atoms = []
    for match in _NUMBER.finditer(text):
        kind = next(k for k in ("date", "chain", "time", "num") if match.group(k))
        percent = (match.group("pct") or "").strip()
        digits = match.group("num") if kind == "num" else match.group(0)
        atoms.append(_Atom(match.start(), match.end(), kind, digits, percent))
    return atoms


def _integer_words(text: str, atom: _Atom, measure_end: int) -> Span:
    """A plain integer, by the rules in `number_words`; the measure word is looked up after `measure_end`."""
    digits, grouped = atom.digits.replace(",", ""), "," in atom.digits
    measure = _measure_after(text, measure_end)
    ordinal = text[:atom.start].endswith("第") or measure in _ORDINAL_MEASURES
    span = Span(atom.start, atom.end, "")
    previous = text[atom.start - 1] if atom.start else ""
    if grouped:
        span.words = _cardinal(digits)
    elif len(digits) > 1 and digits.startswith("0"):
        span.words, span.telephone = _digit_by_digit(digits), True
    elif _phone_cue_before(text, atom.start) or (previous.isascii() and previous.isalpha() and len(digits) > 1):
        span.words, span.telephone = _digit_by_digit(digits), True
    elif measure.startswith("年") and measure not in ("年级",) and len(digits) == 4:
        span.words = _digit_by_digit(digits)  # a year: 2022年 -> 二零二二年
    elif len(digits) >= 5:
        if measure and not ordinal and not measure.startswith("年"):
            span.words = _cardinal(digits)  # 50000元: a quantity written out
        else:
            span.words, span.telephone = _digit_by_digit(digits), True
    elif digits in _SERVICE_NUMBERS and not measure:
        span.words, span.telephone = _digit_by_digit(digits), True
    else:
        span.words = _cardinal(digits)
        if span.words == "二" and measure and not ordinal:
            span.words = "两"
        elif ordinal:
            span.words = span.words.replace("两", "二")
    return span


def _atom_words(text: str, atom: _Atom, measure_end: int | None = None, percent: str = "") -> Span:
    measure_end = atom.end if measure_end is None else measure_end
    if atom.kind == "date":
        year, month, day = re.split(r"[-/.]", atom.digits)
        return Span(atom.start, atom.end,
                     f"{_digit_by_digit(year)}年{_cardinal(month)}月{_cardinal(day)}日")
    if atom.kind == "chain":
        parts = _PHONE_GAP.split(atom.digits)
        return Span(atom.start, atom.end, "，".join(_digit_by_digit(p) for p in parts), telephone=True)
    if atom.kind == "time":
        hour, minute = atom.digits.split(":")
        hour_words = "两" if int(hour) == 2 else _cardinal(hour)
        minute_words = "" if minute == "00" else ("零" + _digit_by_digit(minute[1]) if minute[0] == "0"
                                                   else _cardinal(minute))
        return Span(atom.start, atom.end, f"{hour_words}点{minute_words}")
    percent = atom.percent or percent
    if percent:
        number = _decimal(atom.digits) if "." in atom.digits else _cardinal(atom.digits.replace(",", ""))
        number = number.replace("两", "二")
        return Span(atom.start, atom.end, ("百分之" if percent == "%" else "千分之") + number)
    if "." in atom.digits:
        return Span(atom.start, atom.end, _decimal(atom.digits))
    return _integer_words(text, atom, measure_end)


def _is_short_quantity(text: str, atom: _Atom) -> bool:
    digits = atom.digits.replace(",", "")
    return (atom.kind == "num" and len(digits) <= 4 and not (len(digits) > 1 and digits.startswith("0"))
            and not _phone_cue_before(text, atom.start))


def number_spans(text: str) -> list[Span]:
    """Where `text` (already normalised) has numbers, and how each is read."""
    atoms = _atoms(text)
    spans: list[Span] = []
    index = 0
    while index < len(atoms):
        atom = atoms[index]
        after = atoms[index + 1] if index + 1 < len(atoms) else None
        gap = text[atom.end:after.start] if after else ""
        dash = bool(after) and _RANGE_GAP.fullmatch(gap) is not None
        # a range: 7-14天, 9:00-17:00, 10%-20%, 10-20%
        if dash and (atom.kind == after.kind == "time" or (
                _is_short_quantity(text, atom) and _is_short_quantity(text, after)
                and (atom.percent or after.percent or "." in atom.digits + after.digits
                     or float(atom.digits.replace(",", "")) < float(after.digits.replace(",", ""))))):
            first = _atom_words(text, atom, after.end, after.percent)
            second = _atom_words(text, after)
            spans.append(Span(atom.start, after.end, first.words + "到" + second.words))
            index += 2
            continue
        # two numbers joined by a dash that are no range: a telephone number such as 0514-87654321
        if dash and atom.plain and after.plain and _PHONE_GAP.fullmatch(gap.strip()):
            words = _digit_by_digit(atom.digits) + "，" + _digit_by_digit(after.digits)
            spans.append(Span(atom.start, after.end, words, telephone=True))
            index += 2
            continue
        # 2至3天: the first number is read with the second one's measure (两至三天)
        if after and atom.plain and after.plain and _SHARED_GAP.fullmatch(gap):
            spans.append(_atom_words(text, atom, after.end))
        else:
            spans.append(_atom_words(text, atom))
        index += 1
    return spans


def normalise(text: str) -> str:
    return text.translate(_FULLWIDTH).replace("℃", "摄氏度")


def number_words(text: str) -> str:
    """Rewrite the Arabic numerals in `text` as Chinese words, so that a Mandarin voice reads them right.

    Read digit by digit (with 一, not 幺; 0 is 零), because they are dialled or typed:
      * numbers of 5 or more digits: 12345 -> 一二三四五, 13800138000 -> 一三八…;
        except a quantity followed by a counting measure word, or written with thousands separators
        (50000元 -> 五万元, 1,000 -> 一千);
      * digit strings starting with 0: 0514 -> 零五一四;
      * short service numbers unless a measure word follows: 110 -> 一一零, 120 -> 一二零 (but 120个 -> 一百二十个);
      * a number after 拨打/致电/电话/热线/号码/尾号/验证码/… : 尾号1234 -> 尾号一二三四;
      * a number attached to Latin letters: G312 -> G三一二;
      * dash-joined groups: 0514-87654321 -> 零五一四，八七六五四三二一; 400-123-4567 likewise.
    Years, digit by digit: 4 digits before 年 (2022年 -> 二零二二年); dates 2024-01-15 -> 二零二四年一月十五日.
    Read as numbers (quantities), otherwise: 14天 -> 十四天, 48小时 -> 四十八小时, 1050 -> 一千零五十, 2000 -> 两千.
      * a bare 2 before a counting measure word is 两 (2小时 -> 两小时, 2个 -> 两个, 2点 -> 两点), but 二 before a
        label (2月, 2号, 2楼, 2日) or after 第 (第2 -> 第二) and without a measure (2 -> 二);
      * decimals: 3.5 -> 三点五; versions 1.2.3 -> 一点二点三;
      * percentages: 50% -> 百分之五十 (‰ -> 千分之);
      * times: 8:30 -> 八点三十, 8:05 -> 八点零五, 8:00 -> 八点;
      * ranges with - or ~: 7-14天 -> 七到十四天, 9:00-17:00 -> 九点到十七点, 10-20% -> 百分之十到百分之二十;
        with 至/到 the first number takes the second one's measure: 2至3天 -> 两至三天;
      * ℃ -> 摄氏度. Full-width digits count as digits.
    Chinese text and everything else is kept as it is.
    """
    text = normalise(text)
    out, position = [], 0
    for span in number_spans(text):
        out.append(text[position:span.start])
        out.append(span.words)
        position = span.end
    out.append(text[position:])
    return "".join(out)
