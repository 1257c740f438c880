"""The staff pages in a real browser (Debian's Chromium driven by Playwright): a nurse signs in,
claims a health-check task, trips a validation error, fixes it and completes the nurse's steps;
the doctor then signs in and finds the next task. Elements are found by ids, names, values,
classes and URLs, never by visible text, so translations may change freely.

Where no Chromium can be launched the whole module is skipped with the reason (pytest -ra shows it)."""
from __future__ import annotations

import re

import pytest

from ..api.walk import start
from ..conftest import PASSWORD
from .conftest import why_no_browser

_REASON = why_no_browser()
if _REASON:
    pytest.skip(_REASON, allow_module_level=True)

from playwright.sync_api import Page, expect  # noqa: E402  (only once a browser is known to launch)

CLIENT_REF = "AS-2417"


def task_api(client, case_id: int, element_id: str) -> str:
    """The id of the case's open task at element_id, as the JSON API lists it for this user."""
    items = client.get("/api/tasks?scope=role&limit=500").get_json()["items"]
    hits = [t["id"] for t in items if t["case_id"] == case_id and t["element_id"] == element_id]
    assert len(hits) == 1, items
    return hits[0]


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/inbox")
    expect(page).to_have_url(re.compile(r"/login\?next="))  # not signed in: sent to the sign-in page
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("button.primary[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(page.locator("header.top .who")).to_have_text(username)


def sign_out(page: Page) -> None:
    page.locator('header.top form[action$="/logout"] button[type=submit]').click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("header.top .who")).to_have_count(0)


def case_row(page: Page, client_ref: str = CLIENT_REF):
    """The inbox row of the case's one open task (by its client ref, which no translation touches)."""
    row = page.locator("table.tasks tbody tr").filter(has=page.locator("td", has_text=client_ref))
    expect(row).to_have_count(1)
    return row


def open_from_inbox(page: Page, task_id: str) -> None:
    """From the inbox (role view), open the case's task and check it is the expected one."""
    link = case_row(page).locator('a[href^="/tasks/"]')
    expect(link).to_have_attribute("href", f"/tasks/{task_id}")
    link.click()
    expect(page).to_have_url(re.compile(rf"/tasks/{task_id}$"))
    expect(page.locator("form.task-form")).to_be_visible()


def complete(page: Page) -> None:
    """Press Complete; the task is done when we are back in the inbox with a success note."""
    with page.expect_response(lambda r: r.request.method == "POST" and "/tasks/" in r.url) as posted:
        page.locator("form.task-form button[name=action][value=complete]").click()
    assert posted.value.status == 302, posted.value.status
    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(page.locator(".flashes .flash.success")).to_have_count(1)


