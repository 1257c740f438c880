"""The staff pages through the Flask test client, with CSRF on: who may see what, and how
each page behaves when people do the wrong thing or the same thing at once."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from orchestrator.services import cases, users
from orchestrator.store.models import AccessLog

from ..api.walk import BOOKING, REFERRAL
from ..conftest import PASSWORD, principal

TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def token(client, url: str = "/login") -> str:
    return TOKEN.search(client.get(url).get_data(as_text=True)).group(1)


def sign_in(app, username: str):
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token(client)})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return client


def post(client, url: str, data: dict | None = None, page: str = "/inbox"):
    return client.post(url, data={**(data or {}), "csrf_token": token(client, page)})


@pytest.fixture
def case_id(deployed):
    return cases.start_case(deployed, principal(deployed, "rita"), "unemployed_health_check", "north",
                            dict(REFERRAL))["id"]


def task_ids(client, view: str = "role") -> list[str]:
    return re.findall(r'href="/tasks/([0-9a-f-]{36})"', client.get(f"/inbox?view={view}").get_data(as_text=True))


def test_every_page_needs_sign_in_except_sign_in_and_health(app, case_id):
    anon = app.test_client()
    for url in ("/", "/inbox", f"/cases/{case_id}", f"/cases/{case_id}/diagram.bpmn", "/admin/users",
                "/tasks/00000000-0000-0000-0000-000000000000"):
        r = anon.get(url)
        assert r.status_code == 302 and r.headers["Location"].startswith("/login"), url
    assert anon.get("/login").status_code == 200
    assert anon.get("/healthz").status_code == 200
    assert anon.get("/api/tasks").status_code == 401


def test_forms_without_the_csrf_token_are_refused(app, case_id):
    nina = sign_in(app, "nina")
    (task,) = task_ids(nina)
    assert nina.post(f"/inbox/tasks/{task}/claim").status_code == 400
    assert post(nina, f"/inbox/tasks/{task}/claim").status_code == 302
    assert task_ids(nina, "mine") == [task]


def test_session_cookie_flags_and_idle_timeout(app, case_id):
    with time_machine.travel("2027-01-04 08:00Z", tick=False) as clock:
        client = app.test_client()
        r = client.post("/login", data={"username": "nina", "password": PASSWORD, "csrf_token": token(client)})
        cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        clock.shift(timedelta(minutes=29))
        assert client.get("/inbox").status_code == 200  # activity keeps the session alive …
        clock.shift(timedelta(minutes=31))
        assert client.get("/inbox").status_code == 302  # … 30 idle minutes end it


def test_repeated_wrong_passwords_lock_the_account_for_a_while(app, deployed):
    with time_machine.travel("2027-01-04 08:00Z", tick=False) as clock:
        client = app.test_client()
        for _ in range(5):
            r = client.post("/login", data={"username": "nina", "password": "wrong-guess", "csrf_token": token(client)})
            assert r.status_code == 401
        r = client.post("/login", data={"username": "nina", "password": PASSWORD, "csrf_token": token(client)})
        assert r.status_code == 401  # the right password is refused while locked
        clock.shift(timedelta(minutes=2))
        r = client.post("/login", data={"username": "nina", "password": PASSWORD, "csrf_token": token(client)})
        assert r.status_code == 302


@pytest.mark.parametrize(("user", "sees_task", "case_page", "admin_page"), [
    ("nina", True, 200, 403),    # nurse of the case's region
    ("sami", False, 404, 403),   # nurse of another region
    ("dan", False, 200, 403),    # doctor of the region: the pathway's role, no task yet
    ("mia", False, 404, 403),    # manager: counts only, no client data
    ("rolf", False, 404, 403),   # referrer of another region
])
def test_role_and_region_decide_what_each_page_shows(app, case_id, user, sees_task, case_page, admin_page):
    client = sign_in(app, user)
    inbox = client.get("/inbox?view=role").get_data(as_text=True)
    assert ("AS-1001" in inbox) is sees_task
    assert client.get(f"/cases/{case_id}").status_code == case_page
    assert client.get("/admin/users").status_code == admin_page
    if not sees_task:
        nina_task = task_ids(sign_in(app, "nina"))[0]
        assert client.get(f"/tasks/{nina_task}").status_code == 302  # back to the inbox with a message


def test_admin_manages_users_on_the_admin_page(app, deployed):
    users.add_user(deployed, "ada", PASSWORD, ["admin"], ["north"])
    ada = sign_in(app, "ada")
    page = ada.get("/admin/users").get_data(as_text=True)
    assert "nina" in page and "sami" in page
    r = post(ada, "/admin/users", {"username": "uusi", "password": "long-enough-pw", "roles": "nurse",
                                   "regions": "north", "organisation": "health_centre"}, page="/admin/users")
    assert r.status_code == 302
    assert users.principal_for(deployed, "uusi").roles == {"nurse"}
    post(ada, "/admin/users/uusi/active", {"active": "0"}, page="/admin/users")
    assert users.principal_for(deployed, "uusi") is None


def test_a_bad_form_shows_messages_next_to_the_fields_and_saves_nothing(app, case_id):
    nina = sign_in(app, "nina")
    (task,) = task_ids(nina)
    r = post(nina, f"/tasks/{task}", {"action": "complete", "field_location": "Terveysasema"}, page=f"/tasks/{task}")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    field = html[html.index('id="f-appointment_at"') - 600: html.index('id="f-appointment_at"') + 600]
    assert 'class="field-error"' in html and "f-appointment_at-err" in field
    assert 'value="Terveysasema"' in html  # what was typed is kept
    assert task_ids(nina) == [task]  # still open


def test_draft_is_kept_and_shown_again_then_completing_moves_the_case_on(app, case_id, deployed):
    nina = sign_in(app, "nina")
    (task,) = task_ids(nina)
    r = post(nina, f"/tasks/{task}", {"action": "draft", "field_location": "Huone 3"}, page=f"/tasks/{task}")
    assert r.status_code == 302
    assert 'value="Huone 3"' in nina.get(f"/tasks/{task}").get_data(as_text=True)
    assert task_ids(nina, "mine") == [task]  # starting a draft claims the task
    r = post(nina, f"/tasks/{task}", {"action": "complete", "field_location": "Huone 3",
                                      "field_appointment_at": "2026-12-10T09:00", "field_invitation_channel": "sms"},
             page=f"/tasks/{task}")
    assert r.status_code == 302 and r.headers["Location"] == "/inbox"
    assert "Task_PreQuestionnaire" in cases.get_case(deployed, principal(deployed, "nina"), case_id)["current_steps"]


def test_a_task_someone_else_just_completed_gives_a_clear_message_not_an_error_page(app, case_id, deployed):
    nina, noora = sign_in(app, "nina"), sign_in(app, "noora")
    (task,) = task_ids(nina)
    page_token = token(noora, f"/tasks/{task}")  # noora has the form open …
    form = {"action": "complete", "field_location": "x", "field_appointment_at": "2026-12-10T09:00",
            "field_invitation_channel": "sms"}
    assert post(nina, f"/tasks/{task}", form, page=f"/tasks/{task}").status_code == 302  # … nina is faster
    r = noora.post(f"/tasks/{task}", data={**form, "csrf_token": page_token}, follow_redirects=True)
    assert r.status_code == 200
    assert 'class="flash error"' in r.get_data(as_text=True)


def test_reassign_delegate_take_back_and_bulk_claim(app, deployed):
    for i in range(3):
        cases.start_case(deployed, principal(deployed, "rita"), "unemployed_health_check", "north",
                         {**REFERRAL, "client_ref": f"B-{i}"})
    nina, noora = sign_in(app, "nina"), sign_in(app, "noora")
    first, second, third = task_ids(nina)
    r = nina.post("/inbox/bulk", data={"task": [first, second], "action": "claim", "csrf_token": token(nina, "/inbox")})
    assert r.status_code == 302 and sorted(task_ids(nina, "mine")) == sorted([first, second])
    post(nina, f"/inbox/tasks/{first}/reassign", {"to": "noora", "delegate": "1"})
    assert task_ids(noora, "mine") == [first]
    post(nina, f"/inbox/tasks/{first}/take-back")
    assert task_ids(noora, "mine") == []
    r = post(nina, f"/inbox/tasks/{third}/reassign", {"to": "sami"})  # a nurse, but of another region
    assert r.status_code == 302
    assert task_ids(sign_in(app, "sami"), "mine") == []


def test_a_filter_shared_with_a_role_appears_for_colleagues(app, deployed):
    cases.start_case(deployed, principal(deployed, "rita"), "unemployed_health_check", "north",
                     {**REFERRAL, "client_ref": "U-1", "urgency": "urgent"})
    cases.start_case(deployed, principal(deployed, "rita"), "unemployed_health_check", "north",
                     {**REFERRAL, "client_ref": "N-1"})
    nina, noora = sign_in(app, "nina"), sign_in(app, "noora")
    assert len(task_ids(nina)) == 2
    filtered = nina.get("/inbox?view=role&f_urgency=urgent").get_data(as_text=True)
    assert "U-1" in filtered and "N-1" not in filtered
    assert '<span class="tag">Kiireellinen</span>' in filtered  # the form's label, not the stored value
    post(nina, "/inbox/filters", {"name": "Kiireelliset", "view": "role", "f_urgency": "urgent",
                                  "shared_role": "nurse"})
    page = noora.get("/inbox").get_data(as_text=True)
    filter_id = re.search(r'href="/inbox\?filter=(\d+)">Kiireelliset<', page).group(1)
    shared = noora.get(f"/inbox?filter={filter_id}").get_data(as_text=True)
    assert "U-1" in shared and "N-1" not in shared
    assert "Kiireelliset" not in sign_in(app, "dan").get("/inbox").get_data(as_text=True)


def test_inbox_pages_through_many_tasks(app, deployed):
    rita = principal(deployed, "rita")
    for i in range(30):
        cases.start_case(deployed, rita, "unemployed_health_check", "north", {**REFERRAL, "client_ref": f"P-{i}"})
    nina = sign_in(app, "nina")
    assert len(task_ids(nina)) == 25
    page2 = nina.get("/inbox?view=role&page=2").get_data(as_text=True)
    assert len(re.findall(r'href="/tasks/', page2)) == 5


def test_opening_a_case_and_a_document_is_access_logged(app, case_id, deployed):
    nina = sign_in(app, "nina")
    (task,) = task_ids(nina)
    post(nina, f"/tasks/{task}", {"action": "complete", **{f"field_{k}": v for k, v in BOOKING.items()}},
         page=f"/tasks/{task}")
    assert nina.get(f"/cases/{case_id}?reason=tarkastus").status_code == 200
    with deployed.uow() as uow:
        rows = [(a.username, a.action, a.reason) for a in uow.session.scalars(sa.select(AccessLog).order_by(AccessLog.id))]
    assert ("nina", "read_case", "tarkastus") in rows and ("nina", "open_task", "task Task_BookAppointment") in rows


def test_dates_are_shown_the_finnish_way(app, case_id):
    nina = sign_in(app, "nina")
    html = nina.get("/inbox?view=role").get_data(as_text=True)
    assert re.search(r"<td>\d{1,2}\.\d{1,2}\.20\d\d \d{1,2}\.\d\d</td>", html)
