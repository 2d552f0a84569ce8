"""What the voice channel says: Chinese text made speakable, as SSML for telephony platforms, and (optionally)
as audio from espeak-ng for the self-contained demo and the Asterisk AudioSocket adapter.

Telephony platforms synthesise speech themselves, so the channel normally returns text and `to_ssml`.
`EspeakSynthesiser` is the built-in fallback: espeak-ng's Mandarin voice `cmn` reads pinyin as English in the
Debian version, but `cmn-latn-pinyin` speaks Mandarin from tone-numbered pinyin. So a text goes
    Chinese text -> `number_words` -> pinyin with tone numbers (pypinyin, Style.TONE3, neutral tone as 5,
    tone sandhi of 一/不 applied) -> `espeak-ng -v cmn-latn-pinyin --stdout` -> WAV (22050 Hz, 16-bit mono)
    -> resampled to the call's rate -> int16 little-endian mono PCM.
It sounds robotic but is intelligible; the choice is the setting FRONTDOOR_SYNTHESISER ('espeak' or 'none').
"""
from __future__ import annotations

import math
import re
import shutil
import struct
import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol
from xml.sax.saxutils import escape

SYNTHESISER_CHOICES = ("espeak", "none")


class SynthesisError(RuntimeError):
    """Speech could not be synthesised; the message says what failed and how to fix it."""


# --- numbers -----------------------------------------------------------------------------------------------

_DIGIT_WORDS = "零一二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿", "万亿")

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


def _group_words(group: int) -> str:
    """0 < group < 10000 in words: 1050 -> 一千零五十."""
    digits = str(group)
    words, zero = "", False
    for i, digit in enumerate(digits):
        if digit == "0":
            zero = True
            continue
        if zero and words:
            words += "零"
        zero = False
        words += _DIGIT_WORDS[int(digit)] + _SMALL_UNITS[len(digits) - 1 - i]
    return words


def _cardinal(digits: str) -> str:
    """An integer in words: 14 -> 十四, 110 -> 一百一十, 10001 -> 一万零一, 2000 -> 两千."""
    number = int(digits)
    if number == 0:
        return "零"
    groups = []
    while number:
        groups.append(number % 10000)
        number //= 10000
    if len(groups) > len(_BIG_UNITS):
        return _digit_by_digit(digits)
    words, zero = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero = bool(words)
            continue
        if words and (zero or group < 1000):
            words += "零"
        zero = False
        words += _group_words(group) + _BIG_UNITS[index]
    if words.startswith("一十"):
        words = words[1:]
    return re.sub(r"(?<![十零])二(?=[千万亿])", "两", words)


def _digit_by_digit(digits: str) -> str:
    return "".join(_DIGIT_WORDS[int(d)] for d in digits if d.isdigit())


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
class _Span:
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


def _integer_words(text: str, atom: _Atom, measure_end: int) -> _Span:
    """A plain integer, by the rules in `number_words`; the measure word is looked up after `measure_end`."""
    digits, grouped = atom.digits.replace(",", ""), "," in atom.digits
    measure = _measure_after(text, measure_end)
    ordinal = text[:atom.start].endswith("第") or measure in _ORDINAL_MEASURES
    span = _Span(atom.start, atom.end, "")
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


def _atom_words(text: str, atom: _Atom, measure_end: int | None = None, percent: str = "") -> _Span:
    measure_end = atom.end if measure_end is None else measure_end
    if atom.kind == "date":
        year, month, day = re.split(r"[-/.]", atom.digits)
        return _Span(atom.start, atom.end,
                     f"{_digit_by_digit(year)}年{_cardinal(month)}月{_cardinal(day)}日")
    if atom.kind == "chain":
        parts = _PHONE_GAP.split(atom.digits)
        return _Span(atom.start, atom.end, "，".join(_digit_by_digit(p) for p in parts), telephone=True)
    if atom.kind == "time":
        hour, minute = atom.digits.split(":")
        hour_words = "两" if int(hour) == 2 else _cardinal(hour)
        minute_words = "" if minute == "00" else ("零" + _DIGIT_WORDS[int(minute[1])] if minute[0] == "0"
                                                   else _cardinal(minute))
        return _Span(atom.start, atom.end, f"{hour_words}点{minute_words}")
    percent = atom.percent or percent
    if percent:
        number = _decimal(atom.digits) if "." in atom.digits else _cardinal(atom.digits.replace(",", ""))
        number = number.replace("两", "二")
        return _Span(atom.start, atom.end, ("百分之" if percent == "%" else "千分之") + number)
    if "." in atom.digits:
        return _Span(atom.start, atom.end, _decimal(atom.digits))
    return _integer_words(text, atom, measure_end)


