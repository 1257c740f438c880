"""The manager view through the Flask test client: only managers, coordinators and admins;
counts and durations, never a client reference, neither on the page nor in its CSV files."""
from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from orchestrator.services import cases, measure_counts, tasks
from orchestrator.store.models import Case

from ..api.walk import BOOKING, PRE, REFERRAL
from ..conftest import principal
from .test_pages import sign_in

JAN5 = datetime(2027, 1, 5, 8, 0, tzinfo=timezone.utc)
PERIOD = "from=2027-01-01&to=2027-01-31"
REFS = ("ASIAKAS-7781", "AS-9902", "AS-3310")
FINNISH_OUTCOME = "työkykyinen – ohjattu Äänekosken työpajaan"


def complete(env, username: str, case_id: int, element_id: str, data: dict) -> None:
    (task,) = [t for t in tasks.open_for_case(env, case_id) if t["element_id"] == element_id]
    tasks.complete(env, principal(env, username), task["id"], data)


@pytest.fixture
def three_cases(deployed):
    """Three health checks started 5 Jan: two done (fit for work) two days later, one waiting to be
    booked. One closed case's outcome is Finnish text, as an outcome filled from a form field can be."""
    with time_machine.travel(JAN5, tick=False) as clock:
        ids = [cases.start_case(deployed, principal(deployed, "rita"), "unemployed_health_check", "north",
                                {**REFERRAL, "client_ref": ref})["id"] for ref in REFS]
        for case_id in ids[:2]:
            complete(deployed, "nina", case_id, "Task_BookAppointment", BOOKING)
            complete(deployed, "nina", case_id, "Task_PreQuestionnaire", PRE)
        clock.move_to(JAN5 + timedelta(days=2))
        for case_id in ids[:2]:
            complete(deployed, "nina", case_id, "Task_HealthCheck", {"attendance": "attended",
                                                                     "decision": "fit_for_work"})
    with deployed.uow() as uow:
        uow.session.execute(sa.update(Case).where(Case.id == ids[1]).values(outcome=FINNISH_OUTCOME))
        uow.commit()
    measure_counts.rebuild(deployed)  # the row was edited behind the services' back
    return ids


@pytest.fixture
def clock():
    with time_machine.travel(JAN5 + timedelta(days=5), tick=False) as traveller:
        yield traveller


def manage_page(client, query: str = f"pathway=unemployed_health_check&{PERIOD}") -> str:
    r = client.get(f"/manage?{query}")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.get_data(as_text=True)


def csv_links(page: str) -> dict[str, str]:
    return {name: html.unescape(url) for url, name in
            re.findall(r'href="(/api/measures/([a-z_]+)\.csv\?[^"]*)"', page)}


def test_only_managers_coordinators_and_admins_see_the_page(app, deployed, clock):
    nina = sign_in(app, "nina")
    assert nina.get("/manage").status_code == 403
    assert 'href="/manage"' not in nina.get("/inbox").get_data(as_text=True)
    mia = sign_in(app, "mia")
    assert 'href="/manage"' in mia.get("/inbox").get_data(as_text=True)
    page = manage_page(mia, "")  # no arguments: the first deployed pathway, the default period
    assert 'id="heatmap"' in page
    assert manage_page(sign_in(app, "cora"), "")  # a coordinator too, for the north only
    assert sign_in(app, "cora").get("/manage?region=south").status_code == 403
    assert app.test_client().get("/manage").status_code == 302  # not signed in: to the sign-in page


