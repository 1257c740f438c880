"""Work-ability network model (PATHWAYS.md pathway 1) through the API: consent as a hard
gate on invitations, the named client lead, follow-ups on a timer "until the need ends"
with the coordinator alerted when one is late, handing the lead over, and closure."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from orchestrator.services.timers import fire_due_timers
from orchestrator.store.models import OutboxMessage

from .walk import case, do, open_task

T0 = datetime(2027, 2, 1, 7, 0, tzinfo=timezone.utc)
CONSENT = {"consent_given": "yes", "consent_organisations": ["social_services", "kela", "te_office"],
           "consent_valid_until": "2028-12-31", "consent_given_by": "asiakas"}
MEETING = {"joint_plan": "Kela-kuntoutus ja työkokeilu.", "plan_goals": "Osa-aikatyö syksyllä.",
           "client_lead": "sofia", "followup_interval": "P6W", "workability_score": 4}


def start(client) -> dict:
    r = client.post("/api/cases", json={"pathway": "work_ability_network", "region": "north", "data": {
        "client_ref": "WN-3", "need_description": "Ei jaksa kokopäivätyötä.", "urgency": "normal",
        "current_services": ["te_office", "health_centre"]}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def to_invitation(rita, cora, consent: dict = CONSENT) -> dict:
    c = start(rita)
    do(rita, c["id"], "Task_RecordConsent", consent)
    do(rita, c["id"], "Task_ContactRequest", {"request_summary": "Tarvitaan verkosto.", "client_goals": "Työ."})
    do(cora, c["id"], "Task_Consultation", {"consultation_outcome": "network_needed"})
    return c


def to_first_follow_up(rita, cora, env, clock) -> dict:
    """A network case whose plan is made and whose first follow-up is due now."""
    c = to_invitation(rita, cora)
    do(cora, c["id"], "Task_InviteNetwork", {"network_members": "kalle", "meeting_at": "2027-02-15T10:00"})
    do(cora, c["id"], "Task_NetworkMeeting", MEETING)
    clock.shift(timedelta(weeks=6, minutes=1))
    assert fire_due_timers(env) == 1
    return c


def messages(env, case_id: int, subject_prefix: str) -> list[str]:
    with env.uow() as uow:
        return list(uow.session.scalars(sa.select(OutboxMessage.recipient).where(
            OutboxMessage.case_id == case_id, OutboxMessage.subject.like(subject_prefix + "%"),
            OutboxMessage.status != "cancelled").order_by(OutboxMessage.id)))


def test_inviting_a_member_the_consent_does_not_cover_is_refused_and_nothing_changes(token_client_for, deployed):
    rita, cora = token_client_for("rita"), token_client_for("cora")
    c = to_invitation(rita, cora)
    task = open_task(cora, c["id"], "Task_InviteNetwork")
    r = cora.post(f"/api/tasks/{task['id']}/claim", json={})
    r = cora.post(f"/api/tasks/{task['id']}/complete", json={"data": {
        "network_members": "kalle, ned", "meeting_at": "2027-02-15T10:00", "meeting_place": "Virasto"}})
    assert r.status_code == 422
    body = r.get_json()
    assert body["error"] == "step_refused"
    assert "does not cover ned's organisation (ngo)" in body["message"]
    assert body["details"][0]["field"] == "network_members"
    assert open_task(cora, c["id"], "Task_InviteNetwork")["status"] == "open"
    assert messages(deployed, c["id"], "Kutsu") == []  # not even the covered member was invited
    do(cora, c["id"], "Task_InviteNetwork", {"network_members": "kalle, teija", "meeting_at": "2027-02-15T10:00"},
       claim=False)
    assert messages(deployed, c["id"], "Kutsu") == ["user:kalle", "user:teija"]


def test_the_named_client_lead_gets_the_follow_ups_and_the_coordinator_hears_when_one_is_late(
        token_client_for, deployed):
    rita, cora, sofia, saku = (token_client_for(u) for u in ("rita", "cora", "sofia", "saku"))
    with time_machine.travel(T0, tick=False) as clock:
        c = to_invitation(rita, cora)
        do(cora, c["id"], "Task_InviteNetwork", {"network_members": "kalle,teija", "meeting_at": "2027-02-15T10:00"})
        do(cora, c["id"], "Task_NetworkMeeting", MEETING)
        assert messages(deployed, c["id"], "Yhteinen suunnitelma") == ["user:kalle", "user:teija"]
        assert messages(deployed, c["id"], "Sinut on nimetty") == ["user:sofia"]
        plan = [d for d in case(cora, c["id"])["documents"] if d["kind"] == "joint_plan"]
        assert plan[0]["content"]["client_lead"] == "sofia"
        for loop in range(3):  # follow-ups every six weeks while the need continues
            clock.shift(timedelta(weeks=6, minutes=1))
            assert fire_due_timers(deployed) == 1
            follow_up = open_task(sofia, c["id"], "Task_FollowUp", scope="mine")
            assert follow_up["assignee"] == "sofia"
            # another social worker of the region does not get the client lead's work
            assert saku.get("/api/tasks?scope=mine").get_json()["total"] == 0
            if loop == 1:  # this one is late: after 14 days the coordinator is alerted, once
                clock.shift(timedelta(days=15))
                assert fire_due_timers(deployed) == 1
                assert messages(deployed, c["id"], "Seurantapalaveri myöhässä") == ["user:cora"]
            do(sofia, c["id"], "Task_FollowUp", {"progress": f"Seuranta {loop}", "workability_score": 5 + loop,
                                                 "need_continues": "yes"}, claim=False)
        assert case(sofia, c["id"])["current_steps"] == ["Timer_FollowUp"]  # the client lead may open the case


def test_handing_the_client_lead_over_moves_the_open_follow_up_and_is_recorded(token_client_for, deployed):
    rita, cora, sofia, saku, nina = (token_client_for(u) for u in ("rita", "cora", "sofia", "saku", "nina"))
    with time_machine.travel(T0, tick=False) as clock:
        c = to_first_follow_up(rita, cora, deployed, clock)
        assert nina.post(f"/api/cases/{c['id']}/client-lead", json={"username": "saku"}).status_code == 404
        bad = sofia.post(f"/api/cases/{c['id']}/client-lead", json={"username": "ghost"})
        assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "username"
        r = sofia.post(f"/api/cases/{c['id']}/client-lead",
                       json={"username": "saku", "reason": "Asiakas siirtyy aikuissosiaalityöhön"})
        assert r.status_code == 200 and r.get_json()["tasks_moved"] == 1
        assert sofia.get("/api/tasks?scope=mine").get_json()["total"] == 0
        assert open_task(saku, c["id"], "Task_FollowUp", scope="mine")
        do(saku, c["id"], "Task_FollowUp", {"progress": "x", "need_continues": "yes"}, claim=False)
        clock.shift(timedelta(weeks=6, minutes=1))
        fire_due_timers(deployed)
        assert open_task(saku, c["id"], "Task_FollowUp", scope="mine")["assignee"] == "saku"  # later ones too
    changes = [h for h in case(cora, c["id"])["history"] if h["kind"] == "client_lead_changed"]
    assert changes[0]["actor"] == "sofia" and changes[0]["details"]["from"] == "sofia"
    assert changes[0]["details"]["to"] == "saku"


def test_a_meeting_naming_an_unknown_client_lead_is_refused(token_client_for):
    rita, cora = token_client_for("rita"), token_client_for("cora")
    c = to_invitation(rita, cora)
    do(cora, c["id"], "Task_InviteNetwork", {"network_members": "kalle", "meeting_at": "2027-02-15T10:00"})
    task = open_task(cora, c["id"], "Task_NetworkMeeting")
    r = cora.post(f"/api/tasks/{task['id']}/complete", json={"data": {**MEETING, "client_lead": "sami"}})
    assert r.status_code == 422  # sami is a nurse of the south region
    assert r.get_json()["details"] == [{"field": "client_lead", "message": "'sami' is not a user in region north"}]


def test_consultation_is_enough_and_the_referrer_gets_the_advice(token_client_for, deployed):
    rita, cora = token_client_for("rita"), token_client_for("cora")
    c = start(rita)
    do(rita, c["id"], "Task_RecordConsent", CONSENT)
    do(rita, c["id"], "Task_ContactRequest", {"request_summary": "x"})
    assert messages(deployed, c["id"], "Uusi yhteydenottopyyntö") == ["user:cora"]
    result = do(cora, c["id"], "Task_Consultation", {"consultation_outcome": "consultation_enough",
                                                    "advice": "Ohjaa työkykykoordinaattorin vastaanotolle."})
    assert result["outcome"] == "consultation_only"
    assert messages(deployed, c["id"], "Konsultaation tulos") == ["user:rita"]


def test_without_consent_the_case_ends_as_no_consent(token_client_for):
    rita = token_client_for("rita")
    c = start(rita)
    result = do(rita, c["id"], "Task_RecordConsent", {"consent_given": "no"})
    assert result["status"] == "completed" and result["outcome"] == "no_consent"


def test_closing_to_social_rehabilitation_hands_the_client_over(token_client_for, deployed):
    rita, cora, sofia = (token_client_for(u) for u in ("rita", "cora", "sofia"))
    with time_machine.travel(T0, tick=False) as clock:
        c = to_first_follow_up(rita, cora, deployed, clock)
        done = do(sofia, c["id"], "Task_FollowUp", {"progress": "x", "need_continues": "no",
                                                   "closure_reason": "social_rehabilitation"}, claim=False)
    assert done["outcome"] == "handed_over"
    (link,) = case(cora, c["id"])["links"]
    assert link["pathway"] == "social_rehabilitation"
    new = case(sofia, link["case_id"])
    assert new["current_steps"] == ["Task_ServiceNeedAssessment"] and new["data"]["handed_over_from"] == c["id"]