def _is_short_quantity(text: str, atom: _Atom) -> bool:
    digits = atom.digits.replace(",", "")
    return (atom.kind == "num" and len(digits) <= 4 and not (len(digits) > 1 and digits.startswith("0"))
            and not _phone_cue_before(text, atom.start))


def _number_spans(text: str) -> list[_Span]:
    """Where `text` (already normalised) has numbers, and how each is read."""
    atoms = _atoms(text)
    spans: list[_Span] = []
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
            spans.append(_Span(atom.start, after.end, first.words + "到" + second.words))
            index += 2
            continue
        # two numbers joined by a dash that are no range: a telephone number such as 0514-87654321
        if dash and atom.plain and after.plain and _PHONE_GAP.fullmatch(gap.strip()):
            words = _digit_by_digit(atom.digits) + "，" + _digit_by_digit(after.digits)
            spans.append(_Span(atom.start, after.end, words, telephone=True))
            index += 2
            continue
        # 2至3天: the first number is read with the second one's measure (两至三天)
        if after and atom.plain and after.plain and _SHARED_GAP.fullmatch(gap):
            spans.append(_atom_words(text, atom, after.end))
        else:
            spans.append(_atom_words(text, atom))
        index += 1
    return spans


def _normalise(text: str) -> str:
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
    text = _normalise(text)
    out, position = [], 0
    for span in _number_spans(text):
        out.append(text[position:span.start])
        out.append(span.words)
        position = span.end
    out.append(text[position:])
    return "".join(out)


# --- SSML --------------------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"([。！？；])")


def to_ssml(text: str) -> str:
    """SSML for a telephony platform's synthesiser.

    Numbers read as in `number_words`; those dialled digit by digit stay digits inside
    <say-as interpret-as="telephone">; every sentence break (。！？；, or a line break) is followed by a
    300 ms <break/> (except at the very end). The text is XML-escaped.
    """
    text = _normalise(text).strip()
    parts, position = [], 0

    def plain(chunk: str) -> str:
        chunk = escape(chunk)
        chunk = _SENTENCE_END.sub(r'\1<break time="300ms"/>', chunk)
        return re.sub(r"\s*\n\s*", '<break time="300ms"/>', chunk)

    for span in _number_spans(text):
        parts.append(plain(text[position:span.start]))
        if span.telephone:
            parts.append(f'<say-as interpret-as="telephone">{escape(text[span.start:span.end])}</say-as>')
        else:
            parts.append(escape(span.words))
        position = span.end
    parts.append(plain(text[position:]))
    body = "".join(parts)
    body = re.sub(r'(<break time="300ms"/>)+', r'<break time="300ms"/>', body)
    body = re.sub(r'<break time="300ms"/>$', "", body)
    return f'<speak xml:lang="zh-CN">{body}</speak>'


# --- synthesis ---------------------------------------------------------------------------------------------

class Synthesiser(Protocol):
    def synthesise(self, text: str, rate: int) -> bytes:
        """`text` spoken as int16 little-endian mono PCM at `rate` Hz (8000 or 16000)."""
        ...


# espeak-ng's cmn-latn-pinyin pauses at these (measured: ，、 ~0.24 s, ；：… ~0.34 s, 。？ ~0.43 s);
# an ASCII '.' after a syllable gives no pause at all, so every mark is mapped onto one of three.
_PAUSES = {"，": 1, "；": 2, "。": 3}
_PUNCTUATION = {
    **dict.fromkeys("，,、（）()[]【】/|", "，"),
    **dict.fromkeys("；;：:…—–-~～", "；"),
    **dict.fromkeys("。.！!？?\n", "。"),
}


