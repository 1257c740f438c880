"""The unemployed health check walked branch by branch through the HTTP API, by the roles
PATHWAYS.md names: referrer starts, nurse books/checks, doctor assesses."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import time_machine

from orchestrator.services.outbox import LogBackend, deliver_outbox
from orchestrator.services.timers import fire_due_timers

from .walk import BOOKING, PRE, case, do, documents, open_task, outbox, start

messages = outbox


def test_doctor_branch_with_consent_ends_done_and_sends_summary_to_referrer(client_for, deployed):
    rita, nina, dan = client_for("rita"), client_for("nina"), client_for("dan")
    c = start(rita)
    assert c["current_steps"] == ["Task_BookAppointment"]
    # the region's nurses were told about the referral
    assert {m.recipient for m in messages(deployed, c["id"])} == {"user:nina", "user:noora"}

    do(nina, c["id"], "Task_BookAppointment", BOOKING)
    invitation = messages(deployed, c["id"])[-1]
    assert invitation.recipient == "client:AS-1001" and invitation.channel == "sms"
    assert "Keskustan terveysasema" in invitation.body

    do(nina, c["id"], "Task_PreQuestionnaire", PRE)
    do(nina, c["id"], "Task_HealthCheck", {"attendance": "attended", "findings": "Selkäkipu rajoittaa.",
                                           "decision": "doctor_needed"})
    # the doctor sees the assessment in the doctor inbox; the nurse no longer has anything open
    assert open_task(dan, c["id"], "Task_DoctorAssessment")["role"] == "doctor"
    assert nina.get("/api/tasks?scope=role").get_json()["total"] == 0
    result = do(dan, c["id"], "Task_DoctorAssessment", {"doctor_outcome": "kela_rehabilitation",
                                                        "statement": "Kelan kuntoutus."})
    assert result["status"] == "completed" and result["outcome"] == "done"

    summary = [d for d in documents(deployed, c["id"]) if d.kind == "health_check_summary"]
    assert len(summary) == 1
    assert summary[0].content["doctor_outcome"] == "kela_rehabilitation"
    assert summary[0].content["workability_score"] == 4
    shared = [m for m in messages(deployed, c["id"]) if m.shares_client_data]
    assert [m.recipient for m in shared] == ["user:rita"]

    view = case(nina, c["id"])
    kinds = [h["kind"] for h in view["history"]]
    assert kinds[0] == "case_started" and kinds[-1] == "case_completed"
    completed_by = [(h["element_id"], h["actor"]) for h in view["history"] if h["kind"] == "task_completed"]
    assert completed_by == [("Task_BookAppointment", "nina"), ("Task_PreQuestionnaire", "nina"),
                            ("Task_HealthCheck", "nina"), ("Task_DoctorAssessment", "dan")]


def test_fit_for_work_without_consent_records_summary_but_shares_nothing(client_for, deployed):
    rita, nina = client_for("rita"), client_for("nina")
    c = start(rita, consent_to_summary=False)
    do(nina, c["id"], "Task_BookAppointment", BOOKING)
    do(nina, c["id"], "Task_PreQuestionnaire", PRE)
    result = do(nina, c["id"], "Task_HealthCheck", {"attendance": "attended", "decision": "fit_for_work"})
    assert result["outcome"] == "done"
    assert [d.kind for d in documents(deployed, c["id"])] == ["health_check_summary"]
    assert "doctor_outcome" in documents(deployed, c["id"])[0].content["_missing"]
    assert not any(m.shares_client_data for m in messages(deployed, c["id"]))


def test_refer_to_network_skips_the_doctor_and_hands_the_client_over(client_for, deployed):
    rita, nina, cora = client_for("rita"), client_for("nina"), client_for("cora")
    c = start(rita)
    do(nina, c["id"], "Task_BookAppointment", BOOKING)
    do(nina, c["id"], "Task_PreQuestionnaire", PRE)
    result = do(nina, c["id"], "Task_HealthCheck", {"attendance": "attended", "decision": "refer_network"})
    assert result["status"] == "completed" and result["outcome"] == "handed_over"
    assert documents(deployed, c["id"])[0].content["decision"] == "refer_network"
    (link,) = case(nina, c["id"])["links"]
    assert link["pathway"] == "work_ability_network"
    # the network case starts at the referrer's consent step, for the same client and region
    new = case(rita, link["case_id"])
    assert (new["client_ref"], new["region"], new["current_steps"]) == ("AS-1001", "north", ["Task_RecordConsent"])
    assert new["data"]["urgency"] == "normal"  # what the next pathway's start form declares is carried
    assert cora.get("/api/tasks?scope=role").get_json()["total"] == 0  # no one is bounced to coordination yet


def test_doctor_finds_partial_work_ability_and_hands_over_to_social_rehabilitation(client_for, deployed):
    rita, nina, dan, sofia = client_for("rita"), client_for("nina"), client_for("dan"), client_for("sofia")
    c = start(rita)
    do(nina, c["id"], "Task_BookAppointment", BOOKING)
    do(nina, c["id"], "Task_PreQuestionnaire", PRE)
    do(nina, c["id"], "Task_HealthCheck", {"attendance": "attended", "decision": "doctor_needed"})
    result = do(dan, c["id"], "Task_DoctorAssessment", {"doctor_outcome": "social_rehabilitation", "statement": "x"})
    assert result["outcome"] == "handed_over"
    (link,) = case(dan, c["id"])["links"]
    assert link["pathway"] == "social_rehabilitation"
    assert open_task(sofia, link["case_id"], "Task_ServiceNeedAssessment")


def test_one_no_show_is_rebooked_and_the_second_visit_counts(client_for, deployed):
    rita, nina = client_for("rita"), client_for("nina")
    c = start(rita)
    do(nina, c["id"], "Task_BookAppointment", BOOKING)
    do(nina, c["id"], "Task_PreQuestionnaire", PRE)
    do(nina, c["id"], "Task_HealthCheck", {"attendance": "no_show"})
    do(nina, c["id"], "Task_Rebook", {"appointment_at": "2026-12-17T09:00", "location": "Keskusta",
                                      "rebooked": True})
    # a new invitation went to the client with the new time
    assert "2026-12-17T09:00" in messages(deployed, c["id"])[-1].body
    do(nina, c["id"], "Task_PreQuestionnaire", PRE)
    result = do(nina, c["id"], "Task_HealthCheck", {"attendance": "attended", "decision": "fit_for_work"})
    assert result["outcome"] == "done"


def test_second_no_show_returns_the_case_to_the_referrer(client_for, deployed):
    rita, nina = client_for("rita"), client_for("nina")
    c = start(rita)
    do(nina, c["id"], "Task_BookAppointment", BOOKING)
    do(nina, c["id"], "Task_PreQuestionnaire", PRE)
    do(nina, c["id"], "Task_HealthCheck", {"attendance": "no_show"})
    do(nina, c["id"], "Task_Rebook", {"appointment_at": "2026-12-17T09:00", "location": "K", "rebooked": True})
    do(nina, c["id"], "Task_PreQuestionnaire", PRE)
    result = do(nina, c["id"], "Task_HealthCheck", {"attendance": "no_show"})
    assert result["status"] == "completed" and result["outcome"] == "returned_to_referrer"
    last = messages(deployed, c["id"])[-1]
    assert last.recipient == "user:rita" and "kahdesti" in last.subject


def test_rebook_needs_the_confirmation_ticked(client_for, deployed):
    rita, nina = client_for("rita"), client_for("nina")
    c = start(rita)
    do(nina, c["id"], "Task_BookAppointment", BOOKING)
    do(nina, c["id"], "Task_PreQuestionnaire", PRE)
    do(nina, c["id"], "Task_HealthCheck", {"attendance": "no_show"})
    task = open_task(nina, c["id"], "Task_Rebook")
    r = nina.post(f"/api/tasks/{task['id']}/complete",
                  json={"data": {"appointment_at": "2026-12-17T09:00", "location": "K", "rebooked": False}})
    assert r.status_code == 422
    assert [d["field"] for d in r.get_json()["details"]] == ["rebooked"]


def test_reminder_goes_to_the_client_three_days_before_the_visit(client_for, deployed):
    rita, nina = client_for("rita"), client_for("nina")
    c = start(rita)
    do(nina, c["id"], "Task_BookAppointment", {**BOOKING, "appointment_at": "2027-01-20T10:00"})
    before = len(messages(deployed, c["id"]))
    # 10:00 Helsinki (UTC+2 in January) three days earlier = 08:00 UTC on 17 January
    due = datetime(2027, 1, 17, 8, 0, tzinfo=timezone.utc)
    with time_machine.travel(due - timedelta(minutes=1), tick=False):
        assert fire_due_timers(deployed) == 0
    with time_machine.travel(due + timedelta(seconds=1), tick=False):
        assert fire_due_timers(deployed) == 1
    reminder = messages(deployed, c["id"])[before:]
    assert [m.recipient for m in reminder] == ["client:AS-1001"]
    assert "Muistutus" in reminder[0].subject
    # the questionnaire itself is still waiting for the nurse
    assert open_task(nina, c["id"], "Task_PreQuestionnaire")
    with time_machine.travel(due + timedelta(hours=1), tick=False):
        assert fire_due_timers(deployed) == 0  # fired once, not again


def test_outbox_delivers_each_message_once_with_its_idempotency_key(client_for, deployed, tmp_path):
    rita = client_for("rita")
    c = start(rita)
    backend = LogBackend(str(tmp_path / "sent.log"))
    assert deliver_outbox(deployed, backend) == (2, 0)
    assert deliver_outbox(deployed, backend) == (0, 0)
    lines = (tmp_path / "sent.log").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and all(f"case:{c['id']}:" in line for line in lines)
    assert all(m.status == "sent" for m in messages(deployed, c["id"]))
