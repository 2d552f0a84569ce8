"""Recognition as a caller meets it: the pooled recogniser, the listener's silence skipping and endpointing,
the knowledge base's vocabulary bias, and the IVR dialogue over the real engine."""
from __future__ import annotations

import pytest

from voice.listener import Heard, Listener, Listening, Partial, SpeechStarted
from conftest import SPOKEN
from ivr_client import read_pcm
from models.asr import Reading, Recognition, _Alternative, _combine, plain_text

pytestmark = pytest.mark.models

WUHAN = SPOKEN / "wav8k" / "q000.wav"  # 我曾经去过武汉，回来要怎么做


@pytest.fixture(scope="module")
def recogniser(provisioned):
    from models.asr import SpeechRecogniser

    return SpeechRecogniser.load(provisioned.vosk_dir)


@pytest.fixture(scope="module")
def segmenter():
    from voice.vocabulary import Segmenter

    return Segmenter()


def test_vosk_word_spacing_is_removed_between_chinese_words_only():
    assert plain_text("我 曾经 去过 武汉") == "我曾经去过武汉"
    assert plain_text("打 开 VIP 会员") == "打开VIP会员"
    assert plain_text("Java SE 方向") == "Java SE方向"


def test_a_recording_is_recognised_with_readings_best_first(recogniser):
    pcm, rate = read_pcm(WUHAN)
    recognition = recogniser.recognise(pcm, rate)
    assert "武汉" in recognition.text
    posteriors = [r.posterior for r in recognition.readings]
    assert posteriors == sorted(posteriors, reverse=True) and abs(sum(posteriors) - 1) < 1e-6
    assert recognition.seconds == pytest.approx(len(pcm) / 2 / rate)


