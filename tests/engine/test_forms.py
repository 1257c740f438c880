"""The real health-check forms: what a submission must contain, and each problem names its field."""
from __future__ import annotations

import pytest

from orchestrator.engine.forms import MAX_TEXT, parse_form
from orchestrator.errors import DeploymentError, FormValidationError

from .helpers import field, form_json, real_forms

FORMS = real_forms()

REFERRAL = {"client_ref": "AS-1042", "referral_source": "te_office", "urgency": "normal",
            "reason": "Pitkä työttömyys, terveystarkastus", "consent_to_summary": True}
BOOKING = {"appointment_at": "2026-12-10T10:00", "location": "Terveysasema, huone 3", "invitation_channel": "sms"}
PREQ = {"workability_score": 7, "health_concerns": ["sleep"], "self_assessment_notes": ""}
REBOOK = {"appointment_at": "2026-12-17T09:30", "location": "Terveysasema", "rebooked": True}


def problems(form_id: str, data, **kwargs) -> dict[str, str]:
    """field key → message of every problem; fails if the data is accepted."""
    with pytest.raises(FormValidationError) as info:
        FORMS[form_id].validate(data, **kwargs)
    found = {p.field: p.message for p in info.value.problems}
    assert len(found) == len(info.value.problems), "one problem per field"
    assert info.value.status == 422
    return found


def test_the_real_forms_expose_the_keys_the_process_uses():
    assert FORMS["hc_referral"].keys == {"client_ref", "referral_source", "urgency", "reason", "consent_to_summary"}
    assert FORMS["hc_nurse_check"].keys == {"attendance", "findings", "decision"}  # inside a group too
    assert FORMS["hc_prequestionnaire"].keys == {"workability_score", "health_concerns", "self_assessment_notes"}


def test_a_complete_referral_is_accepted_as_submitted():
    assert FORMS["hc_referral"].validate(REFERRAL) == REFERRAL


def test_every_missing_required_field_is_named_in_one_error():
    found = problems("hc_referral", {"consent_to_summary": False})
    assert found == {
        "client_ref": "Asiakastunnus is required",
        "referral_source": "Lähettäjä is required",
        "urgency": "Kiireellisyys is required",
        "reason": "Lähetteen syy is required",
    }


@pytest.mark.parametrize("empty", [None, "", []])
def test_empty_values_count_as_missing(empty):
    assert problems("hc_referral", {**REFERRAL, "client_ref": empty}) == {"client_ref": "Asiakastunnus is required"}


def test_an_optional_field_may_be_left_out():
    data = {k: v for k, v in REFERRAL.items() if k != "consent_to_summary"}
    assert FORMS["hc_referral"].validate(data) == data


@pytest.mark.parametrize(("score", "message"), [
    (11, "must be at most 10"),
    (-1, "must be at least 0"),
    (10.5, "must be at most 10"),
    ("seitsemän", "must be a number"),
    (True, "must be a number"),
    (float("nan"), "must be a number"),
    ([7], "must be a number"),
])
def test_workability_score_must_be_a_number_from_0_to_10(score, message):
    found = problems("hc_prequestionnaire", {**PREQ, "workability_score": score})
    assert found == {"workability_score": f"Työkykypistemäärä 0–10 (Kykyviisari) {message}"}


@pytest.mark.parametrize(("score", "clean"), [(0, 0), (10, 10), ("7", 7), ("7,5", 7.5), (3.25, 3.25)])
def test_workability_score_accepts_the_bounds_and_numeric_text(score, clean):
    assert FORMS["hc_prequestionnaire"].validate({**PREQ, "workability_score": score})["workability_score"] == clean


def test_select_and_radio_accept_only_their_options():
    found = problems("hc_referral", {**REFERRAL, "referral_source": "poliisi", "urgency": "URGENT"})
    assert found == {
        "referral_source": "Lähettäjä: 'poliisi' is not one of te_office, municipal_employment, social_work, "
                           "own_request",
        "urgency": "Kiireellisyys: 'URGENT' is not one of normal, urgent",
    }
    # The label the person saw is not the value stored.
    assert "urgency" in problems("hc_referral", {**REFERRAL, "urgency": "Kiireellinen"})


def test_checklist_must_be_a_subset_of_its_options():
    found = problems("hc_prequestionnaire", {**PREQ, "health_concerns": ["sleep", "flying", "money"]})
    assert found == {"health_concerns": "Terveyshuolet: 'flying', 'money' not among musculoskeletal, "
                                        "mental_health, substance_use, sleep, other"}
    assert problems("hc_prequestionnaire", {**PREQ, "health_concerns": "sleep"}) == {
        "health_concerns": "Terveyshuolet must be a list of choices"}


