"""One case of the real health-check process, step by step, with time moved explicitly."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from orchestrator.engine.deployment import build_models, read_forms
from orchestrator.engine.runtime import CaseRuntime
from orchestrator.engine.waits import HumanTask, ServiceCall
from orchestrator.errors import ExecutionError

from .helpers import FIXTURES, health_check_model

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
APPOINTMENT = "2026-12-10T10:00"                              # Helsinki time, as the booking form sends it
REMINDER_DUE = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)        # 3 days earlier, 10:00 EET = 08:00 UTC
REFERRAL = {"client_ref": "AS-1042", "referral_source": "te_office", "urgency": "normal",
            "reason": "Pitkä työttömyys", "consent_to_summary": True}
BOOKING = {"appointment_at": APPOINTMENT, "location": "Terveysasema, huone 3", "invitation_channel": "sms"}


@pytest.fixture(scope="module")
def model():
    return health_check_model()


def only(items: list):
    assert len(items) == 1, items
    return items[0]


def service(rt: CaseRuntime, element_id: str) -> ServiceCall:
    call = only(rt.service_calls())
    assert call.element_id == element_id
    return call


def human(rt: CaseRuntime, element_id: str, now: datetime = NOW) -> HumanTask:
    return only([t for t in rt.human_tasks(now) if t.element_id == element_id])


def ids(steps) -> list[str]:
    return [s.element_id for s in steps]


def started(model, **data) -> CaseRuntime:
    """A started case past its first step, the (service-layer) recording of the consent."""
    rt, _ = CaseRuntime.start(model, {**REFERRAL, **data})
    rt.complete_service(service(rt, "Task_SaveConsent").task_id, None)
    return rt


def booked(model, **data) -> CaseRuntime:
    """A case whose invitation has gone out: the pre-questionnaire waits, the reminder timer runs."""
    rt = started(model, **data)
    rt.complete_service(service(rt, "Task_NotifyNurses").task_id, None)
    rt.complete_human(human(rt, "Task_BookAppointment").task_id, BOOKING)
    rt.complete_service(service(rt, "Task_SendInvitation").task_id, None)
    return rt


def checked(model, check: dict, **data) -> tuple[CaseRuntime, list]:
    """Pre-questionnaire filled in, then the nurse's check submitted with ``check``."""
    rt = booked(model, **data)
    rt.complete_human(human(rt, "Task_PreQuestionnaire").task_id, {"workability_score": 6})
    return rt, rt.complete_human(human(rt, "Task_HealthCheck").task_id, check)


# -- start and the first steps -----------------------------------------------------------------

def test_start_records_consent_then_notifies_the_nurses_with_the_client_ref_in_the_message(model):
    rt, steps = CaseRuntime.start(model, REFERRAL)
    assert ids(steps) == ["StartEvent_Referral"]
    consent = service(rt, "Task_SaveConsent")
    assert consent.topic == "consent"
    assert consent.params == {"given": "consent_to_summary", "organisation_keys": "referrer"}
    rt.complete_service(consent.task_id, None)
    call = service(rt, "Task_NotifyNurses")
    assert call.topic == "notify"
    assert call.params["to_role"] == "nurse"
    assert call.params["message"] == ("Uusi lähete työttömien terveystarkastukseen: asiakas AS-1042 "
                                      "(kiireellisyys: normal). Varaa aika ja lähetä kutsu.")
    assert rt.human_tasks(NOW) == []
    assert rt.data()["client_ref"] == "AS-1042"
    assert not rt.completed and rt.outcome() is None


def test_completing_the_service_call_moves_on_to_booking(model):
    rt = started(model)
    steps = rt.complete_service(service(rt, "Task_NotifyNurses").task_id, {"notified": 3})
    assert ids(steps) == ["Task_NotifyNurses"]
    assert rt.service_calls() == []
    task = human(rt, "Task_BookAppointment")
    assert task.role == "nurse"
    assert task.form_id == "hc_booking"
    assert task.name == "Varaa aika ja lähetä kutsu"
    assert rt.data()["notified"] == 3  # a handler's result becomes case data


@pytest.mark.parametrize(("urgency", "days"), [("normal", 7), ("urgent", 2)])
def test_booking_is_due_in_seven_days_or_two_when_urgent(model, urgency, days):
    rt = started(model, urgency=urgency)
    rt.complete_service(service(rt, "Task_NotifyNurses").task_id, None)
    assert human(rt, "Task_BookAppointment", now=NOW).due_at == NOW + timedelta(days=days)


