"""The simulated model behind the fake server, over real HTTP.

It must answer each case from the distribution the test gives for the request's features,
reproducibly from (case, request seed), hold a ``response_format`` enum, and leave the
directive scripting and the echo as they were.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

import pytest

from workbench.testing.fakeserver import FakeServer
from workbench.testing.simulated import SimRequest, SimulatedModel

SEEN: list[SimRequest] = []


def policy(req: SimRequest) -> dict[str, float]:
    SEEN.append(req)
    if req.case == "odd":
        return {}
    if req.temperature == 0:
        return {"billing": 1.0}
    right = 0.9 if req.few_shot else 0.7
    if req.format_instruction:
        return {"billing": right, "shipping": 1 - right}
    return {"billing": right, "I think it is about money": 1 - right}


def chat(srv: FakeServer, user: str, **body: Any) -> str:
    messages = body.pop("messages", None) or [{"role": "user", "content": user}]
    data = json.dumps({"model": "fake", "messages": messages, **body}).encode()
    req = urllib.request.Request(srv.base_url + "/chat/completions", data=data,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - localhost only
        return json.loads(resp.read())["choices"][0]["message"]["content"]


@pytest.fixture
def sim_server():
    SEEN.clear()
    with FakeServer(simulator=SimulatedModel(policy, seed=1)) as srv:
        yield srv


def test_features_reach_the_policy(sim_server: FakeServer) -> None:
    messages = [{"role": "system", "content": "Answer with one word."},
                {"role": "user", "content": "Ticket: case c7 refund"},
                {"role": "assistant", "content": "billing"},
                {"role": "user", "content": "Ticket: case c8 late parcel"}]
    schema = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {
        "type": "object", "properties": {"answer": {"type": "string",
                                                    "enum": ["billing", "account"]}}}}}
    text = chat(sim_server, "", messages=messages, temperature=0.7, seed=4000,
                response_format=schema)
    req = SEEN[-1]
    assert (req.case, req.few_shot, req.format_instruction, req.temperature, req.seed) == (
        "c8", True, True, 0.7, 4000)
    assert req.constrained and req.choices == ("billing", "account")
    assert json.loads(text) == {"answer": "billing"}  # the enum holds: never "shipping"
    chat(sim_server, "case c9 please", temperature=0)
    req = SEEN[-1]
    assert (req.case, req.few_shot, req.format_instruction, req.constrained) == (
        "c9", False, False, False)


def test_draws_are_reproducible_and_follow_the_distribution(sim_server: FakeServer) -> None:
    first = [chat(sim_server, "Ticket: case c1", temperature=0.7, seed=s) for s in range(300)]
    again = [chat(sim_server, "Ticket: case c1", temperature=0.7, seed=s) for s in range(300)]
    assert first == again  # the same (case, seed, messages): the same reply, any order
    counts = Counter(first)
    assert set(counts) == {"billing", "I think it is about money"}
    assert counts["billing"] / 300 == pytest.approx(0.7, abs=0.08)  # binomial sd 0.026
    other_case = [chat(sim_server, "Ticket: case c2", temperature=0.7, seed=s)
                  for s in range(300)]
    assert other_case != first  # independent draws per case
    assert {chat(sim_server, "Ticket: case c1", temperature=0, seed=s)
            for s in range(20)} == {"billing"}


def test_directives_and_unknown_requests_keep_their_behaviour(sim_server: FakeServer) -> None:
    assert chat(sim_server, "case c1 [[reply:scripted]]") == "scripted"
    assert chat(sim_server, "nothing to route") == "echo: nothing to route"
    assert chat(sim_server, "case odd") == "echo: case odd"  # the policy declined it
    sim_server.simulate(None)
    assert chat(sim_server, "Ticket: case c1") == "echo: Ticket: case c1"


def test_a_policy_outside_its_constraint_is_a_test_bug(sim_server: FakeServer) -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {
        "type": "object", "properties": {"answer": {"enum": ["account"]}}}}}
    with pytest.raises(urllib.error.HTTPError) as info:
        chat(sim_server, "case c3", temperature=0, response_format=schema)
    assert info.value.code == 400
    assert "gave no answer the response_format allows (account)" in info.value.read().decode()
