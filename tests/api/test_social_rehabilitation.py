"""Social rehabilitation path (PATHWAYS.md pathway 3) walked through the API by a referrer,
social workers and a nurse; the 3-month review timer fired with a frozen clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from orchestrator.services.timers import fire_due_timers
from orchestrator.store.models import Document

from .walk import case, do, open_task, outbox

REFERRAL = {"client_ref": "SR-7", "referral_source": "social_work", "need_description": "Pitkä kotona olo."}
ASSESSMENT = {"assessment": "Tarvitsee säännöllisen päivärytmin.", "consent_given": "yes",
              "consent_organisations": ["social_services", "health_centre"], "consent_valid_until": "2028-12-31",
              "consent_given_by": "asiakas"}
PLAN = {"plan_goals": "Kolme päivää viikossa työtoimintaa.", "activity_type": "rehabilitative_work",
        "days_per_week": 3, "workability_score": 3}
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def start(client, **overrides) -> dict:
    r = client.post("/api/cases", json={"pathway": "social_rehabilitation", "region": "north",
                                        "data": {**REFERRAL, **overrides}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def review_after_three_months(env, traveller, sofia, case_id: int, review: dict) -> None:
    traveller.shift(timedelta(days=93))
    assert fire_due_timers(env) == 1
    do(sofia, case_id, "Task_PeriodReview", review)


def test_full_path_with_pakaste_two_periods_and_a_work_trial(token_client_for, deployed):
    rita, sofia, nina = token_client_for("rita"), token_client_for("sofia"), token_client_for("nina")
    with time_machine.travel(T0, tick=False) as traveller:
        c = start(rita)
        do(sofia, c["id"], "Task_ServiceNeedAssessment", ASSESSMENT)
        do(sofia, c["id"], "Task_SocialSituation", {"situation_description": "Asuu yksin.", "pakaste_needed": "yes"})
        # the description went ahead to the health centre's nurses and doctor, with consent
        shared = [m for m in outbox(deployed, c["id"]) if m.shares_client_data]
        assert {m.recipient for m in shared} == {"user:nina", "user:noora", "user:dan"}
        do(nina, c["id"], "Task_JointAppointment", {"joint_findings": "Uniongelmat.", "joint_followon_plan": "Unilääkäri."})
        do(sofia, c["id"], "Task_ActivationPlan", PLAN)
        assert case(sofia, c["id"])["current_steps"] == ["Timer_Review"]
        traveller.shift(timedelta(days=80))
        assert fire_due_timers(deployed) == 0  # not yet three months
        traveller.shift(timedelta(days=13))
        assert fire_due_timers(deployed) == 1
        do(sofia, c["id"], "Task_PeriodReview", {"attendance": "good", "provider_feedback": "Säännöllinen.",
                                                 "workability_score": 4, "next_step": "continue"})
        review_after_three_months(deployed, traveller, sofia, c["id"], {
            "attendance": "good", "provider_feedback": "Valmis kokeiluun.", "workability_score": 6,
            "work_trial_needed": "yes", "next_step": "conclude"})
        do(sofia, c["id"], "Task_WorkTrialFeedback", {"trial_workplace": "Kierrätyskeskus",
                                                      "organiser_feedback": "Oma-aloitteinen.", "trial_result": "fit"})
        result = do(sofia, c["id"], "Task_Outcome", {"outcome": "education", "outcome_notes": "Ammattiopisto."})
    assert result["status"] == "completed" and result["outcome"] == "education"
    with deployed.uow() as uow:
        kinds = sorted(d.kind for d in uow.session.scalars(sa.select(Document).where(Document.case_id == c["id"])))
    assert kinds == ["activation_plan", "rehabilitation_outcome"]
    history = case(sofia, c["id"])["history"]
    assert [h["element_id"] for h in history if h["kind"] == "timer_fired"] == ["Timer_Review", "Timer_Review"]


def test_a_new_plan_loops_back_to_the_activation_plan_several_times(token_client_for, deployed):
    rita, sofia = token_client_for("rita"), token_client_for("sofia")
    with time_machine.travel(T0, tick=False) as traveller:
        c = start(rita)
        do(sofia, c["id"], "Task_ServiceNeedAssessment", ASSESSMENT)
        do(sofia, c["id"], "Task_SocialSituation", {"situation_description": "x", "pakaste_needed": "no"})
        for round_no in range(3):
            do(sofia, c["id"], "Task_ActivationPlan", {**PLAN, "days_per_week": round_no + 1})
            review_after_three_months(deployed, traveller, sofia, c["id"], {
                "attendance": "partial", "provider_feedback": f"kierros {round_no}", "next_step": "new_plan"})
        assert open_task(sofia, c["id"], "Task_ActivationPlan")
    with deployed.uow() as uow:
        versions = list(uow.session.scalars(sa.select(Document.version).where(
            Document.case_id == c["id"], Document.kind == "activation_plan").order_by(Document.version)))
    assert versions == [1, 2, 3]


def test_no_consent_ends_the_path_as_no_consent(client_for):
    rita, sofia = client_for("rita"), client_for("sofia")
    c = start(rita)
    result = do(sofia, c["id"], "Task_ServiceNeedAssessment", {"assessment": "x", "consent_given": "no"})
    assert result["status"] == "completed" and result["outcome"] == "no_consent"


def test_consent_not_covering_the_health_centre_sends_nothing_and_shows_an_incident(client_for, deployed):
    rita, sofia = client_for("rita"), client_for("sofia")
    c = start(rita)
    do(sofia, c["id"], "Task_ServiceNeedAssessment", {**ASSESSMENT, "consent_organisations": ["social_services"]})
    result = do(sofia, c["id"], "Task_SocialSituation", {"situation_description": "x", "pakaste_needed": "no"})
    assert result["has_incident"] is True
    view = case(sofia, c["id"])
    assert "consent does not cover" in view["incidents"][0]["message"]
    assert "nina (health_centre)" in view["incidents"][0]["message"]
    assert not [m for m in outbox(deployed, c["id"]) if m.shares_client_data]
    # a broader consent is recorded afterwards; retrying the step now shares the description
    r = sofia.post(f"/api/cases/{c['id']}/consents",
                   json={"organisations": ["social_services", "health_centre"], "given_by": "asiakas"})
    assert r.status_code == 201
    assert sofia.post(f"/api/cases/{c['id']}/retry", json={}).get_json()["has_incident"] is False
    assert len([m for m in outbox(deployed, c["id"]) if m.shares_client_data]) == 3


def test_withdrawing_consent_cancels_pending_shares_at_once_and_blocks_new_ones(client_for, deployed):
    rita, sofia = client_for("rita"), client_for("sofia")
    c = start(rita)
    do(sofia, c["id"], "Task_ServiceNeedAssessment", ASSESSMENT)
    do(sofia, c["id"], "Task_SocialSituation", {"situation_description": "x", "pakaste_needed": "no"})
    consent_id = case(sofia, c["id"])["consents"][0]["id"]
    r = sofia.post(f"/api/cases/{c['id']}/consents/{consent_id}/withdraw", json={})
    assert r.status_code == 200 and r.get_json()["cancelled_messages"] == 3
    assert {m.status for m in outbox(deployed, c["id"]) if m.shares_client_data} == {"cancelled"}
    view = case(sofia, c["id"])
    assert view["consents"][0]["valid"] is False and view["consents"][0]["withdrawn_by"] == "sofia"
    assert "consent_withdrawn" in [h["kind"] for h in view["history"]]
    again = sofia.post(f"/api/cases/{c['id']}/consents/{consent_id}/withdraw", json={})
    assert again.status_code == 409


def test_other_roles_cannot_do_the_social_workers_steps(client_for):
    rita, sofia, nina = client_for("rita"), client_for("sofia"), client_for("nina")
    c = start(rita)
    task = open_task(sofia, c["id"], "Task_ServiceNeedAssessment")
    assert nina.post(f"/api/tasks/{task['id']}/complete", json={"data": ASSESSMENT}).status_code == 404
    bad = sofia.post(f"/api/tasks/{task['id']}/complete",
                     json={"data": {**ASSESSMENT, "consent_organisations": ["mafia"], "consent_given": "maybe"}})
    assert bad.status_code == 422
    assert {d["field"] for d in bad.get_json()["details"]} == {"consent_organisations", "consent_given"}