def test_the_invitation_carries_the_booked_time_and_place(model):
    rt = started(model)
    rt.complete_service(service(rt, "Task_NotifyNurses").task_id, None)
    steps = rt.complete_human(human(rt, "Task_BookAppointment").task_id, BOOKING)
    assert ids(steps) == ["Task_BookAppointment", "Gateway_MergeInvitation"]
    call = service(rt, "Task_SendInvitation")
    assert call.params["to"] == "client"
    assert "2026-12-10T10:00, paikka: Terveysasema, huone 3." in call.params["message"]


# -- the reminder timer ---------------------------------------------------------------------

def test_reminder_timer_is_due_three_days_before_the_appointment_in_utc(model):
    rt = booked(model)
    timer = only(rt.timers())
    assert timer.element_id == "BoundaryEvent_Reminder"
    assert timer.boundary is True
    assert timer.due_at == REMINDER_DUE
    assert timer.due_at.tzinfo is not None and timer.due_at.utcoffset() == timedelta(0)
    assert human(rt, "Task_PreQuestionnaire").form_id == "hc_prequestionnaire"
    assert rt.current_steps() == ["Task_PreQuestionnaire"]  # a boundary timer is not a step of its own


def test_reminder_does_not_fire_before_its_time(model):
    rt = booked(model)
    with time_machine.travel(REMINDER_DUE - timedelta(minutes=1), tick=False):
        assert rt.fire_timers() == []
    assert rt.service_calls() == []
    assert only(rt.timers()).due_at == REMINDER_DUE


def test_reminder_fires_after_its_time_and_the_questionnaire_stays_open(model):
    rt = booked(model)
    questionnaire = human(rt, "Task_PreQuestionnaire")
    with time_machine.travel(REMINDER_DUE + timedelta(minutes=1), tick=False):
        steps = rt.fire_timers()
    assert ids(steps) == ["BoundaryEvent_Reminder"]
    call = service(rt, "Task_SendReminder")
    assert call.topic == "notify" and call.params["to"] == "client"
    assert "2026-12-10T10:00" in call.params["message"]
    assert human(rt, "Task_PreQuestionnaire").task_id == questionnaire.task_id
    # Sending the reminder ends only the reminder branch.
    assert ids(rt.complete_service(call.task_id, None)) == ["Task_SendReminder", "End_ReminderSent"]
    assert human(rt, "Task_PreQuestionnaire").task_id == questionnaire.task_id
    assert not rt.completed and rt.timers() == []


def test_filling_the_questionnaire_in_time_cancels_the_reminder(model):
    rt = booked(model)
    rt.complete_human(human(rt, "Task_PreQuestionnaire").task_id, {"workability_score": 8})
    assert rt.timers() == []
    with time_machine.travel(REMINDER_DUE + timedelta(days=1), tick=False):
        assert rt.fire_timers() == []
    assert rt.service_calls() == []
    assert human(rt, "Task_HealthCheck").role == "nurse"


# -- persistence ------------------------------------------------------------------------------

def test_dumps_and_load_keep_open_tasks_timers_and_data_without_the_spec(model):
    rt = booked(model)
    open_task = human(rt, "Task_PreQuestionnaire")
    state = rt.dumps()
    doc = json.loads(state)
    assert "spec" not in doc and "subprocess_specs" not in doc
    # Names of elements live in the spec only; the case state refers to tasks by id.
    readable = json.dumps(doc, ensure_ascii=False)
    for name in ("Lääkärin työkyvyn arvio", "Palauta lähettäjälle", "Terveydenhoitajan päätös"):
        assert name not in readable

    loaded = CaseRuntime.load(model, state)
    assert [(t.task_id, t.element_id, t.form_id) for t in loaded.human_tasks(NOW)] == [
        (open_task.task_id, "Task_PreQuestionnaire", "hc_prequestionnaire")]
    assert loaded.timers() == rt.timers()
    assert loaded.data()["appointment_at"] == APPOINTMENT
    assert loaded.data()["client_ref"] == "AS-1042"
    # The loaded case carries on.
    assert ids(loaded.complete_human(open_task.task_id, {"workability_score": 5})) == ["Task_PreQuestionnaire"]
    assert human(loaded, "Task_HealthCheck").form_id == "hc_nurse_check"


