"""Classifying handoff tickets: code tables, the untrained fallback, the trained classifier and its evaluation."""
import json
from datetime import timedelta

import pytest

from desk.categories import Category, CategoryMatcher, CodeTableError, read_code_table
from evaluation.classify import LabelledFileError, evaluate_classifier, read_labelled
from models.text_classifier import ClassifierError, TextClassifier

TRAINING = {
    "供水": [
        "我家小区今天一早就停水了，也没有提前通知，什么时候能恢复供水？",
        "自来水管道在路边爆裂，水流了一地，请尽快派人来抢修。",
        "最近家里的自来水发黄还有异味，不敢喝，请检测一下水质。",
        "这个月水费比平时高了三倍，怀疑水表有问题，要求上门核查。",
        "楼上水压太低，六楼以上一到晚上就没有水，请解决二次供水问题。",
        "小区停水已经两天了，老人孩子没法洗漱做饭，请水务公司给个说法。",
        "新房申请装水表一个多月了还没人来装，自来水公司一直拖着。",
        "水龙头里放出来的水浑浊，有很多沉淀物，自来水是不是被污染了。",
        "供水公司计划停水的通知贴得太晚，我们根本没时间储水。",
        "阶梯水价是怎么计算的，家里人口多用水量大，能不能申请增加基数。",
        "村里的自来水管网一直没有通上，村民还在喝井水，希望尽快接通自来水。",
        "水表井盖坏了，水表被冻裂漏水，请供水部门来更换。",
    ],
    "交通": [
        "我们这里的公交车班次太少，早高峰等了四十分钟都没来一辆。",
        "路口的红绿灯坏了好几天，车辆乱穿，很容易出交通事故。",
        "建议在学校门口增设人行横道和减速带，孩子过马路太危险。",
        "出租车司机拒载还绕路多收费，要投诉这辆出租车。",
        "高速公路出口长期拥堵，排队要一个小时，请交管部门疏导。",
        "新开通的地铁线路离我们小区太远，希望增加接驳公交线路。",
        "公交车司机开车太猛，急刹车导致老人摔倒，要求公交公司处理。",
        "道路上的违停车辆占用了公交车道，交警不管吗？",
        "这条国道坑坑洼洼，大货车超载严重，路面被压坏了。",
        "网约车平台乱收费，行程结束后多扣了钱，客服不处理。",
        "长途汽车站的班车停运了，也不公告，乘客白跑一趟。",
        "电动车在机动车道上逆行的太多了，建议加强交通执法。",
    ],
    "教育": [
        "孩子今年上小学，户口在这里但是房子是租的，能不能在片区学校入学？",
        "学校要求家长统一购买校服和教辅资料，价格很贵，这合理吗？",
        "幼儿园乱收费，除了保育费还要交各种兴趣班的钱。",
        "老师在课外办补习班，暗示学生必须参加，要求教育局查处。",
        "初中学生作业太多了，每天写到晚上十一点，请教育部门落实减负。",
        "民办学校招生时承诺的奖学金没有兑现，家长要求退费。",
        "孩子在学校被同学欺负，班主任不管，向教育局反映校园欺凌。",
        "高考报名需要哪些材料，随迁子女能否在本地参加高考？",
        "学校食堂饭菜质量差，价格还高，学生吃不饱。",
        "中小学课后延时服务收费标准是什么，可以自愿参加吗？",
        "希望在新建小区旁边配套建设一所公办小学，孩子上学太远。",
        "教师的绩效工资被拖欠了半年，学校说是教育局没拨款。",
    ],
}


def rows(classes=TRAINING):
    return [(text, label) for label, texts in classes.items() for text in texts]


@pytest.fixture(scope="module")
def trained(embedder):
    texts, labels = zip(*rows())
    return TextClassifier.train(texts, labels, embedder.embed_passages)


# --- the trained classifier --------------------------------------------------------------------------

def test_classifier_files_clearly_worded_new_messages_under_their_class(trained, embedder):
    new = ["我们街道从昨晚开始没有自来水，到现在还没来水。",
           "上班坐的那路公交车经常不按时刻表发车，能不能多加几班？",
           "孩子转学到本市，需要去哪里办理入学手续？"]
    predicted = trained.predict(new, embedder.embed_passages)
    assert [label for label, _p in predicted] == ["供水", "交通", "教育"]
    assert all(0.0 < p <= 1.0 for _label, p in predicted)


def test_classifier_probabilities_cover_every_label_and_sum_to_one(trained, embedder):
    probabilities = trained.predict_proba(["小区停水了", "学校乱收费"], embedder.embed_passages)
    assert trained.labels == ["交通", "供水", "教育"]
    assert probabilities.shape == (2, 3)
    assert probabilities.sum(axis=1) == pytest.approx([1.0, 1.0])


