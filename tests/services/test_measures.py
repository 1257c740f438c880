"""Managers' measures checked against values computed by hand, on cases driven through the
real services with the clock frozen at known moments."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import time_machine

from orchestrator.errors import PermissionDeniedError
from orchestrator.services import cases, measures, tasks

from ..api.walk import BOOKING, PRE, REFERRAL
from ..conftest import principal

JAN5 = datetime(2027, 1, 5, 8, 0, tzinfo=timezone.utc)


def complete(env, username: str, case_id: int, element_id: str, data: dict) -> dict:
    actor = principal(env, username)
    (task,) = [t for t in tasks.open_for_case(env, case_id) if t["element_id"] == element_id]
    return tasks.complete(env, actor, task["id"], data)


def health_check(env, clock, region: str, ref: str, days_to_check: int | None, referrer: str = "rita",
                 nurse: str = "nina") -> int:
    """Start at the current frozen time; do the check ``days_to_check`` days later (fit for work)."""
    c = cases.start_case(env, principal(env, referrer), "unemployed_health_check", region,
                         {**REFERRAL, "client_ref": ref})
    if days_to_check is not None:
        start = datetime.now(timezone.utc)
        complete(env, nurse, c["id"], "Task_BookAppointment", BOOKING)
        complete(env, nurse, c["id"], "Task_PreQuestionnaire", PRE)
        clock.move_to(start + timedelta(days=days_to_check))
        complete(env, nurse, c["id"], "Task_HealthCheck", {"attendance": "attended", "decision": "fit_for_work"})
        clock.move_to(start)
    return c["id"]


def table(env, name: str, actor: str = "mia", region: str | None = None, **period) -> list[list]:
    scope = measures.scope_for(principal(env, actor), region, period.get("start", date(2027, 1, 1)),
                               period.get("end", date(2027, 3, 31)))
    return measures.measure(env, scope, name, datetime.now(timezone.utc)).rows


def test_flow_milestones_outcomes_and_health_checks_as_computed_by_hand(deployed):
    with time_machine.travel(JAN5, tick=False) as clock:
        health_check(deployed, clock, "north", "A", days_to_check=10)       # done 15 Jan
        health_check(deployed, clock, "north", "B", days_to_check=20)       # done 25 Jan
        health_check(deployed, clock, "north", "C", days_to_check=None)     # still waiting
        clock.move_to(datetime(2027, 2, 10, 8, tzinfo=timezone.utc))
        health_check(deployed, clock, "south", "D", days_to_check=30, referrer="rolf", nurse="sami")  # 12 Mar
    flow = {(p, m): (s, c) for p, m, s, c in table(deployed, "flow")}
    assert flow == {("unemployed_health_check", "2027-01"): (3, 2),
                    ("unemployed_health_check", "2027-02"): (1, 0),
                    ("unemployed_health_check", "2027-03"): (0, 1)}
    (row,) = [r for r in table(deployed, "milestones") if r[1] == "health_check_done"]
    assert row[2] == 3 and row[3] == pytest.approx(20.0) and row[4] == pytest.approx(28.0)  # 10, 20, 30 days
    assert table(deployed, "health_checks") == [["2027-01", 2], ["2027-03", 1]]
    assert table(deployed, "outcomes") == [["unemployed_health_check", "done", 3]]
    # one region: only the north's cases
    north = {(p, m): (s, c) for p, m, s, c in table(deployed, "flow", region="north")}
    assert north == {("unemployed_health_check", "2027-01"): (3, 2)}
    # the period decides which cases count: February and March only
    feb = table(deployed, "flow", start=date(2027, 2, 1), end=date(2027, 3, 31))
    assert [r[1:] for r in feb] == [["2027-02", 1, 0], ["2027-03", 0, 1]]


def test_score_change_first_versus_latest_per_case(deployed):
    with time_machine.travel(JAN5, tick=False) as clock:
        for ref, first, latest in (("S1", 3, 6), ("S2", 4, 5)):
            c = cases.start_case(deployed, principal(deployed, "rita"), "social_rehabilitation", "north",
                                 {"client_ref": ref, "referral_source": "social_work", "need_description": "x"})
            complete(deployed, "sofia", c["id"], "Task_ServiceNeedAssessment", {
                "assessment": "x", "consent_given": "yes", "consent_organisations": ["social_services", "health_centre"]})
            complete(deployed, "sofia", c["id"], "Task_SocialSituation", {"situation_description": "x",
                                                                          "pakaste_needed": "no"})
            complete(deployed, "sofia", c["id"], "Task_ActivationPlan", {"plan_goals": "x", "activity_type": "group_activity",
                                                                         "workability_score": first})
            clock.shift(timedelta(days=93))
            from orchestrator.services.timers import fire_due_timers
            assert fire_due_timers(deployed) == 1
            complete(deployed, "sofia", c["id"], "Task_PeriodReview", {
                "attendance": "good", "provider_feedback": "x", "workability_score": latest, "next_step": "continue"})
            clock.move_to(JAN5)
    assert table(deployed, "score_change") == [["social_rehabilitation", 2, 3.5, 5.5, 2.0]]


def test_a_double_no_show_is_not_a_health_check_done(deployed):
    with time_machine.travel(JAN5, tick=False) as clock:
        health_check(deployed, clock, "north", "DONE", days_to_check=1)
        c = cases.start_case(deployed, principal(deployed, "rita"), "unemployed_health_check", "north",
                             {**REFERRAL, "client_ref": "NOSHOW"})
        complete(deployed, "nina", c["id"], "Task_BookAppointment", BOOKING)
        for _ in range(2):
            complete(deployed, "nina", c["id"], "Task_PreQuestionnaire", PRE)
            result = complete(deployed, "nina", c["id"], "Task_HealthCheck", {"attendance": "no_show"})
            if result["status"] == "active":
                complete(deployed, "nina", c["id"], "Task_Rebook", {"appointment_at": "2027-01-20T09:00",
                                                                    "location": "x", "rebooked": True})
    assert table(deployed, "health_checks") == [["2027-01", 1]]
    assert ["unemployed_health_check", "returned_to_referrer", 1] in table(deployed, "outcomes")


def test_small_cells_are_marked_in_the_csv_which_excel_reads_in_finnish(deployed):
    with time_machine.travel(JAN5, tick=False) as clock:
        health_check(deployed, clock, "north", "A", days_to_check=2)
    scope = measures.scope_for(principal(deployed, "mia"), None, date(2027, 1, 1), date(2027, 3, 31))
    table_ = measures.measure(deployed, scope, "milestones", JAN5)
    row = next(i for i, r in enumerate(table_.rows) if r[1] == "health_check_done")
    assert table_.as_dict()["small_cells"] == [row]  # the only non-empty cell counts 1 case
    text = table_.csv().decode("utf-8")
    assert text.startswith("\ufeff") and text[1:].splitlines()[0] == "pathway;milestone;cases;median;p90;pieni solu (<5)"
    assert "unemployed_health_check;health_check_done;1;2,0;2,0;x" in text


def test_only_managers_coordinators_and_admins_see_measures_and_only_in_their_regions(deployed):
    with pytest.raises(PermissionDeniedError):
        measures.scope_for(principal(deployed, "nina"), None, None, None)
    with pytest.raises(PermissionDeniedError):
        measures.scope_for(principal(deployed, "cora"), "south", None, None)  # a coordinator of the north
    assert measures.scope_for(principal(deployed, "cora"), None, None, None).regions == {"north"}


def ips_client(env, i: int, employment_type: str | None) -> None:
    c = cases.start_case(env, principal(env, "rita"), "ips_job_coaching", "north",
                         {"client_ref": f"KEUSOTE-{i}", "referral_source": "mental_health"})
    coach = "jori" if i % 2 else "jenni"
    complete(env, coach, c["id"], "Task_FirstMeeting", {
        "wants_to_work": True, "first_meeting_date": "2027-01-05", "consent_given": "yes",
        "consent_organisations": ["ips_service", "social_services"]})
    if employment_type is None:
        return
    complete(env, coach, c["id"], "Task_BenefitsCounselling", {"counselling_notes": "x"})
    complete(env, coach, c["id"], "Task_VocationalProfile", {"work_history": "x", "preferences": "x"})
    complete(env, coach, c["id"], "Task_EmployerContact", {"employer_contact_date": "2027-01-12",
                                                           "employer_contacted": "Yritys Oy"})
    complete(env, coach, c["id"], "Task_JobSearch", {"job_found": "yes"})
    complete(env, coach, c["id"], "Task_JobStart", {"employment_type": employment_type, "employer": "Yritys Oy",
                                                    "start_date": "2027-02-01"})


def test_the_keusote_ips_pilot_figures_come_out_of_the_real_services(deployed):
    """Keusote's IPS pilot reported 63 clients: 38 in paid work, 11 in fee-paid work, 2 studying."""
    kinds = ["paid_work"] * 38 + ["fee_paid_work"] * 11 + ["studies"] * 2 + [None] * 12
    with time_machine.travel(JAN5, tick=False):
        for i, kind in enumerate(kinds):
            ips_client(deployed, i, kind)
    assert table(deployed, "ips_outcomes") == [["paid_work", 38], ["fee_paid_work", 11], ["studies", 2], ["other", 12]]
    caseloads = {coach: n for coach, n, _over in table(deployed, "caseloads")}
    assert caseloads == {"jori": 31, "jenni": 32}
    assert all(over for _c, n, over in table(deployed, "caseloads") if n > 20)  # both above the IPS limit of 20
    (first_contact,) = table(deployed, "first_contact")
    assert first_contact[0] == 51 and first_contact[3] == 51  # all reached an employer the same day here
