"""Validation of every value that reaches AMI or the dialplan: numbers, agents, destinations."""

from __future__ import annotations

import re

from callcenter.errors import Refusal

NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
AGENT = re.compile(r"^[0-9]{1,10}$")
QUEUE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class CallRefusal(Refusal):
    """A call-control request the rules refuse (HTTP status in ``code``)."""

    def __init__(self, code: int, msg_id: str, /, **values: object) -> None:
        super().__init__(msg_id, **values)
        self.code = code


def number(value: object) -> str:
    """A phone number: digits with an optional leading '+', 3 to 20 digits (spaces and dashes dropped)."""
    text = re.sub(r"[\s-]", "", str(value or ""))[:40]
    if not NUMBER.match(text):
        raise CallRefusal(422, "call_bad_number", number=str(value)[:40])
    return text


def agent(value: object) -> str:
    text = str(value or "").strip()
    if not AGENT.match(text):
        raise CallRefusal(422, "call_bad_agent", agent=text[:20])
    return text


def queue(value: object) -> str:
    text = str(value or "").strip()
    if not QUEUE.match(text):
        raise CallRefusal(422, "call_bad_target", target=text[:40])
    return text