def _non_han(chunk: str) -> list[str]:
    """pypinyin's callback for text without Chinese characters: pauses and Latin words."""
    tokens = []
    for piece in re.findall(r"[A-Za-z]+|\d|\n|\S", chunk):
        if piece.isascii() and piece.isalpha():
            tokens.append(piece)  # espeak-ng reads what is not pinyin with its English rules
        elif piece.isdigit():
            tokens.append(number_words(piece))
        elif piece in _PUNCTUATION:
            tokens.append(_PUNCTUATION[piece])
    return tokens


def speakable_pinyin(text: str) -> str:
    """What espeak-ng's cmn-latn-pinyin voice is given: 'qing3 bo1 da3 yi1 er4 san1 si4 wu3 。'.

    Tone numbers 1–4, the neutral tone as 5 (espeak-ng reads a syllable without a number as tone 1 at the start
    of a clause), ü as v (lv4), the tone sandhi of 一 and 不 from pypinyin (espeak-ng does the third-tone sandhi
    itself); punctuation as ，；。 which espeak-ng turns into pauses of increasing length.
    """
    from pypinyin import Style, lazy_pinyin

    def more_words(chunk: str) -> list[str]:
        # numbers became words already; what pypinyin cannot read (a rare character) is dropped
        return _non_han(chunk) if not re.search(r"[\u3400-\u9fff]", chunk) else []

    syllables = lazy_pinyin(number_words(text), style=Style.TONE3, neutral_tone_with_five=True,
                            tone_sandhi=True, errors=more_words)
    tokens: list[str] = []
    for token in syllables:
        for part in (token if isinstance(token, list) else [token]):
            part = part.strip()
            if not part:
                continue
            if part in _PAUSES:
                if not tokens:
                    continue
                if tokens[-1] in _PAUSES:
                    if _PAUSES[part] > _PAUSES[tokens[-1]]:
                        tokens[-1] = part
                    continue
            tokens.append(part)
    if not any(t not in _PAUSES for t in tokens):
        return ""
    return " ".join(tokens)


def _wav_samples(wav: bytes) -> tuple[int, bytes]:
    """(sample rate, 16-bit mono samples) of espeak-ng's --stdout WAV, whose size fields are not to be trusted."""
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise SynthesisError("espeak-ng wrote no WAV audio to stdout; check that `espeak-ng --stdout hello` works")
    position, rate = 12, None
    while position + 8 <= len(wav):
        chunk, size = wav[position:position + 4], struct.unpack("<I", wav[position + 4:position + 8])[0]
        body = position + 8
        if chunk == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", wav[body:body + 16])
            if fmt != 1 or channels != 1 or bits != 16:
                raise SynthesisError(f"espeak-ng wrote {channels}-channel {bits}-bit audio (format {fmt}); "
                                     "expected 16-bit mono PCM")
        elif chunk == b"data":
            if rate is None:
                break
            data = wav[body:]
            return rate, data[:len(data) - len(data) % 2]
        position = body + size + (size & 1)
    raise SynthesisError("espeak-ng's WAV output has no audio data")


