"""IPS job coaching (PATHWAYS.md pathway 4) through the API: the coach who meets the client
keeps the client, the 30-day escalation, follow-along on a monthly timer, job loss back to
search, outcomes; and the hand-over into IPS from social rehabilitation."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from orchestrator.services.timers import fire_due_timers
from orchestrator.store.models import OutboxMessage

from .walk import case, do, open_task

T0 = datetime(2027, 3, 1, 7, 0, tzinfo=timezone.utc)
FIRST_MEETING = {"wants_to_work": True, "first_meeting_date": "2027-03-01", "consent_given": "yes",
                 "consent_organisations": ["ips_service", "social_services", "kela"], "consent_given_by": "asiakas"}
JOB_START = {"employment_type": "paid_work", "employer": "Kahvila Kulma", "hours_per_week": 20,
             "start_date": "2027-04-15"}
FOLLOW = {"client_checkin": "Viihtyy.", "situation": "continues"}


def start(client) -> dict:
    r = client.post("/api/cases", json={"pathway": "ips_job_coaching", "region": "north",
                                        "data": {"client_ref": "IPS-5", "referral_source": "mental_health"}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def coach_inbox(client) -> list[str]:
    return [t["element_id"] for t in client.get("/api/tasks?scope=mine").get_json()["items"]]


def through_first_meeting(rita, jori) -> dict:
    c = start(rita)
    do(jori, c["id"], "Task_FirstMeeting", FIRST_MEETING)
    return c


def test_the_coach_who_met_the_client_keeps_the_client(token_client_for):
    rita, jori, jenni = token_client_for("rita"), token_client_for("jori"), token_client_for("jenni")
    with time_machine.travel(T0, tick=False):
        c = through_first_meeting(rita, jori)
    assert sorted(coach_inbox(jori)) == ["Task_BenefitsCounselling", "Task_VocationalProfile"]
    # another coach of the same team sees the role list but the tasks belong to jori
    assert jenni.get("/api/tasks?scope=unassigned").get_json()["total"] == 0
    task = open_task(jori, c["id"], "Task_VocationalProfile")
    assert task["assignee"] == "jori"
    assert jenni.post(f"/api/tasks/{task['id']}/complete", json={"data": {}}).status_code == 409


def test_wish_to_work_is_the_only_criterion(token_client_for):
    rita, jori = token_client_for("rita"), token_client_for("jori")
    c = start(rita)
    task = open_task(jori, c["id"], "Task_FirstMeeting")
    r = jori.post(f"/api/tasks/{task['id']}/complete", json={"data": {**FIRST_MEETING, "wants_to_work": False}})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "wants_to_work"


def test_no_employer_contact_in_30_days_alerts_the_team_lead_once(token_client_for, deployed):
    rita, jori = token_client_for("rita"), token_client_for("jori")
    with time_machine.travel(T0, tick=False) as clock:
        c = through_first_meeting(rita, jori)
        do(jori, c["id"], "Task_VocationalProfile", {"work_history": "Varasto.", "preferences": "Aamuvuoro."},
           claim=False)
        clock.shift(timedelta(days=29))
        assert fire_due_timers(deployed) == 0
        clock.shift(timedelta(days=2))
        assert fire_due_timers(deployed) == 1
        clock.shift(timedelta(days=10))
        assert fire_due_timers(deployed) == 0
    with deployed.uow() as uow:
        alerts = list(uow.session.scalars(sa.select(OutboxMessage.recipient).where(
            OutboxMessage.case_id == c["id"], OutboxMessage.subject.like("Ei työnantajakontaktia%"))))
    assert alerts == ["user:cora"]  # the region's coordinator (team lead)
    assert open_task(jori, c["id"], "Task_EmployerContact")  # the coach still has to make the contact


def test_paid_work_after_a_search_loop_and_follow_along_then_support_ends(token_client_for, deployed):
    rita, jori = token_client_for("rita"), token_client_for("jori")
    with time_machine.travel(T0, tick=False) as clock:
        c = through_first_meeting(rita, jori)
        do(jori, c["id"], "Task_BenefitsCounselling", {"benefits_discussed": ["housing"], "counselling_notes": "OK."},
           claim=False)
        do(jori, c["id"], "Task_VocationalProfile", {"work_history": "x", "preferences": "y"}, claim=False)
        do(jori, c["id"], "Task_EmployerContact", {"employer_contact_date": "2027-03-10",
                                                   "employer_contacted": "Kahvila Kulma"}, claim=False)
        do(jori, c["id"], "Task_JobSearch", {"job_found": "no"}, claim=False)
        clock.shift(timedelta(days=15))
        assert fire_due_timers(deployed) == 1
        do(jori, c["id"], "Task_JobSearch", {"job_found": "yes"}, claim=False)
        do(jori, c["id"], "Task_JobStart", JOB_START, claim=False)
        for _ in range(3):  # monthly follow-along, time-unlimited
            clock.shift(timedelta(days=32))
            assert fire_due_timers(deployed) == 1
            do(jori, c["id"], "Task_FollowAlong", FOLLOW, claim=False)
        clock.shift(timedelta(days=32))
        fire_due_timers(deployed)
        result = do(jori, c["id"], "Task_FollowAlong", {**FOLLOW, "situation": "support_ends"}, claim=False)
    assert result["status"] == "completed" and result["outcome"] == "paid_work"
    docs = {d["kind"] for d in case(jori, c["id"])["documents"]}
    assert docs == {"job_start", "ips_end"}


def test_job_loss_goes_back_to_job_search_and_a_new_job_is_recorded(token_client_for, deployed):
    rita, jori = token_client_for("rita"), token_client_for("jori")
    with time_machine.travel(T0, tick=False) as clock:
        c = through_first_meeting(rita, jori)
        do(jori, c["id"], "Task_BenefitsCounselling", {"counselling_notes": "OK."}, claim=False)
        do(jori, c["id"], "Task_VocationalProfile", {"work_history": "x", "preferences": "y"}, claim=False)
        do(jori, c["id"], "Task_EmployerContact", {"employer_contact_date": "2027-03-05",
                                                   "employer_contacted": "A"}, claim=False)
        for employer in ("A", "B"):
            do(jori, c["id"], "Task_JobSearch", {"job_found": "yes"}, claim=False)
            do(jori, c["id"], "Task_JobStart", {**JOB_START, "employer": employer,
                                                "employment_type": "fee_paid_work"}, claim=False)
            clock.shift(timedelta(days=32))
            fire_due_timers(deployed)
            do(jori, c["id"], "Task_FollowAlong", {**FOLLOW, "situation": "job_lost"}, claim=False)
        assert open_task(jori, c["id"], "Task_JobSearch")["assignee"] == "jori"
    job_starts = [d for d in case(jori, c["id"])["documents"] if d["kind"] == "job_start"]
    assert [d["content"]["employer"] for d in job_starts] == ["A", "B"]


def test_social_rehabilitation_hands_over_to_ips_with_link_region_and_consent(token_client_for, deployed):
    rita, sofia, jori = token_client_for("rita"), token_client_for("sofia"), token_client_for("jori")
    with time_machine.travel(T0, tick=False) as clock:
        r = rita.post("/api/cases", json={"pathway": "social_rehabilitation", "region": "north", "data": {
            "client_ref": "SR-IPS", "referral_source": "social_work", "need_description": "Valmis työhön."}})
        c = r.get_json()
        do(sofia, c["id"], "Task_ServiceNeedAssessment", {
            "assessment": "x", "consent_given": "yes",
            "consent_organisations": ["social_services", "health_centre", "ips_service"]})
        do(sofia, c["id"], "Task_SocialSituation", {"situation_description": "x", "pakaste_needed": "no"})
        do(sofia, c["id"], "Task_ActivationPlan", {"plan_goals": "x", "activity_type": "work_trial"})
        clock.shift(timedelta(days=93))
        assert fire_due_timers(deployed) == 1
        do(sofia, c["id"], "Task_PeriodReview", {"attendance": "good", "provider_feedback": "x", "next_step": "conclude"})
        done = do(sofia, c["id"], "Task_Outcome", {"outcome": "ips", "outcome_notes": "IPS:ään."})
    assert done["status"] == "completed" and done["outcome"] == "handed_over"
    old = case(sofia, c["id"])
    (link,) = old["links"]
    assert link["direction"] == "to" and link["pathway"] == "ips_job_coaching"
    new = case(jori, link["case_id"])
    assert new["client_ref"] == "SR-IPS" and new["region"] == "north"
    assert new["data"]["handed_over_from"] == c["id"] and new["data"]["referral_source"] == "social_work"
    assert new["links"][0]["direction"] == "from" and new["links"][0]["case_id"] == c["id"]
    # the client's consent travelled with the client: the IPS coach is covered
    assert any("ips_service" in k["organisations"] and k["valid"] for k in new["consents"])
    assert open_task(jori, new["id"], "Task_FirstMeeting")
