"""A conversation's id is issued by the server and belongs to its channel: a chat client cannot name a WeChat
citizen's conversation, nor one it was never given (issue: sessions belong to their channel and holder)."""
from __future__ import annotations

import re
import uuid

NANJING = "江苏省/南京市"


def chat(inprocess, **body):
    return inprocess.client.post("/v1/chat", json={"region": NANJING} | body)


def test_a_new_chat_gets_an_unguessable_id_from_the_server(inprocess):
    session = chat(inprocess, text="你好").json()["session"]
    assert re.fullmatch(r"chat-[0-9a-f]{32}", session)


def test_a_chat_continues_the_conversation_the_server_gave_it(inprocess):
    first = chat(inprocess, text="公积金怎么提取").json()
    assert chat(inprocess, text="1", session=first["session"]).json()["session"] == first["session"]


def test_a_chat_cannot_name_a_wechat_citizens_conversation(inprocess):
    response = chat(inprocess, text="我刚才问的是什么", session="wx:oWx-someone-else")
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["where"].endswith("session")


def test_a_chat_naming_an_id_it_was_never_given_starts_a_new_conversation(inprocess):
    invented = f"chat-{uuid.uuid4().hex}"
    assert chat(inprocess, text="你好", session=invented).json()["session"] != invented