def _resample(samples: bytes, from_rate: int, to_rate: int) -> bytes:
    import numpy as np

    audio = np.frombuffer(samples, dtype="<i2")
    if from_rate != to_rate and audio.size:
        from scipy.signal import resample_poly

        common = math.gcd(from_rate, to_rate)
        audio = resample_poly(audio.astype(np.float32), to_rate // common, from_rate // common)
        audio = np.clip(np.round(audio), -32768, 32767)
    return audio.astype("<i2").tobytes()


class EspeakSynthesiser:
    """Mandarin from espeak-ng (robotic but intelligible), with an LRU cache because IVR prompts repeat.

    Thread-safe: calls may run concurrently on a thread pool; each runs its own espeak-ng process.
    """

    def __init__(self, binary: str = "espeak-ng", voice: str = "cmn-latn-pinyin", words_per_minute: int = 150,
                 cache_size: int = 256, timeout: float = 30.0) -> None:
        path = shutil.which(binary)
        if path is None:
            raise SynthesisError(f"the speech synthesiser {binary!r} was not found on PATH: install espeak-ng "
                                 "(apt-get install espeak-ng), or set FRONTDOOR_SYNTHESISER=none to return text only")
        self.binary = path
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.cache_size = cache_size
        self.timeout = timeout
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._check_voice()

    def _check_voice(self) -> None:
        """espeak-ng quietly speaks with another voice when the one asked for is missing: check it is there."""
        try:
            listing = subprocess.run([self.binary, "--voices"], capture_output=True, timeout=self.timeout,
                                     check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SynthesisError(f"could not run {self.binary} --voices: {error}; reinstall espeak-ng "
                                 "(apt-get install --reinstall espeak-ng) or set FRONTDOOR_SYNTHESISER=none") from error
        names = set()
        for line in listing.stdout.decode("utf-8", "replace").splitlines()[1:]:
            columns = line.split()
            if len(columns) >= 5:  # Pty Language Age/Gender VoiceName File ...
                names.update(c.lower() for c in (columns[1], columns[3], columns[4], columns[4].rsplit("/", 1)[-1]))
        if self.voice.split("+", 1)[0].lower() not in names:
            raise SynthesisError(f"espeak-ng has no voice {self.voice!r} (list them: espeak-ng --voices=cmn); "
                                 "use 'cmn-latn-pinyin', install espeak-ng-data, or set FRONTDOOR_SYNTHESISER=none")

    def synthesise(self, text: str, rate: int) -> bytes:
        if not isinstance(rate, int) or rate <= 0:
            raise ValueError(f"rate must be a positive number of samples per second (8000 or 16000), not {rate!r}")
        key = (text, rate)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        pcm = self._synthesise(text, rate)
        if self.cache_size > 0:
            with self._lock:
                self._cache[key] = pcm
                self._cache.move_to_end(key)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return pcm

    def _synthesise(self, text: str, rate: int) -> bytes:
        pinyin = speakable_pinyin(text)
        if not pinyin:
            return b""
        command = [self.binary, "-v", self.voice, "-s", str(self.words_per_minute), "--stdout", "--stdin"]
        try:
            done = subprocess.run(command, input=pinyin.encode("utf-8"), capture_output=True,
                                  timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise SynthesisError(f"espeak-ng took longer than {self.timeout:g} s for {len(text)} characters; "
                                 "shorten the text or raise the timeout") from error
        except OSError as error:
            raise SynthesisError(f"could not run {self.binary}: {error}; reinstall espeak-ng "
                                 "(apt-get install --reinstall espeak-ng) or set FRONTDOOR_SYNTHESISER=none") from error
        stderr = done.stderr.decode("utf-8", "replace").strip()
        if done.returncode != 0 or not done.stdout:
            hint = (f"the voice {self.voice!r} is missing (list voices: espeak-ng --voices=cmn; "
                    "install espeak-ng-data)" if "voice" in stderr.lower() else "check that espeak-ng runs")
            raise SynthesisError(f"espeak-ng failed (exit {done.returncode}): {stderr or 'no output'}; {hint}")
        source_rate, samples = _wav_samples(done.stdout)
        return _resample(samples, source_rate, rate)


def load_synthesiser(name: str) -> Synthesiser | None:
    """The synthesiser named by the setting FRONTDOOR_SYNTHESISER: 'espeak' or 'none' (no audio: text and SSML)."""
    choice = (name or "").strip().lower()
    if choice == "espeak":
        return EspeakSynthesiser()
    if choice == "none":
        return None
    raise SynthesisError(f"unknown speech synthesiser {name!r}: FRONTDOOR_SYNTHESISER must be one of "
                         + ", ".join(repr(c) for c in SYNTHESISER_CHOICES))