def test_a_recogniser_serves_one_call_at_a_time_and_returns_reset(recogniser):
    pcm, rate = read_pcm(WUHAN)
    first = recogniser.recognise(pcm, rate).text
    idle = recogniser.pool.idle(rate)
    assert idle >= 1
    with recogniser.stream(rate) as a, recogniser.stream(rate) as b:  # two calls at once: two recognisers
        assert recogniser.pool.idle(rate) == max(0, idle - 2)
        a.accept(pcm[: len(pcm) // 2])  # one caller hangs up mid-sentence …
        b.accept(b"\0" * 8000)
    assert recogniser.recognise(pcm, rate).text == first  # … and nothing of it reaches the next caller


def test_unsupported_rates_are_refused(recogniser):
    with pytest.raises(ValueError, match="8000"):
        recogniser.stream(11025)


def test_the_listener_decodes_only_speech_and_ends_an_utterance_on_silence(recogniser):
    pcm, rate = read_pcm(WUHAN)
    listener = Listener(recogniser, rate, listening=Listening(endpoint_ms=700))
    try:
        silence = b"\0" * (rate * 2 * 5)  # five seconds of a caller listening to a prompt
        assert listener.feed(silence) == [] and listener.decoded_seconds == 0
        events = []
        for start in range(0, len(pcm) + rate * 2, 320):  # the question, then a second of silence
            events += listener.feed((pcm + b"\0" * rate * 2)[start:start + 320])
        kinds = [type(e) for e in events]
        assert kinds[0] is SpeechStarted and events[0].at == pytest.approx(5.0, abs=0.5)
        assert Partial in kinds and kinds[-1] is Heard and kinds.count(Heard) == 1
        heard = events[-1]
        assert "武汉" in heard.recognition.text
        assert heard.endpoint_at - heard.speech_ended_at == pytest.approx(0.7, abs=0.05)
        assert listener.decoded_seconds < 0.6 * listener.audio_seconds
    finally:
        listener.close()


def test_an_utterance_cut_off_by_a_hang_up_is_still_recognised(recogniser):
    pcm, rate = read_pcm(WUHAN)
    listener = Listener(recogniser, rate)
    try:
        listener.feed(pcm[: len(pcm) * 2 // 3 // 2 * 2])
        (heard,) = listener.flush()
        assert "武汉" in heard.recognition.text
        assert listener.flush() == []
    finally:
        listener.close()


def test_the_vocabulary_bias_rewards_the_knowledge_bases_own_words_more_than_common_ones(segmenter):
    from voice.vocabulary import VocabularyBias

    bias = VocabularyBias.from_texts(["核酸检测结果多久出来", "集中隔离期间可以点外卖吗", "健康码变黄了怎么办"] * 3, segmenter)
    assert bias.bonus("核酸检测") > 0 and bias.bonus("隔离") > 0
    assert bias.bonus("我们") == 0  # an everyday word the knowledge base does not use earns nothing …
    assert bias.bonus("核酸") > 2 * bias.bonus("可以")  # … and one it uses as often as all text does, little
    assert bias.bonus("合算检测") < bias.bonus("核酸检测")


def test_the_bias_re_ranks_homophones_but_not_against_clear_acoustics(segmenter):
    from voice.vocabulary import VocabularyBias

    bias = VocabularyBias.from_texts(["核酸检测去哪里做", "核酸检测要多少钱"] * 3, segmenter)
    close = [[_Alternative("合算检测去哪里做", 100.0), _Alternative("核酸检测去哪里做", 99.5)]]
    assert _combine(close, bias, 0.5, 5)[0].text == "核酸检测去哪里做"
    far = [[_Alternative("今天天气怎么样", 100.0), _Alternative("核酸天气怎么样", 80.0)]]
    assert _combine(far, bias, 0.5, 5)[0].text == "今天天气怎么样"
    assert _combine(close, None, 0.5, 5)[0].text == "合算检测去哪里做"


def test_readings_of_an_utterance_cut_into_segments_join_up():
    segments = [[_Alternative("核酸", 10.0), _Alternative("合算", 9.0)], [_Alternative("去哪做", 5.0)]]
    readings = _combine(segments, None, 0.0, 5)
    assert [r.text for r in readings] == ["核酸去哪做", "合算去哪做"]
    assert readings[0].posterior > readings[1].posterior


# ---- the IVR dialogue over the real engine and the seed knowledge ---------------------------------
@pytest.fixture
def dialogue(seed_engine):
    from voice.dialogue import IvrDialogue

    return IvrDialogue(seed_engine, "call-1", caller="13800000000", region="江苏省/南京市", reprompts=1)


@pytest.fixture
def seed_engine(embedder, seed_caches, db):
    """The engine over the seed knowledge on the test's `db`, which holds the seed's vectors and calibration
    already (conftest.seed_caches): the dialogue is tested here, not the start-up, which would take half a
    minute per test."""
    from assistant.conversations import ConversationStore
    from assistant.engine import Engine
    from assistant.rules import load_rules
    from desk.tickets import TicketDesk
    from knowledge_base.service import KnowledgeBase
    from knowledge_base.store import CalibrationStore, EmbeddingCache, KnowledgeStore

    seed_caches.warm(db)
    knowledge = KnowledgeBase(KnowledgeStore(db), embedder, EmbeddingCache(db), calibrations=CalibrationStore(db))
    knowledge.load_seed_if_empty()
    knowledge.index.refresh(force=True)
    return Engine(knowledge, ConversationStore(db), TicketDesk(db), load_rules())


def heard(text: str, confidence: float = 0.9) -> Recognition:
    return Recognition((Reading(text, confidence),), 2.0)


def test_an_emergency_is_said_at_once_and_one_key_transfers_to_it(dialogue):
    from voice.dialogue import Decided, Say, Transfer

    actions = dialogue.heard(heard("我家着火了，快来人"))
    assert isinstance(actions[0], Decided) and actions[0].decision.redirect_to == "119"
    said = next(a for a in actions if isinstance(a, Say))
    assert said.text.index("幺幺九") < said.text.index("按一立即为您转接")
    (transfer,) = dialogue.key("1")
    assert transfer == Transfer("119", None, "emergency_pressed") and dialogue.ended


def test_noise_is_reprompted_then_the_caller_goes_to_a_seat(dialogue):
    from voice.dialogue import Say, Transfer

    (reprompt,) = dialogue.heard(heard(""))
    assert isinstance(reprompt, Say) and reprompt.purpose == "reprompt" and "没有听清" in reprompt.text
    actions = dialogue.silence()
    transfer = actions[-1]
    assert isinstance(transfer, Transfer) and transfer.reason == "no_input" and transfer.ticket_number


def test_keys_that_mean_nothing_here_say_so_and_repeat_the_prompt(dialogue):
    from voice.dialogue import Say

    greeting = dialogue.start()[0]
    invalid, again = dialogue.key("7")
    assert invalid.purpose == "invalid_key" and again == greeting
    assert dialogue.key("*") == [greeting]
    with pytest.raises(ValueError, match="0-9"):
        dialogue.key("A")
    assert isinstance(greeting, Say)