def test_nurse_completes_her_steps_and_the_doctor_finds_the_next_task(page, client_for, screenshot):
    rita, nina_api, dan_api = client_for("rita"), client_for("nina"), client_for("dan")
    case = start(rita, "north", client_ref=CLIENT_REF)
    assert case["client_ref"] == CLIENT_REF and case["current_steps"] == ["Task_BookAppointment"]
    case_id = case["id"]

    # --- the nurse signs in and finds the new task in her roles' view (the default tab)
    sign_in(page, "nina")
    expect(page.locator('nav.tabs a[aria-current="page"]')).to_have_attribute("href", re.compile(r"view=role"))
    booking = task_api(nina_api, case_id, "Task_BookAppointment")
    row = case_row(page)
    expect(row.locator('a[href^="/tasks/"]')).to_have_attribute("href", f"/tasks/{booking}")

    # ... claims it there: the row then offers to unclaim instead
    row.locator('form[action$="/claim"] button[type=submit]').click()
    expect(page).to_have_url(re.compile(r"/inbox"))
    expect(page.locator(".flashes .flash.success")).to_have_count(1)
    expect(case_row(page).locator('form[action$="/unclaim"]')).to_have_count(1)
    expect(case_row(page).locator('form[action$="/claim"]')).to_have_count(0)
    screenshot(page, "inbox")

    # --- booking: appointment time, place, invitation channel
    open_from_inbox(page, booking)
    page.locator("#f-appointment_at").fill("2026-12-10T09:00")
    page.locator("#f-location").fill("Keskustan terveysasema")
    page.locator("#f-invitation_channel").select_option("sms")
    expect(page.locator("#f-appointment_at")).to_have_attribute("type", "datetime-local")
    complete(page)

    # --- pre-questionnaire: an out-of-range score is refused next to the field, nothing saved
    pre = task_api(nina_api, case_id, "Task_PreQuestionnaire")
    open_from_inbox(page, pre)
    score = page.locator("input#f-workability_score")
    score.fill("11")
    page.locator('input[name="field_health_concerns"][value="musculoskeletal"]').check()
    page.locator("#f-self_assessment_notes").fill("Selkä.")
    with page.expect_response(lambda r: r.request.method == "POST" and f"/tasks/{pre}" in r.url) as posted:
        page.locator("form.task-form button[name=action][value=complete]").click()
    assert posted.value.status == 422  # the form again, with the problem marked
    expect(page).to_have_url(re.compile(rf"/tasks/{pre}$"))
    expect(page.locator("form.task-form")).to_be_visible()
    expect(page.locator('p.flash.error[role="alert"]')).to_be_visible()
    field = page.locator("form.task-form .field").filter(has=page.locator("input#f-workability_score"))
    expect(field).to_have_count(1)
    expect(field).to_have_class(re.compile(r"\bhas-error\b"))
    error = field.locator("p.field-error")
    expect(error).to_be_visible()
    expect(error).to_have_id("f-workability_score-err")
    expect(score).to_have_attribute("aria-invalid", "true")
    expect(score).to_have_attribute("aria-describedby", re.compile(r"\bf-workability_score-err\b"))
    expect(score).to_have_value("11")  # what she typed is kept
    expect(page.locator('input[name="field_health_concerns"][value="musculoskeletal"]')).to_be_checked()
    expect(page.locator("form.task-form p.field-error")).to_have_count(1)  # only that field is wrong
    screenshot(page, "task-validation-error")
    assert task_api(nina_api, case_id, "Task_PreQuestionnaire") == pre  # still open

    score.fill("4")
    complete(page)

    # --- the health check itself: attended, a doctor is needed
    check = task_api(nina_api, case_id, "Task_HealthCheck")
    open_from_inbox(page, check)
    page.locator('input[name="field_attendance"][value="attended"]').check()
    page.locator("#f-findings").fill("Selkäkipu rajoittaa.")
    page.locator('input[name="field_decision"][value="doctor_needed"]').check()
    complete(page)
    expect(page.locator("table.tasks tbody tr")).to_have_count(0)  # nothing left for the nurse
    sign_out(page)

    # --- the doctor signs in and finds the assessment waiting in his inbox
    sign_in(page, "dan")
    doctor = task_api(dan_api, case_id, "Task_DoctorAssessment")
    expect(case_row(page).locator('a[href^="/tasks/"]')).to_have_attribute("href", f"/tasks/{doctor}")

    # ... and the case page shows the diagram with the current step marked
    page.goto(f"/cases/{case_id}")
    expect(page.locator('#diagram[data-ready="true"]')).to_have_count(1)
    expect(page.locator("#diagram svg .current-step")).to_have_count(1)
    expect(page.locator('#diagram svg [data-element-id="Task_DoctorAssessment"].current-step')).to_have_count(1)
    screenshot(page, "case-diagram")


def test_wrong_password_stays_on_sign_in_and_another_region_sees_nothing(page, client_for):
    start(client_for("rita"), "north", client_ref=CLIENT_REF)

    page.goto("/login")
    page.locator("#username").fill("nina")
    page.locator("#password").fill("wrong-" + PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST" and "/login" in r.url) as posted:
        page.locator("button.primary[type=submit]").click()
    assert posted.value.status == 401
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator('p.flash.error[role="alert"]')).to_be_visible()
    expect(page.locator("#username")).to_have_value("nina")
    expect(page.locator("#password")).to_have_value("")
    expect(page.locator("header.top .who")).to_have_count(0)

    # a nurse of the south region sees none of north's tasks in any view
    sign_in(page, "sami")
    for view in ("role", "unassigned", "mine"):
        page.goto(f"/inbox?view={view}")
        expect(page.locator("table.tasks tbody tr")).to_have_count(0)
        expect(page.locator("p.empty")).to_be_visible()
        expect(page.locator("nav.tabs .count")).to_have_text(["0", "0", "0"])