def test_a_loaded_case_still_fires_its_timer(model):
    loaded = CaseRuntime.load(model, booked(model).dumps())
    with time_machine.travel(REMINDER_DUE + timedelta(seconds=1), tick=False):
        loaded.fire_timers()
    assert service(loaded, "Task_SendReminder").topic == "notify"


# -- errors a caller sees --------------------------------------------------------------------

def test_a_gateway_with_no_matching_condition_names_the_gateway(model):
    rt = booked(model)
    rt.complete_human(human(rt, "Task_PreQuestionnaire").task_id, {"workability_score": 6})
    with pytest.raises(ExecutionError) as info:
        rt.complete_human(human(rt, "Task_HealthCheck").task_id, {"attendance": "attended"})  # no decision
    assert str(info.value).startswith("Gateway_NurseDecision: ")
    assert "'Terveydenhoitajan päätös' cannot decide how to continue: decision is empty" in str(info.value)
    assert info.value.status == 422  # the submitted data is what leads nowhere


@pytest.mark.parametrize("bad_id", ["not-a-uuid", ""])
def test_complete_human_with_a_malformed_task_id_is_refused(model, bad_id):
    rt = started(model)
    with pytest.raises(ExecutionError, match="is not waiting for input"):
        rt.complete_human(bad_id, {})
    with pytest.raises(ExecutionError, match="is not running"):
        rt.complete_service(bad_id, None)


def test_a_well_formed_but_unknown_task_id_is_refused_as_an_execution_error(model):
    rt = started(model)
    unknown = str(uuid.uuid4())
    with pytest.raises(ExecutionError, match=f"task {unknown} is not waiting for input"):
        rt.complete_human(unknown, {})
    with pytest.raises(ExecutionError, match="is not running"):
        rt.complete_service(unknown, None)


def test_complete_human_on_a_task_that_is_not_ready_is_refused_and_changes_nothing(model):
    rt = started(model)
    notify = service(rt, "Task_NotifyNurses")
    with pytest.raises(ExecutionError, match=f"task {notify.task_id} is not waiting for input"):
        rt.complete_human(notify.task_id, {"urgency": "urgent"})  # a running service task
    rt.complete_service(notify.task_id, None)
    booking = human(rt, "Task_BookAppointment")
    rt.complete_human(booking.task_id, BOOKING)
    with pytest.raises(ExecutionError, match="is not waiting for input"):
        rt.complete_human(booking.task_id, {"location": "muualla"})  # already completed
    assert rt.data()["location"] == BOOKING["location"]
    assert rt.data()["urgency"] == "normal"


def test_complete_service_on_a_human_task_is_refused(model):
    rt = started(model)
    rt.complete_service(service(rt, "Task_NotifyNurses").task_id, None)
    with pytest.raises(ExecutionError, match="is not running"):
        rt.complete_service(human(rt, "Task_BookAppointment").task_id, None)


# -- the ends ---------------------------------------------------------------------------------

def test_fit_for_work_with_consent_sends_the_summary_and_ends_done(model):
    rt, steps = checked(model, {"attendance": "attended", "decision": "fit_for_work", "findings": "ok"})
    assert ids(steps)[:3] == ["Task_HealthCheck", "Gateway_Attendance", "Gateway_NurseDecision"]
    record = service(rt, "Task_RecordSummary")
    assert record.topic == "record" and record.params["document"] == "health_check_summary"
    rt.complete_service(record.task_id, None)
    summary = service(rt, "Task_SendSummary")
    assert "Terveydenhoitajan päätös: fit_for_work" in summary.params["message"]
    steps = rt.complete_service(summary.task_id, None)
    assert ids(steps)[-1] == "End_Done"
    assert rt.completed
    assert rt.outcome() == "done"


def test_without_consent_no_summary_is_sent(model):
    rt, _ = checked(model, {"attendance": "attended", "decision": "refer_network"}, consent_to_summary=False)
    rt.complete_service(service(rt, "Task_RecordSummary").task_id, None)
    assert rt.service_calls() == []
    assert rt.completed and rt.outcome() == "handed_over"
    assert rt.handover_to() == "work_ability_network"


def test_doctor_needed_goes_to_the_doctor_with_a_fourteen_day_due_date(model):
    rt, _ = checked(model, {"attendance": "attended", "decision": "doctor_needed"})
    task = human(rt, "Task_DoctorAssessment")
    assert task.role == "doctor"
    assert task.form_id == "hc_doctor"
    assert task.due_at == NOW + timedelta(days=14)
    rt.complete_human(task.task_id, {"doctor_outcome": "network", "statement": "Ohjaus verkostoon"})
    assert service(rt, "Task_RecordSummary").topic == "record"


