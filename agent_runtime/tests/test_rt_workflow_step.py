"""The workflow step's reading of A2A answers (issue #25): kagent's own agents answer message/send with a Task whose
artifacts hold the text, the runtime with a Message; a failed Task is a failed step; outputs are picked by path with
errors that say what the reply holds; untrusted URLs are refused before any connection."""

from __future__ import annotations

import json

import pytest

from agent_runtime.workflow_step import StepError, build_fields, document, main_step, notify, reply_text, select


def test_a_message_answer():
    result = {"kind": "message", "parts": [{"kind": "text", "text": '{"result": '}, {"kind": "text", "text": "1}"}]}
    assert reply_text(result) == '{"result": 1}'


def test_a_task_answer_reads_its_artifacts_then_its_status_message():
    task = {
        "kind": "task",
        "status": {"state": "completed"},
        "artifacts": [{"parts": [{"kind": "text", "text": "done"}, {"kind": "data", "data": {"x": 1}}]}],
    }
    assert reply_text(task) == "done"
    only_status = {
        "kind": "task",
        "status": {"state": "completed", "message": {"parts": [{"kind": "text", "text": "from status"}]}},
    }
    assert reply_text(only_status) == "from status"


def test_a_failed_task_fails_the_step_with_the_agents_message():
    task = {"kind": "task", "status": {"state": "failed", "message": {"parts": [{"kind": "text", "text": "boom"}]}}}
    with pytest.raises(StepError, match="ended failed: boom"):
        reply_text(task)


def test_outputs_by_path_and_errors_that_say_what_is_there():
    doc = document('{"result": {"data": [{"name": "a"}]}}')
    assert select(doc, ".result.data[0].name") == "a"
    assert select(doc, ".") == doc
    with pytest.raises(StepError, match=r"no 'summary' in the reply \(there: data\)"):
        select(doc, ".result.summary")
    with pytest.raises(StepError, match=r"no item \[3\]"):
        select(doc, ".result.data[3]")
    assert document("plain words") == {"result": "plain words"}
    assert select(document("plain words"), ".result") == "plain words"
    assert document("42") == {"result": 42}


def test_fields_from_arguments():
    assert build_fields(["topic=a=b"], ['sources=["web"]'], ["criteria=x", "criteria=y"]) == {
        "topic": "a=b",
        "sources": ["web"],
        "criteria": ["x", "y"],
    }
    with pytest.raises(StepError, match="not key=value"):
        build_fields(["novalue"], [], [])
    with pytest.raises(StepError, match="not JSON"):
        build_fields([], ["x={"], [])


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "ftp://x/", "http//x"])
def test_only_http_urls_are_called(url, capsys):
    args = {
        "agent": "a",
        "namespace": "n",
        "url": url,
        "workflow": "w",
        "run": "r",
        "step": "s",
        "timeout": 5,
        "field": [],
        "field_json": [],
        "item": [],
        "output": [],
        "outputs_dir": "/nonexistent",
    }
    with pytest.raises(SystemExit) as exc:
        main_step(args)
    assert exc.value.code == 2 and "is not an http(s) URL" in capsys.readouterr().err


@pytest.mark.parametrize("hook", ["http://hooks.slack.com/x", "file:///tmp/x", "https://", "javascript:alert(1)"])
def test_the_notification_goes_to_https_only(hook):
    with pytest.raises(StepError, match="https://"):
        notify(hook, "w", "r", "Failed", json.dumps([]))
