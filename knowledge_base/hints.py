"""Hints for an editor writing answers that will be spoken: what a caller cannot hear well.

A speech synthesiser reads Arabic numbers its own way ("12345" as a quantity), spells out English letters,
cannot say a web address usefully, and reads symbols and list markers badly or by name. A long spoken answer
cannot be remembered. These are hints, not rules: an entry with hints can still be saved and published.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge_base.entry import Entry

SPOKEN_CHARS_PER_SECOND = 3   # Mandarin read at a comfortable pace on the phone
LONG_SPOKEN_SECONDS = 30      # beyond this a caller stops taking it in
SPOKEN_CUT = 150              # how much of the chat answer the phone line reads when there is no voice answer
_EXAMPLES = 3                 # how many offending pieces a hint quotes

_URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9._~:/?#@!$&'*+,;=%-]+"
                  r"|\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|cn|net|org|gov)\b(?:/[A-Za-z0-9._~/?#&=%-]*)?",
                  re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_DIGITS = re.compile(r"[0-9０-９]+(?:[.:：][0-9０-９]+)*")
_LATIN = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]+")
_SYMBOLS = re.compile(r"[→←↑↓⇒➜►▶●○■□◆◇★☆※①-⑳⑴-⒇⒈-⒛*#＃＊()（）\[\]【】〔〕<>＜＞{}~～|｜/\\＼^_=+＋]")
_LIST_MARKER = re.compile(r"^\s*(?:[-•·]|\d+[.、)）]|[（(]\d+[)）])", re.MULTILINE)
_CONTENT = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")

# The editor reads these in the console (a Chinese UI); kept together so the wording can be reviewed at once.
_MESSAGES = {
    "too_long": "语音答复约 {seconds} 秒（{chars} 字，按每秒约 {rate} 字估算），超过 {limit} 秒来电者记不住；"
                "请精简到约 {max_chars} 字以内，细节留给文字答复。",
    "digits": "{where}含阿拉伯数字「{examples}」，语音合成可能按数值读（如 12345 读成“一万二千三百四十五”）；"
              "请按读法写成汉字，如“一二三四五”“二十四小时”。",
    "url": "{where}含网址「{examples}」，电话里听不清也记不下；请改说怎么找到（如“在微信搜索‘某某发布’公众号”）。",
    "email": "{where}含电子邮箱「{examples}」，电话里听不清也记不下；请改说其他联系办法，或把邮箱留在文字答复里。",
    "latin": "{where}含英文字母「{examples}」，语音合成会逐个字母读出；请改用中文说法（如 APP → “手机应用”）。",
    "symbols": "{where}含语音合成读不好的符号「{examples}」；请改成完整的句子（如“第一，……；第二，……”），括号里的话直接说出来。",
    "list_markers": "{where}按列表分行编号（{examples}），朗读时编号会被读错或读出符号；请改成“第一，……第二，……”这样的句子。",
    "no_voice": "没有语音答复：电话里会朗读文字答复的删减版（去掉网址和列表符号，约前 {cut} 字）；建议写一段适合朗读的语音答复。",
    "no_answer_at_all": "语音答复和文字答复都为空：电话里没有可以朗读的内容；请至少填写文字答复。",
    "no_chat": "文字答复没有内容：在网页和微信上提问的市民将得不到答复；请填写文字答复。",
}
_VOICE = "语音答复"
_CHAT_SPOKEN = "文字答复（电话里会朗读它）"


@dataclass(frozen=True)
class Hint:
    field: str   # voice_answer or chat_answer
    level: str   # warning (fix it before publishing) or info (worth knowing)
    message: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "level": self.level, "message": self.message}


def entry_hints(entry: Entry) -> list[Hint]:
    """Every hint for `entry`'s answers: the voice answer's length and speakability, an empty chat answer;
    when there is no voice answer, what the phone line will read instead."""
    hints: list[Hint] = []
    chat_has_content = has_content(entry.chat_answer)
    if not chat_has_content:
        hints.append(Hint("chat_answer", "warning", _MESSAGES["no_chat"]))
    if entry.voice_answer.strip():
        hints += _length_hints(entry.voice_answer)
        hints += speakability_hints(entry.voice_answer, field="voice_answer", level="warning", where=_VOICE)
    elif chat_has_content:
        hints.append(Hint("voice_answer", "info", _MESSAGES["no_voice"].format(cut=SPOKEN_CUT)))
        # The phone line drops links and list markers from the chat answer itself; the rest is read as written.
        hints += speakability_hints(entry.chat_answer, field="chat_answer", level="info", where=_CHAT_SPOKEN,
                                    checks=("digits", "email", "latin"))
    else:
        hints.append(Hint("voice_answer", "warning", _MESSAGES["no_answer_at_all"]))
    return hints


def has_content(text: str) -> bool:
    """Whether `text` says anything (not only spaces and punctuation)."""
    return bool(_CONTENT.search(text or ""))


def spoken_seconds(text: str) -> int:
    """About how long `text` takes to say, at SPOKEN_CHARS_PER_SECOND."""
    return round(len(re.sub(r"\s+", "", text)) / SPOKEN_CHARS_PER_SECOND)


def _length_hints(text: str) -> list[Hint]:
    seconds = spoken_seconds(text)
    if seconds <= LONG_SPOKEN_SECONDS:
        return []
    message = _MESSAGES["too_long"].format(seconds=seconds, chars=len(re.sub(r"\s+", "", text)),
                                           rate=SPOKEN_CHARS_PER_SECOND, limit=LONG_SPOKEN_SECONDS,
                                           max_chars=LONG_SPOKEN_SECONDS * SPOKEN_CHARS_PER_SECOND)
    return [Hint("voice_answer", "warning", message)]


_ALL_CHECKS = ("url", "email", "digits", "latin", "list_markers", "symbols")


def speakability_hints(text: str, *, field: str, level: str, where: str,
                       checks: tuple[str, ...] = _ALL_CHECKS) -> list[Hint]:
    """What in `text` a speech synthesiser reads badly, one hint per kind of problem, quoting examples."""
    found: dict[str, list[str]] = {}
    found["email"] = _EMAIL.findall(text)
    rest = _EMAIL.sub(" ", text)
    found["url"] = _URL.findall(rest)
    rest = _URL.sub(" ", rest)  # a link's letters and digits are the link's problem, not more problems
    found["list_markers"] = [marker.strip() for marker in _LIST_MARKER.findall(rest)]
    unmarked = _LIST_MARKER.sub(" ", rest)
    found["digits"] = _DIGITS.findall(unmarked)
    found["latin"] = _LATIN.findall(unmarked)
    found["symbols"] = _SYMBOLS.findall(unmarked)
    hints = []
    for check in _ALL_CHECKS:
        if check in checks and found[check]:
            examples = "、".join(list(dict.fromkeys(found[check]))[:_EXAMPLES])
            hints.append(Hint(field, level, _MESSAGES[check].format(where=where, examples=examples)))
    return hints
