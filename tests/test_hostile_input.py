"""Hostile input gets a clear 4xx in the error shape: numbers past what the database stores, JSON nested past
any request of ours, knowledge files nested the same way (issue: hostile input refused)."""
from __future__ import annotations

import pytest

from api.bounds import SQL_INT_MAX
from api.limits import json_depth
from knowledge_base.io import KnowledgeFileError, read_entries

HUGE = SQL_INT_MAX + 1


@pytest.mark.parametrize("path", ["/v1/changes/{n}", "/v1/gaps/{n}", "/v1/changes?offset={n}", "/v1/entries?offset={n}",
                                  "/v1/audit?before_id={n}", "/v1/tickets?offset={n}"])
def test_an_id_or_offset_past_what_the_database_stores_is_a_422_in_the_error_shape(inprocess, path):
    role = {"/v1/audit": "reviewer", "/v1/tickets": "seat"}.get(path.split("?")[0], "editor")
    response = inprocess.client.get(path.format(n=HUGE), headers=inprocess.headers(role))
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


def test_publishing_a_change_id_past_what_the_database_stores_is_a_422(inprocess):
    response = inprocess.client.post("/v1/changes/publish", json={"ids": [HUGE]}, headers=inprocess.headers("reviewer"))
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


def test_a_huge_version_inside_a_draft_entry_is_not_a_server_error(inprocess):  # a new entry's version is ours to set
    entry = {"question": "路灯坏了找谁", "chat_answer": "请拨打12345。", "version": HUGE, "region": "江苏省/南京市"}
    response = inprocess.client.post("/v1/changes", json={"kind": "create", "entry": entry}, headers=inprocess.headers("editor"))
    assert response.status_code < 500, response.text


def test_json_nested_past_the_limit_is_refused_before_it_is_parsed(inprocess):
    body = "[" * 5_000 + "]" * 5_000  # within the body size limit
    response = inprocess.client.post("/v1/chat", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "too_deep"


def test_json_nested_within_the_limit_goes_through_to_the_route(inprocess):
    response = inprocess.client.post("/v1/chat", json={"text": "你好", "choice": None, "region": None})
    assert response.status_code == 200


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert json_depth(b'{"text": "[[[[{{{{", "a": [1, {"b": "\\"]]"}]}') == 3


def test_a_yaml_knowledge_file_nested_past_reason_is_refused_with_its_problem(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("entries: " + "[" * 20_000 + "]" * 20_000, encoding="utf-8")
    with pytest.raises(KnowledgeFileError) as refused:
        read_entries(path)
    assert "nested far deeper" in str(refused.value)