def test_two_no_shows_return_the_referral_to_the_referrer(model):
    rt, steps = checked(model, {"attendance": "no_show"})
    assert ids(steps) == ["Task_HealthCheck", "Gateway_Attendance", "Gateway_NoShowCount"]
    rebook = human(rt, "Task_Rebook")
    assert rebook.role == "nurse" and rebook.form_id == "hc_rebook"
    rt.complete_human(rebook.task_id, {"appointment_at": "2026-12-17T09:30", "location": "Terveysasema",
                                       "rebooked": True})
    invitation = service(rt, "Task_SendInvitation")
    assert "2026-12-17T09:30" in invitation.params["message"]
    rt.complete_service(invitation.task_id, None)
    # The new appointment gets its own reminder: 3 days before 09:30 EET = 07:30 UTC.
    assert [t.due_at for t in rt.timers()] == [datetime(2026, 12, 14, 7, 30, tzinfo=UTC)]
    rt.complete_human(human(rt, "Task_PreQuestionnaire").task_id, {"workability_score": 4})
    rt.complete_human(human(rt, "Task_HealthCheck").task_id, {"attendance": "no_show"})
    call = service(rt, "Task_ReturnToReferrer")
    assert call.params["to"] == "referrer" and "AS-1042" in call.params["message"]
    steps = rt.complete_service(call.task_id, None)
    assert ids(steps) == ["Task_ReturnToReferrer", "End_ReturnedToReferrer"]
    assert rt.completed
    assert rt.outcome() == "returned_to_referrer"


def test_the_rebooked_case_survives_a_round_trip_through_dumps(model):
    rt, _ = checked(model, {"attendance": "no_show"})
    rt.complete_human(human(rt, "Task_Rebook").task_id, {"appointment_at": "2026-12-17T09:30",
                                                          "location": "Terveysasema", "rebooked": True})
    loaded = CaseRuntime.load(model, rt.dumps())
    loaded.complete_service(service(loaded, "Task_SendInvitation").task_id, None)
    assert only(loaded.timers()).due_at == datetime(2026, 12, 14, 7, 30, tzinfo=UTC)
    assert loaded.data()["rebooked"] is True


# -- the small fixture: assignee from data, an intermediate timer, an outcome by name ----------

@pytest.fixture(scope="module")
def mini():
    forms, problems = read_forms({p.name: p.read_bytes() for p in Path(FIXTURES).glob("mini_*.form")})
    assert problems == []
    (m,) = build_models({"mini.bpmn": (FIXTURES / "mini.bpmn").read_bytes()}, forms, ["notify"])
    return m


def test_low_score_goes_to_the_doctor_named_in_the_case_data(mini):
    rt, _ = CaseRuntime.start(mini, {"client_ref": "C-1", "doctor_user": "dan"})
    check = human(rt, "Task_Check")
    assert check.due_at == NOW + timedelta(days=7)
    rt.complete_human(check.task_id, {"score": 2})
    call = service(rt, "Task_Notify")
    assert call.params == {"to_role": "doctor", "subject": "Hei C-1"}
    rt.complete_service(call.task_id, None)
    doctor = human(rt, "Task_Doctor")
    assert (doctor.role, doctor.assignee) == ("doctor", "dan")
    rt.complete_human(doctor.task_id, {})
    assert rt.completed and rt.outcome() == "done"


def test_an_intermediate_timer_waits_three_days_from_when_it_is_reached(mini):
    reached = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(reached, tick=False):
        rt, _ = CaseRuntime.start(mini, {"client_ref": "C-2"})
        rt.complete_human(human(rt, "Task_Check").task_id, {"score": 8})
        rt.complete_service(service(rt, "Task_Notify").task_id, None)
    timer = only(rt.timers())
    assert (timer.element_id, timer.boundary, timer.due_at) == ("Timer_Wait", False, reached + timedelta(days=3))
    assert rt.current_steps() == ["Timer_Wait"]
    with time_machine.travel(reached + timedelta(days=3) - timedelta(seconds=1), tick=False):
        assert rt.fire_timers() == []
    with time_machine.travel(reached + timedelta(days=3, seconds=1), tick=False):
        assert ids(rt.fire_timers()) == ["Timer_Wait", "End_Other"]
    # End_Other has no outcome property: the end event's name is the outcome.
    assert rt.completed and rt.outcome() == "Odotettu"