def test_the_page_has_filters_diagram_tables_csv_links_and_chart_data(app, three_cases, clock):
    mia = sign_in(app, "mia")
    page = manage_page(mia)
    for field in ("m-pathway", "m-region", "m-from", "m-to"):  # a label on every field
        assert f'<label for="{field}">' in page and f'id="{field}"' in page
    assert 'data-overview-url="/api/stats/unemployed_health_check/overview?region="' in page
    assert 'data-xml-url="/api/processes/unemployed_health_check/bpmn"' in page
    links = csv_links(page)
    assert {"flow", "milestones", "outcomes", "open_work", "health_checks", "ips_outcomes"} <= set(links)
    assert "from=2027-01-01" in links["outcomes"] and "pathway=unemployed_health_check" in links["outcomes"]
    charts = json.loads(html.unescape(re.search(r'id="chart-data">(.*?)</script>', page, re.S).group(1)))
    assert charts["flow"]["labels"] == ["2027-01"]
    assert charts["flow"]["started"] == [3] and charts["flow"]["closed"] == [2]
    assert sorted(charts["outcomes"]["counts"]) == [1, 1]
    assert 'id="flow-chart"' in page and 'id="outcomes-chart"' in page
    assert 'src="/vendor/chart.js/dist/chart.umd.js"' in page
    # Finnish numbers: one decimal with a decimal comma (2 days to the health check); small cells marked
    milestones = page[page.index('data-measure="milestones"'):]
    milestones = milestones[:milestones.index("</table>")]
    assert '<td class="num">2,0</td>' in milestones
    assert 'class="small-cell"' in milestones and 'class="num small"' in milestones
    assert 'id="small-cell-note"' in page
    # the overview behind the heatmap: one case waits at booking
    overview = mia.get("/api/stats/unemployed_health_check/overview").get_json()
    assert {s["element_id"]: s["open"] for s in overview["steps"]}["Task_BookAppointment"] == 1


def test_no_client_reference_on_the_page_in_the_csv_files_or_the_step_lists(app, three_cases, clock):
    mia = sign_in(app, "mia")
    seen = [manage_page(mia), manage_page(mia, f"pathway=unemployed_health_check&region=north&{PERIOD}")]
    for url in csv_links(seen[0]).values():
        r = mia.get(url)
        assert r.status_code == 200, url
        seen.append(r.get_data().decode("utf-8-sig"))
    overview = mia.get("/api/stats/unemployed_health_check/overview").get_json()
    for step in overview["steps"]:
        seen.append(mia.get(f"/api/stats/unemployed_health_check/steps/{step['element_id']}/tasks").get_data(as_text=True))
    assert len(seen) > 10
    for text in seen:
        for ref in REFS:
            assert ref not in text


def test_the_outcomes_csv_opens_in_a_finnish_excel_and_marks_small_cells(app, three_cases, clock):
    mia = sign_in(app, "mia")
    r = mia.get(csv_links(manage_page(mia))["outcomes"])
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data().startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM: Excel reads ä and ö right
    text = r.get_data().decode("utf-8")[1:]
    lines = text.splitlines()
    assert lines[0] == "pathway;outcome;cases;pieni solu (<5)"
    assert f"unemployed_health_check;{FINNISH_OUTCOME};1;x" in lines  # Finnish characters intact; small cell
    assert "unemployed_health_check;done;1;x" in lines
    milestones = mia.get(csv_links(manage_page(mia))["milestones"]).get_data().decode("utf-8-sig")
    assert "unemployed_health_check;health_check_done;2;2,0;2,0;x" in milestones  # decimal comma


def test_a_period_that_ends_before_it_starts_is_explained_not_an_error_page(app, deployed, clock):
    mia = sign_in(app, "mia")
    page = manage_page(mia, "pathway=unemployed_health_check&from=2027-02-01&to=2027-01-01")
    assert 'class="flash error"' in page
    page = manage_page(mia, "pathway=unemployed_health_check&from=tomorrow")
    assert 'class="flash error"' in page
    assert mia.get("/manage?pathway=no_such_pathway").status_code == 404


def test_a_period_in_days_is_widened_to_whole_months_and_the_page_says_so(app, three_cases, clock):
    mia = sign_in(app, "mia")
    page = manage_page(mia, "pathway=unemployed_health_check&from=2027-01-10&to=2027-01-20")
    assert 'name="from" value="2027-01-01"' in page and 'name="to" value="2027-01-31"' in page
    assert "kokonaisina kalenterikuukausina" in page
    charts = json.loads(html.unescape(re.search(r'id="chart-data">(.*?)</script>', page, re.S).group(1)))
    assert charts["flow"]["started"] == [3]  # the cases of 5 January count, though the 5th is outside the days
    body = mia.get("/api/measures?pathway=unemployed_health_check&from=2027-01-10&to=2027-01-20").get_json()
    assert (body["start"], body["end"]) == ("2027-01-01T00:00:00+02:00", "2027-02-01T00:00:00+02:00")