def test_checklist_drops_repeated_choices_keeping_order():
    cleaned = FORMS["hc_prequestionnaire"].validate({**PREQ, "health_concerns": ["sleep", "other", "sleep"]})
    assert cleaned["health_concerns"] == ["sleep", "other"]


def test_the_required_rebooked_checkbox_must_be_checked():
    assert problems("hc_rebook", {**REBOOK, "rebooked": False}) == {
        "rebooked": "Uusi aika on varattu ja asiakkaalle ilmoitettu must be checked"}
    assert problems("hc_rebook", {**REBOOK, "rebooked": "kyllä"}) == {
        "rebooked": "Uusi aika on varattu ja asiakkaalle ilmoitettu must be true or false"}
    assert FORMS["hc_rebook"].validate(REBOOK)["rebooked"] is True


def test_an_optional_checkbox_may_be_false():
    assert FORMS["hc_referral"].validate({**REFERRAL, "consent_to_summary": False})["consent_to_summary"] is False


@pytest.mark.parametrize("value", ["10.12.2026 klo 10", "2026-12-32T10:00", "huomenna", "2026-12-10T25:00"])
def test_appointment_time_must_be_an_iso_date_time(value):
    assert problems("hc_booking", {**BOOKING, "appointment_at": value}) == {
        "appointment_at": "Vastaanottoaika must be written YYYY-MM-DDTHH:MM"}


@pytest.mark.parametrize(("value", "clean"), [
    ("2026-12-10T10:00", "2026-12-10T10:00:00"),
    ("2026-12-10T08:00:00Z", "2026-12-10T08:00:00+00:00"),
    (" 2026-12-10T10:00+02:00 ", "2026-12-10T10:00:00+02:00"),
])
def test_appointment_time_is_stored_in_one_iso_form(value, clean):
    assert FORMS["hc_booking"].validate({**BOOKING, "appointment_at": value})["appointment_at"] == clean


def test_a_field_the_form_does_not_have_is_refused_by_its_key():
    assert problems("hc_booking", {**BOOKING, "is_admin": True}) == {"is_admin": "is not a field of this form"}


def test_text_has_a_ceiling_even_without_max_length():
    assert problems("hc_booking", {**BOOKING, "location": "x" * (MAX_TEXT + 1)}) == {
        "location": f"Paikka may be at most {MAX_TEXT} characters"}
    assert problems("hc_referral", {**REFERRAL, "reason": "x" * 2001}) == {
        "reason": "Lähetteen syy may be at most 2000 characters"}
    assert problems("hc_booking", {**BOOKING, "location": 42}) == {"location": "Paikka must be text"}


def test_partial_drafts_skip_required_checks_but_not_type_checks():
    assert FORMS["hc_rebook"].validate({"location": "Terveysasema"}, partial=True) == {"location": "Terveysasema"}
    # An unchecked required box is fine in a draft …
    assert FORMS["hc_rebook"].validate({"rebooked": False}, partial=True) == {"rebooked": False}
    # … but a wrong type, an out-of-range number or an unknown key is not.
    assert problems("hc_prequestionnaire", {"workability_score": 12, "mood": "ok"}, partial=True) == {
        "workability_score": "Työkykypistemäärä 0–10 (Kykyviisari) must be at most 10",
        "mood": "is not a field of this form",
    }
    assert problems("hc_booking", {"appointment_at": "ensi viikolla"}, partial=True) == {
        "appointment_at": "Vastaanottoaika must be written YYYY-MM-DDTHH:MM"}


def test_non_object_data_is_refused():
    with pytest.raises(FormValidationError, match="must be a JSON object"):
        FORMS["hc_booking"].validate(["appointment_at"])


# -- reading form files ---------------------------------------------------------------------

def test_options_loaded_at_run_time_are_refused_at_deploy():
    with pytest.raises(DeploymentError) as info:
        parse_form(form_json(field("team", "select", values=None, valuesKey="teams", id="Field_Team")), "forms/x.form")
    (problem,) = info.value.problems
    assert problem.field == "team" and problem.element_id == "Field_Team"
    assert problem.message == "options loaded at run time are not supported"


def test_a_field_without_a_usable_key_is_refused():
    with pytest.raises(DeploymentError) as info:
        parse_form(form_json(field("ok"), {"id": "Field_Bad", "type": "textfield", "label": "Nimi", "key": "1st name"}),
                   "forms/x.form")
    (problem,) = info.value.problems
    assert problem.element_id == "Field_Bad"
    assert problem.message == "field 'Nimi' has no usable key ('1st name')"


def test_a_json_file_that_is_not_a_form_js_form_is_refused():
    with pytest.raises(DeploymentError) as info:
        parse_form('{"title": "not a form"}', "forms/x.form")
    assert "'components' list" in info.value.problems[0].message


def test_form_id_is_the_file_name():
    assert parse_form(form_json(field("a")), "forms/sub/hc_extra.form").form_id == "hc_extra"
