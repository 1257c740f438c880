"""What staff read on the case page and the manager view names things, in their language:
the pathway, the region, each step and each history entry by its name — never an element id
(``Task_…``), a process id, an event code (``message_queued``) or an English word in the
Finnish or Swedish page. Also: a stuck case's diagram marks the step it stopped after."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from orchestrator.services import cases, deploy

from ..api.test_stuck_cases import in_nurse_lane, start
from ..api.walk import REFERRAL, do
from ..conftest import principal
from ..engine.helpers import STANDARD_COMPONENTS, form_json
from ..engine.test_stuck import fake_join
from .test_pages import post, sign_in

CODES = re.compile(r"\b(?:Task|Gateway|Event|Flow|StartEvent|Join|Gw)_\w+|\b[a-z]+(?:_[a-z]+)+\b")


class _Text(HTMLParser):
    """The text a person sees: no tags, attributes, scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


@pytest.fixture
def health_check(deployed) -> int:
    return cases.start_case(deployed, principal(deployed, "rita"), "unemployed_health_check", "north",
                            dict(REFERRAL))["id"]


@pytest.fixture
def fake_join_pathway(deployed):
    deploy.deploy(deployed, None, {"fake_join.bpmn": in_nurse_lane(fake_join(), "stuck_fake_join",
                                                                   "Task_Fast", "Task_Normal")},
                  {"start.form": form_json(*STANDARD_COMPONENTS["start"]).encode()})
    return deployed


@pytest.mark.parametrize("lang, words", [
    ("fi", ["Työttömien terveystarkastus (versio 1)", "Pohjoinen", "rita · asiakkuus alkoi",
            "järjestelmä · ilmoitus lähetysjonossa · Ilmoita terveydenhoitajille", "suostumus kirjattu",
            "TE-palvelut / kunnan työllisyyspalvelut"]),
    ("sv", ["Työttömien terveystarkastus (version 1)", "Pohjoinen", "rita · klientskapet inleddes",
            "systemet · avisering i sändningskö · Ilmoita terveydenhoitajille", "samtycke registrerat",
            "TE-tjänster / kommunens sysselsättningstjänster"]),
])
def test_the_case_page_names_the_pathway_region_steps_and_history_in_the_users_language(
        app, health_check, lang, words):
    nina = sign_in(app, "nina")
    post(nina, "/language", {"lang": lang, "next": "/inbox"})
    text = visible(nina.get(f"/cases/{health_check}").get_data(as_text=True))
    for w in words:
        assert w in text, (w, text)
    assert CODES.findall(text) == [], text  # no element id, process id or event code
    for english in ("case started", "message queued", "consent recorded", "system ·"):
        assert english not in text


def test_a_stuck_case_page_names_where_it_stopped_and_marks_it_on_the_diagram(
        app, fake_join_pathway, token_client_for):
    nina_api = token_client_for("nina")
    case_id = start(nina_api, "stuck_fake_join", "ST-W1")
    do(nina_api, case_id, "Task_Normal", {})

    html = sign_in(app, "nina").get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-stuck="Task_Normal"' in html  # diagram.js marks it as the problem step
    assert 'data-error="Kaaviota ei voitu näyttää."' in html  # a failed diagram says so in Finnish
    text = visible(html)
    assert "Asiakkuus on jumissa vaiheen Käsittely jälkeen" in text
    assert "nina · tehtävä otettu itselle · Käsittely" in text  # a claim is named by its step, not its id
    assert "järjestelmä · ongelma kirjattu · Käsittely" in text
    assert "Jumitesti stuck_fake_join (versio 1)" in text  # the test pathway's name (it has a code in it)
    assert CODES.findall(text.replace("Jumitesti stuck_fake_join", "")) == [], text


def test_the_manager_view_names_stuck_steps_milestones_and_regions_without_codes(
        app, fake_join_pathway, token_client_for, health_check):
    nina_api = token_client_for("nina")
    do(nina_api, start(nina_api, "stuck_fake_join", "ST-W2"), "Task_Normal", {})

    mia = sign_in(app, "mia")
    html = mia.get("/manage?pathway=unemployed_health_check").get_data(as_text=True)
    assert '<td data-element="Task_Normal">Käsittely</td>' in html
    text = visible(html)
    assert "Task_Normal" not in text
    assert "terveystarkastus tehty" in text and "health_check_done" not in text  # the milestone row
    assert "Pohjoinen" in text  # the open-work table names the region
    post(mia, "/language", {"lang": "sv", "next": "/manage"})
    text = visible(mia.get("/manage?pathway=unemployed_health_check").get_data(as_text=True))
    assert "Klientskap som har fastnat" in text and "hälsokontrollen utförd" in text


def test_the_inbox_and_the_task_page_name_the_region(app, health_check):
    nina = sign_in(app, "nina")
    inbox = nina.get("/inbox?scope=role").get_data(as_text=True)
    assert "<td>Pohjoinen</td>" in inbox and "<td>north</td>" not in inbox
    task = re.search(r'href="(/tasks/[^"]+)"', inbox).group(1)
    assert "<dd>Pohjoinen</dd>" in nina.get(task).get_data(as_text=True)
