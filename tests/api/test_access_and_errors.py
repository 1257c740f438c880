"""What must NOT happen: other roles and regions see nothing, bad input changes nothing,
concurrent changes are detected, failures become incidents staff can retry."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from orchestrator.services import users
from orchestrator.store.models import AccessLog, Task

from ..conftest import PASSWORD, ROOT
from .walk import BOOKING, PRE, case, do, open_task, start


def test_nurse_of_another_region_sees_and_completes_nothing(client_for):
    rita, nina, sami = client_for("rita"), client_for("nina"), client_for("sami")
    c = start(rita)
    task = open_task(nina, c["id"], "Task_BookAppointment")
    for scope in ("role", "unassigned", "mine"):
        assert sami.get(f"/api/tasks?scope={scope}").get_json()["total"] == 0
    assert sami.get(f"/api/tasks/{task['id']}").status_code == 404
    assert sami.post(f"/api/tasks/{task['id']}/claim", json={}).status_code == 404
    r = sami.post(f"/api/tasks/{task['id']}/complete", json={"data": BOOKING})
    assert r.status_code == 404
    assert sami.get(f"/api/cases/{c['id']}").status_code == 404
    assert open_task(nina, c["id"], "Task_BookAppointment")["status"] == "open"


def test_other_roles_in_the_same_region_cannot_touch_a_nurse_task(client_for):
    rita, nina, dan, mia = client_for("rita"), client_for("nina"), client_for("dan"), client_for("mia")
    c = start(rita)
    task = open_task(nina, c["id"], "Task_BookAppointment")
    for other in (dan, rita, mia):
        assert other.get("/api/tasks?scope=role").get_json()["total"] == 0
        assert other.post(f"/api/tasks/{task['id']}/complete", json={"data": BOOKING}).status_code == 404


def test_manager_sees_counts_but_no_client_data(client_for):
    rita, nina, mia = client_for("rita"), client_for("nina"), client_for("mia")
    c = start(rita)
    start(rita, client_ref="AS-1002")
    do(nina, c["id"], "Task_BookAppointment", BOOKING)
    stats = mia.get("/api/stats/unemployed_health_check").get_json()
    counts = {s["element_id"]: (s["open"], s["unassigned"]) for s in stats["steps"]}
    assert counts == {"Task_BookAppointment": (1, 1), "Task_PreQuestionnaire": (1, 1)}
    assert stats["cases"]["active"] == 2
    assert "AS-1001" not in str(stats)
    assert mia.get(f"/api/cases/{c['id']}").status_code == 404


def test_only_the_start_role_in_its_region_may_start_a_case(client_for):
    nina, rolf = client_for("nina"), client_for("rolf")
    body = {"pathway": "unemployed_health_check", "region": "north",
            "data": {"client_ref": "X", "referral_source": "te_office", "urgency": "normal", "reason": "r"}}
    assert nina.post("/api/cases", json=body).status_code == 403
    r = rolf.post("/api/cases", json=body)  # a referrer, but of the south
    assert r.status_code == 403 and "north" in r.get_json()["message"]


def test_invalid_form_data_gives_422_per_field_and_changes_nothing(client_for):
    rita, nina = client_for("rita"), client_for("nina")
    c = start(rita)
    do(nina, c["id"], "Task_BookAppointment", BOOKING)
    task = open_task(nina, c["id"], "Task_PreQuestionnaire")
    before = case(nina, c["id"])["version_no"]
    r = nina.post(f"/api/tasks/{task['id']}/complete",
                  json={"data": {"workability_score": 11, "health_concerns": ["knees"], "shoe_size": 42}})
    assert r.status_code == 422
    fields = {d["field"]: d["message"] for d in r.get_json()["details"]}
    assert set(fields) == {"workability_score", "health_concerns", "shoe_size"}
    assert "at most 10" in fields["workability_score"]
    after = case(nina, c["id"])
    assert after["version_no"] == before and after["current_steps"] == ["Task_PreQuestionnaire"]


def test_start_form_is_validated_too(client_for):
    rita = client_for("rita")
    r = rita.post("/api/cases", json={"pathway": "unemployed_health_check", "region": "north",
                                      "data": {"client_ref": "X", "urgency": "whenever"}})
    assert r.status_code == 422
    assert {d["field"] for d in r.get_json()["details"]} == {"urgency", "referral_source", "reason"}


def test_stale_version_and_double_completion_are_409(client_for):
    rita, nina, noora = client_for("rita"), client_for("nina"), client_for("noora")
    c = start(rita)
    task = open_task(nina, c["id"], "Task_BookAppointment")
    stale = nina.get(f"/api/tasks/{task['id']}").get_json()["version_no"]
    r = nina.post(f"/api/tasks/{task['id']}/complete", json={"data": BOOKING, "version_no": stale - 1})
    assert r.status_code == 409 and "changed" in r.get_json()["message"]
    assert nina.post(f"/api/tasks/{task['id']}/complete", json={"data": BOOKING, "version_no": stale}).status_code == 200
    again = noora.post(f"/api/tasks/{task['id']}/complete", json={"data": BOOKING})
    assert again.status_code == 409 and "already completed by nina" in again.get_json()["message"]


def test_a_claimed_task_belongs_to_its_claimer(client_for):
    rita, nina, noora = client_for("rita"), client_for("nina"), client_for("noora")
    c = start(rita)
    task = open_task(nina, c["id"], "Task_BookAppointment")
    assert nina.post(f"/api/tasks/{task['id']}/claim", json={}).get_json()["assignee"] == "nina"
    r = noora.post(f"/api/tasks/{task['id']}/claim", json={})
    assert r.status_code == 409 and "nina" in r.get_json()["message"]
    assert noora.post(f"/api/tasks/{task['id']}/complete", json={"data": BOOKING}).status_code == 409
    assert noora.get("/api/tasks?scope=unassigned").get_json()["total"] == 0
    assert [t["id"] for t in nina.get("/api/tasks?scope=mine").get_json()["items"]] == [task["id"]]
    assert nina.post(f"/api/tasks/{task['id']}/unclaim", json={}).get_json()["assignee"] is None
    assert noora.post(f"/api/tasks/{task['id']}/claim", json={}).status_code == 200


def test_handler_failure_becomes_an_incident_that_can_be_retried(client_for, deployed):
    users.add_region(deployed, "east", "Itä")
    users.add_user(deployed, "erik", PASSWORD, ["referrer"], ["east"], organisation="te_office")
    erik = client_for("erik")
    c = start(erik, region="east")  # nobody has the nurse role in the east yet
    assert c["has_incident"] is True and c["current_steps"] == ["Task_NotifyNurses"]
    view = case(erik, c["id"])
    assert "nobody has the role 'nurse'" in view["incidents"][0]["message"]
    assert erik.post(f"/api/cases/{c['id']}/retry", json={}).get_json()["has_incident"] is True
    users.add_user(deployed, "eeva", PASSWORD, ["nurse"], ["east"], organisation="health_centre")
    fixed = erik.post(f"/api/cases/{c['id']}/retry", json={}).get_json()
    assert fixed["has_incident"] is False and fixed["current_steps"] == ["Task_BookAppointment"]
    assert open_task(client_for("eeva"), c["id"], "Task_BookAppointment")


def test_reading_a_case_or_task_is_access_logged(client_for, deployed):
    rita, nina = client_for("rita"), client_for("nina")
    c = start(rita)
    task = open_task(nina, c["id"], "Task_BookAppointment")
    nina.get(f"/api/tasks/{task['id']}")
    nina.get(f"/api/cases/{c['id']}?reason=terveystarkastus")
    with deployed.uow() as uow:
        rows = [(a.username, a.action, a.client_ref) for a in uow.session.scalars(
            sa.select(AccessLog).order_by(AccessLog.id))]
    assert rows == [("nina", "open_task", "AS-1001"), ("nina", "read_case", "AS-1001")]


def test_task_page_data_carries_the_form_and_prefill(client_for):
    rita, nina = client_for("rita"), client_for("nina")
    c = start(rita)
    do(nina, c["id"], "Task_BookAppointment", BOOKING)
    do(nina, c["id"], "Task_PreQuestionnaire", PRE)
    do(nina, c["id"], "Task_HealthCheck", {"attendance": "no_show"})
    task = open_task(nina, c["id"], "Task_Rebook")
    detail = nina.get(f"/api/tasks/{task['id']}").get_json()
    assert '"rebooked"' in detail["form"]
    assert detail["prefill"]["location"] == BOOKING["location"]


def test_requests_without_sign_in_or_with_bad_bodies_get_json_errors(app, client_for, deployed):
    anon = app.test_client()
    assert anon.get("/api/tasks").status_code == 401
    assert anon.get("/healthz").status_code == 200
    bad = anon.post("/api/login", json={"username": "nina", "password": "wrong-one"})
    assert bad.status_code == 401 and bad.get_json()["error"] == "not_authenticated"
    nina = client_for("nina")
    assert nina.get("/api/nope").status_code == 404
    assert nina.get("/api/tasks?scope=everything").status_code == 422
    assert nina.post("/api/cases", data="{not json", content_type="application/json").status_code == 400
    r = nina.post("/api/cases", json={"pathway": "unemployed_health_check", "region": "north", "oops": 1})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "oops"
    assert nina.get("/api/tasks/not-a-task").status_code == 404
    assert nina.post("/api/cases", json={"pathway": "no_such", "region": "north"}).status_code == 404


def test_bearer_token_works_and_a_wrong_one_does_not(app, deployed):
    token = users.create_token(deployed, "nina")
    client = app.test_client()
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).get_json()["username"] == "nina"
    assert client.get("/api/me", headers={"Authorization": "Bearer pk_wrong"}).status_code == 401


def test_designer_deploys_through_the_api_and_running_cases_keep_their_version(client_for, deployed):
    rita, nina, dora = client_for("rita"), client_for("nina"), client_for("dora")
    c = start(rita)
    bpmn = (ROOT / "processes" / "unemployed_health_check.bpmn").read_text(encoding="utf-8")
    same = dora.post("/api/processes", json={"files": {"unemployed_health_check.bpmn": bpmn}})
    assert same.status_code == 200 and same.get_json()[0] == {
        "process_id": "unemployed_health_check", "name": "Työttömien terveystarkastus", "version": 1, "changed": False}
    changed = bpmn.replace('name="Varaa aika ja lähetä kutsu"', 'name="Varaa vastaanottoaika"')
    r = dora.post("/api/processes", json={"files": {"unemployed_health_check.bpmn": changed}})
    assert r.status_code == 201 and r.get_json()[0]["version"] == 2
    assert nina.post("/api/processes", json={"files": {"x.bpmn": changed}}).status_code == 403
    # the running case is still on version 1 and its task keeps the old name
    assert open_task(nina, c["id"], "Task_BookAppointment")["name"] == "Varaa aika ja lähetä kutsu"
    new = start(rita, client_ref="AS-2")
    assert open_task(nina, new["id"], "Task_BookAppointment")["name"] == "Varaa vastaanottoaika"
    assert case(nina, c["id"])["version"] == 1 and case(nina, new["id"])["version"] == 2


def test_a_bad_deploy_lists_every_problem_and_deploys_nothing(client_for, deployed):
    dora = client_for("dora")
    bpmn = (ROOT / "processes" / "unemployed_health_check.bpmn").read_text(encoding="utf-8")
    broken = bpmn.replace("decision == 'doctor_needed'", "${decision == 'doctor_needed'}") \
                 .replace('camunda:formRef="hc_doctor"', 'camunda:formRef="hc_doctorr"')
    r = dora.post("/api/processes", json={"files": {"unemployed_health_check.bpmn": broken}})
    assert r.status_code == 422
    details = r.get_json()["details"]
    assert any("JUEL" in d["message"] and d["line"] for d in details)
    assert any(d.get("element_id") == "Task_DoctorAssessment" and "hc_doctorr" in d["message"] for d in details)
    listed = {p["process_id"]: p["version"] for p in dora.get("/api/processes").get_json()}
    assert listed["unemployed_health_check"] == 1


def test_deploy_upload_as_multipart(client_for):
    dora = client_for("dora")
    path = Path(ROOT / "processes" / "unemployed_health_check.bpmn")
    with path.open("rb") as f:
        r = dora.post("/api/processes", data={"files": (f, "unemployed_health_check.bpmn")},
                      headers={"X-Requested-With": "fetch"}, content_type="multipart/form-data")
    assert r.status_code == 200 and r.get_json()[0]["changed"] is False


def test_inbox_pages_and_sorts_by_due_date(client_for, deployed):
    rita, nina = client_for("rita"), client_for("nina")
    urgent = start(rita, client_ref="U", urgency="urgent")
    for i in range(4):
        start(rita, client_ref=f"N{i}")
    page = nina.get("/api/tasks?scope=unassigned&limit=2").get_json()
    assert page["total"] == 5 and len(page["items"]) == 2
    assert page["items"][0]["case_id"] == urgent["id"]  # due in 2 days, the others in 7
    rest = nina.get("/api/tasks?scope=unassigned&limit=2&offset=4").get_json()["items"]
    assert len(rest) == 1
    with deployed.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 5


def test_a_decision_left_empty_is_refused_with_words_the_nurse_can_act_on(client_for):
    rita, nina = client_for("rita"), client_for("nina")
    c = start(rita)
    do(nina, c["id"], "Task_BookAppointment", BOOKING)
    do(nina, c["id"], "Task_PreQuestionnaire", PRE)
    task = open_task(nina, c["id"], "Task_HealthCheck")
    r = nina.post(f"/api/tasks/{task['id']}/complete", json={"data": {"attendance": "attended"}})
    assert r.status_code == 422
    assert "decision is empty" in r.get_json()["message"]
    assert open_task(nina, c["id"], "Task_HealthCheck")["status"] == "open"
