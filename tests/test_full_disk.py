"""A full disk under the SQLite default: a clear 503 `storage_full`, nothing already written lost, the database intact,
and writes working again once there is space.

The disk is made full for real, without root: SQLite's `PRAGMA max_page_count` caps the database at the pages it has
now, on every connection the service's engine hands out, so a write that needs one more page fails with SQLite's own
"database or disk is full" (SQLITE_FULL), as on a full file system."""
from __future__ import annotations

import contextlib
import re

import pytest
from sqlalchemy import event, text

CHINESE = re.compile(r"[\u4e00-\u9fff]")
ENOUGH_MESSAGES = 400  # the free pages inside the file take some writes before the cap bites


def chat(inprocess, text: str, **extra):
    return inprocess.client.post("/v1/chat", json={"text": text, "region": "江苏省/南京市", **extra})


@contextlib.contextmanager
def disk_full(inprocess):
    """The in-process service's database capped at its current size; the cap is lifted (space is back) afterwards."""
    engine = inprocess.services.db.engine
    with engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()

    def cap(dbapi_connection, record, proxy) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(engine, "checkout", cap)
    try:
        yield
    finally:
        event.remove(engine, "checkout", cap)
        engine.dispose()  # the pooled connections still carry the cap; new ones do not


def fill(inprocess, write=None):
    """Writes (a citizen's chat message, unless told otherwise) until one no longer fits; that response."""
    write = write or (lambda number: chat(inprocess, f"第{number}次询问：核酸检测点在哪里，周末开放吗"))
    for number in range(ENOUGH_MESSAGES):
        response = write(number)
        if response.status_code not in (200, 201):
            return response
    pytest.fail(f"{ENOUGH_MESSAGES} writes fitted into a database capped at its size")


def test_a_citizens_message_on_a_full_disk_is_a_503_storage_full_in_chinese(inprocess):
    with disk_full(inprocess):
        response = fill(inprocess)
    assert response.status_code == 503 and response.headers["retry-after"]
    error = response.json()["error"]
    assert error["code"] == "storage_full" and CHINESE.search(error["message"])


def test_a_staff_write_on_a_full_disk_is_a_503_storage_full_saying_what_to_do(inprocess):
    def draft(number: int):
        entry = {"question": f"满盘时新建的条目{number}", "chat_answer": "请拨打12345。", "region": "江苏省/南京市"}
        return inprocess.client.post("/v1/changes", json={"kind": "create", "entry": entry}, headers=inprocess.headers("editor"))

    with disk_full(inprocess):
        response = fill(inprocess, draft)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "storage_full" and "disk" in error["message"]


def test_a_full_disk_loses_nothing_already_written_and_leaves_the_database_intact(inprocess):
    session = chat(inprocess, "医保卡丢了怎么补办").json()["session"]
    with disk_full(inprocess):
        assert fill(inprocess).status_code == 503
    with inprocess.services.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        turns = connection.execute(text("SELECT COUNT(*) FROM conversation_turns WHERE conversation_id = :id"),
                                   {"id": session}).scalar()
    assert turns == 1


def test_writes_work_again_once_there_is_space(inprocess):
    with disk_full(inprocess):
        assert fill(inprocess).status_code == 503
    assert chat(inprocess, "医保卡丢了怎么补办").status_code == 200