def test_saved_classifier_loads_and_predicts_the_same(trained, embedder, tmp_path):
    trained.save(tmp_path / "clf")
    meta = json.loads((tmp_path / "clf" / "meta.json").read_text(encoding="utf-8"))
    assert meta["labels"] == trained.labels and meta["n_examples"] == 36
    assert meta["embedder_id"] == embedder.model_id and meta["method"] == trained.method and meta["trained_at"]

    loaded = TextClassifier.load(tmp_path / "clf", embedder.model_id)
    texts = ["水管漏水没人修", "公交站台被拆了"]
    before, after = trained.predict(texts, embedder.embed_passages), loaded.predict(texts, embedder.embed_passages)
    assert [label for label, _p in after] == [label for label, _p in before]
    assert [p for _label, p in after] == pytest.approx([p for _label, p in before])


def test_loading_for_another_embedder_is_refused(trained, tmp_path):
    trained.save(tmp_path / "clf")
    with pytest.raises(ClassifierError, match="Train the classifier again"):
        TextClassifier.load(tmp_path / "clf", "another-model@0123")


def test_loading_a_folder_without_a_classifier_says_so(tmp_path):
    with pytest.raises(ClassifierError, match="no saved classifier"):
        TextClassifier.load(tmp_path, "any")


def test_character_method_needs_no_embedder():
    texts, labels = zip(*rows())
    classifier = TextClassifier.train(texts, labels, method="chars")
    assert classifier.predict(["自来水停水了"])[0][0] == "供水"


def test_training_on_one_label_is_refused(embedder):
    with pytest.raises(ClassifierError, match="two different labels"):
        TextClassifier.train(["停水了", "又停水了"], ["供水", "供水"], embedder.embed_passages)


# --- evaluation ------------------------------------------------------------------------------------

def test_read_labelled_reads_text_and_label(tmp_path):
    path = tmp_path / "labelled.jsonl"
    path.write_text('{"text": "停水了", "label": "供水"}\n\n{"text": "公交太少", "label": "交通"}\n', encoding="utf-8")
    assert read_labelled(path) == [("停水了", "供水"), ("公交太少", "交通")]


def test_read_labelled_reports_each_bad_line_with_its_number(tmp_path):
    path = tmp_path / "labelled.jsonl"
    path.write_text('{"text": "停水了", "label": "供水"}\n'
                    '{"text": "公交太少", "label": 交通}\n'
                    '{"text": "学校乱收费"}\n'
                    '["not", "an", "object"]\n', encoding="utf-8")
    with pytest.raises(LabelledFileError) as raised:
        read_labelled(path)
    message = str(raised.value)
    assert f"{path}:2: not JSON" in message
    assert f"{path}:3: needs a non-empty \"label\"" in message
    assert f"{path}:4: expected a JSON object" in message
    assert f"{path}:1" not in message


def test_evaluate_classifier_reports_accuracy_and_macro_f1(embedder):
    train = {label: texts[:9] for label, texts in TRAINING.items()}
    test = {label: texts[9:] for label, texts in TRAINING.items()}
    figures = evaluate_classifier(rows(train), rows(test), embedder.embed_passages)
    assert figures["train"] == 27 and figures["test"] == 9 and figures["labels"] == 3
    assert figures["accuracy"] >= 0.75 and figures["macro_f1"] >= 0.7


# --- code tables -----------------------------------------------------------------------------------

def test_shipped_code_table_reads_with_paths():
    from pathlib import Path

    table = read_code_table(Path(__file__).resolve().parents[1] / "knowledge_base" / "seed" / "categories.csv")
    by_code = {c.code: c for c in table}
    assert by_code["GG"] == Category("GG", "公共服务", None, ("公共服务",))
    assert by_code["GG0401"].path == ("公共服务", "公用事业", "供水")
    assert by_code["GG0401"].parent == "GG04"


def test_coded_table_in_gbk_with_parent_after_child(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_bytes("code,name,parent\r\nA01,供水,A\r\nA,公用事业,\r\n".encode("gbk"))
    assert read_code_table(path) == [Category("A", "公用事业", None, ("公用事业",)),
                                     Category("A01", "供水", "A", ("公用事业", "供水"))]


def test_level_table_with_bom_gets_codes_by_first_seen_order(tmp_path):
    path = tmp_path / "levels.csv"
    path.write_text("一级分类,二级分类,三级分类\n"
                    "城乡建设,安全生产,事故处理\n"
                    "城乡建设,安全生产,安全隐患\n"
                    "城乡建设,市政管理,供水\n"
                    "交通运输,其他,\n", encoding="utf-8-sig")
    table = {c.path: c for c in read_code_table(path)}
    assert table[("城乡建设",)] == Category("L1-01", "城乡建设", None, ("城乡建设",))
    assert table[("城乡建设", "安全生产", "安全隐患")] == Category(
        "L1-01-01-02", "安全隐患", "L1-01-01", ("城乡建设", "安全生产", "安全隐患"))
    assert table[("城乡建设", "市政管理", "供水")].code == "L1-01-02-01"
    assert table[("交通运输", "其他")].code == "L1-02-01"
    assert len(table) == 8


def test_level_table_in_gbk_reads_the_same_as_utf8(tmp_path):
    text = "一级分类,二级分类\r\n教育文体,学校管理\r\n教育文体,招生考试\r\n"
    (tmp_path / "utf8.csv").write_text(text, encoding="utf-8")
    (tmp_path / "gbk.csv").write_bytes(text.encode("gbk"))
    assert read_code_table(tmp_path / "gbk.csv") == read_code_table(tmp_path / "utf8.csv")


@pytest.mark.parametrize("content, expected", [
    ("code,name,parent\nA,公用事业,\nA01,供水,B\n", ["line 3: unknown parent 'B'"]),
    ("code,name,parent\nA,公用事业,\nA,交通,\n", ["line 3: duplicate code 'A' (first on line 2)"]),
    ("code,name,parent\nA,公用事业,\nA01,,A\n", ["line 3: empty name"]),
    ("code,name,parent\nA,公用事业,B\nB,交通,A\n", ["line 2: 'A' is its own ancestor"]),
    ("编号,类别\nA,公用事业\n", ["line 1: unrecognised header"]),
    ("一级分类,二级分类\n城乡建设,安全生产\n,市政管理\n", ["line 3: empty name at level 1"]),
    ("一级分类,三级分类\n城乡建设,安全生产\n", ["line 1: unrecognised header"]),
    ("code,name,parent\nA,公用事业,\n\nB,交通,\nB,教育,\nC01,供水,C\n",
     ["line 5: duplicate code 'B' (first on line 4)", "line 6: unknown parent 'C'"]),
])
def test_code_table_problems_name_their_lines(tmp_path, content, expected):
    path = tmp_path / "table.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CodeTableError) as raised:
        read_code_table(path)
    for fragment in expected:
        assert fragment in str(raised.value)


def test_code_table_that_is_not_text_is_refused(tmp_path):
    path = tmp_path / "table.csv"
    path.write_bytes(b"code,name,parent\n\xff\xfe\x00\x81\n")
    with pytest.raises(CodeTableError, match="line 2: neither UTF-8 nor GBK"):
        read_code_table(path)


# --- the untrained fallback ------------------------------------------------------------------------

def test_category_matcher_files_an_obvious_ticket_under_its_category(tmp_path, embedder):
    path = tmp_path / "levels.csv"
    path.write_text("一级分类,二级分类,三级分类\n"
                    "城乡建设,市政管理,自来水供应\n"
                    "城乡建设,市政管理,燃气供应\n"
                    "交通运输,公共交通,公交线路\n"
                    "交通运输,道路管理,交通信号灯\n"
                    "教育文体,学校管理,招生入学\n"
                    "卫生计生,医疗服务,医院管理\n", encoding="utf-8")
    matcher = CategoryMatcher(read_code_table(path), embedder)
    assert all(len(c.path) == 3 for c in matcher.categories)  # leaves only

    ranked = matcher.classify("我家从昨天开始停水，水龙头一滴水都没有，什么时候恢复供水？", k=3)
    assert ranked[0][0].name == "自来水供应"
    assert len(ranked) == 3
    scores = [score for _c, score in ranked]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-6


# --- seats' corrections as labels ------------------------------------------------------------------

def _filed_by_seat(db, words: list[str], code: str, now=None) -> str:
    """A ticket opened on the citizen's `words` and filed under `code` by a seat; its number."""
    from desk.tickets import TicketDesk, TicketDraft

    desk = TicketDesk(db)
    number = desk.open(TicketDraft(channel="chat", summary=words[0], reason="low_confidence", request_type="投诉",
                                   urgency="一般", transcript=[{"text": w} for w in words]), now=now).number
    desk.reclassify(number, "seat-wang", code, "", now=now)
    return number


@pytest.fixture
def seed_codes(db):
    from pathlib import Path

    from desk.classification import CodeTable

    CodeTable(db).replace(read_code_table(Path(__file__).resolve().parents[1] / "knowledge_base" / "seed" / "categories.csv"))
    return db


def test_a_ticket_a_seat_filed_is_a_label_with_its_top_level_name_and_all_the_citizens_words(seed_codes):
    from desk.classification import seat_labels
    from desk.tickets import TicketDesk, TicketDraft
    from ground.clock import utcnow

    number = _filed_by_seat(seed_codes, ["我要反映个事情", "小区停水两天了还没来水"], "GG0401")
    TicketDesk(seed_codes).open(TicketDraft(channel="chat", summary="公交太少", reason="low_confidence", request_type="投诉",
                                            urgency="一般", transcript=[{"text": "公交太少"}], category_code="GG0404",
                                            category_source="classifier"))
    [label] = seat_labels(seed_codes, since=utcnow() - timedelta(days=1))
    assert (label.number, label.text, label.label) == (number, "我要反映个事情\n小区停水两天了还没来水", "公共服务")


def test_seat_labels_down_to_a_level_name_the_path(seed_codes):
    from desk.classification import seat_labels
    from ground.clock import utcnow

    _filed_by_seat(seed_codes, ["小区停水两天了"], "GG0401")
    [label] = seat_labels(seed_codes, since=utcnow() - timedelta(days=1), level=2)
    assert label.label == "公共服务 / 公用事业"


def test_corrections_older_than_the_window_are_left_out(seed_codes):
    from desk.classification import seat_labels
    from ground.clock import utcnow

    _filed_by_seat(seed_codes, ["小区停水两天了"], "GG0401", now=utcnow() - timedelta(days=100))
    recent = _filed_by_seat(seed_codes, ["公交车班次太少"], "GG0404")
    assert [label.number for label in seat_labels(seed_codes, since=utcnow() - timedelta(days=90))] == [recent]


def test_a_text_in_the_file_and_at_the_desk_takes_the_seats_label():
    from desk.classification import SeatLabel, merge_labels

    merged = merge_labels([("小区停水了", "交通"), ("学校乱收费", "教育")], [SeatLabel("T1", "小区停水了 ", "供水")])
    assert sorted(merged) == [("学校乱收费", "教育"), ("小区停水了 ", "供水")]


# --- e5-codes: the code table's names and unlabelled messages --------------------------------------

NAMES = {"供水": ["公用事业 / 供水", "公用事业 / 供水 / 停水", "公用事业 / 供水 / 水质"],
         "交通": ["交通运输 / 公共交通", "交通运输 / 道路管理"],
         "教育": ["教育文体 / 学校管理", "教育文体 / 招生入学"]}
PAST = ["昨晚开始整栋楼都没水了", "公交站牌上的时刻表不准", "孩子幼儿园报名要什么材料", "水管冻裂了没人修"]


def test_a_classifier_trained_with_the_code_tables_names_predicts_the_same_after_loading(embedder, tmp_path):
    texts, labels = zip(*rows())
    trained = TextClassifier.train(texts, labels, embedder.embed_passages, method="e5-codes", label_names=NAMES,
                                   unlabelled=PAST)
    trained.save(tmp_path / "clf")
    loaded = TextClassifier.load(tmp_path / "clf", embedder.model_id)
    new = ["我们街道从昨晚开始没有自来水", "上班坐的公交车经常不按时发车", "孩子转学需要去哪里办手续"]
    assert [label for label, _p in loaded.predict(new, embedder.embed_passages)] == ["供水", "交通", "教育"]
    assert loaded.predict_proba(new, embedder.embed_passages) == pytest.approx(trained.predict_proba(new, embedder.embed_passages))


def test_a_label_reads_as_its_category_and_every_category_under_it():
    from desk.classification import label_names

    table = [Category("A", "城乡建设", None, ("城乡建设",)), Category("A1", "供水", "A", ("城乡建设", "供水")),
             Category("A2", "其他", "A", ("城乡建设", "其他")), Category("B", "交通运输", None, ("交通运输",)),
             Category("B1", "其他", "B", ("交通运输", "其他"))]
    names = label_names(table, ["城乡建设", "A1", "交通运输 / 其他", "其他", "不在表里"])
    assert names == {"城乡建设": ["城乡建设", "城乡建设 / 供水", "城乡建设 / 其他"], "A1": ["城乡建设 / 供水"],
                     "交通运输 / 其他": ["交通运输 / 其他"]}


def test_unlabelled_messages_read_with_their_subject_first(tmp_path):
    from evaluation.classify import read_unlabelled

    path = tmp_path / "past.jsonl"
    path.write_text('{"subject": "小区停水", "text": "两天没水了"}\n{"text": "公交太少"}\n', encoding="utf-8")
    assert read_unlabelled(path) == ["小区停水。两天没水了", "公交太少"]
