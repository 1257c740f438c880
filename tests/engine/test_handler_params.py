"""Handlers declare their parameters and deploy checks every service task against them.

Before this, a bare ``notify`` deployed and then failed every case that reached it as an
incident; now the designer hears about it at deploy, at the parameter's line, with the fix.
"""
from __future__ import annotations

from orchestrator.engine.deployment import build_models
from orchestrator.engine.handler_params import placeholders
from orchestrator.errors import Problem

from .helpers import (
    END,
    ROOT,
    STANDARD_FORMS,
    START,
    TOPICS,
    deploy,
    diagram,
    field,
    line_of,
    only_problem,
    real_forms,
    rejected,
    seq_flow,
    service_task,
    standard_forms_plus,
)

IDS = ["StartEvent_1", "Task_1", "End_1"]


def service(topic: str, *params: tuple[str, str], properties: tuple[tuple[str, str], ...] = (),
            name: str = "Ilmoita") -> str:
    """A service task of ``topic``, one parameter per line (so each has its own line number)."""
    lines = [f'<bpmn:serviceTask id="Task_1" name="{name}" camunda:type="external" camunda:topic="{topic}">',
             "  <bpmn:extensionElements>"]
    if properties:
        lines.append("    <camunda:properties>")
        lines.extend(f'      <camunda:property name="{k}" value="{v}" />' for k, v in properties)
        lines.append("    </camunda:properties>")
    if params:
        lines.append("    <camunda:inputOutput>")
        lines.extend(f'      <camunda:inputParameter name="{k}">{v}</camunda:inputParameter>' for k, v in params)
        lines.append("    </camunda:inputOutput>")
    lines += ["  </bpmn:extensionElements>", "</bpmn:serviceTask>"]
    return "\n".join(lines)


def one_service(task: str, *extra: str) -> str:
    return diagram(START, task, END, *extra, chain=IDS, lanes={"nurse": IDS})


def located(problem: Problem, xml: str, needle: str, param: str) -> None:
    """The designer can find it: file, the line of ``needle``, the task's id and name, the parameter."""
    assert problem.file == "test.bpmn"
    assert problem.line == line_of(xml, needle)
    assert problem.element_id == "Task_1" and problem.element_name == "Ilmoita"
    assert problem.field == param
    assert problem.fix


NOTE = ("subject", "Uusi lähete"), ("message", "Asiakas $client_ref odottaa.")


# -- notify ------------------------------------------------------------------------------------

def test_a_bare_notify_is_refused_at_deploy_not_at_every_case():
    xml = one_service('<bpmn:serviceTask id="Task_1" name="Ilmoita" camunda:type="external" camunda:topic="notify" />')
    problem = only_problem(rejected(xml))
    located(problem, xml, 'id="Task_1"', "to_role")
    assert problem.message == "notify needs one of the parameters 'to_role' or 'to'"
    assert 'camunda:inputParameter name="to_role"' in problem.fix and 'name="to"' in problem.fix
    assert str(problem).startswith(f"test.bpmn:{problem.line} Task_1 ('Ilmoita') field 'to_role': notify needs")


def test_notify_with_both_recipients_is_refused_at_the_second():
    xml = one_service(service("notify", ("to_role", "nurse"), ("to", "client"), *NOTE))
    problem = only_problem(rejected(xml))
    located(problem, xml, 'name="to">', "to")
    assert problem.message == "notify takes only one of the parameters 'to_role' or 'to', and this task sets 2"


def test_an_unknown_parameter_is_refused_with_the_likely_one():
    xml = one_service(service("notify", ("to_roles", "nurse"), *NOTE))
    error = rejected(xml)
    unknown = next(p for p in error.problems if p.field == "to_roles")
    located(unknown, xml, 'name="to_roles"', "to_roles")
    assert unknown.message == "notify has no parameter 'to_roles'"
    assert unknown.fix.startswith("did you mean 'to_role'? notify takes: to_role, to, subject, message")
    # … and because to_role is then missing, that is said too
    assert {p.field for p in error.problems} == {"to_roles", "to_role"}


def test_a_role_that_does_not_exist_is_refused_and_titles_are_roles():
    xml = one_service(service("notify", ("to_role", "nurse, psykologi"), *NOTE))
    problem = only_problem(rejected(xml))
    located(problem, xml, 'name="to_role"', "to_role")
    assert problem.message == "notify parameter 'to_role': 'psykologi' is not a role"
    assert problem.fix.startswith("use one of: referrer, coordinator")
    typo = only_problem(rejected(one_service(service("notify", ("to_role", "nurze"), *NOTE))))
    assert typo.fix == "did you mean 'nurse'?"
    # The lane rule's names work here too: a key, a title in any UI language, "label (key)".
    assert deploy(one_service(service("notify", ("to_role", "Terveydenhoitaja, Läkare, Tiimi (coordinator)"),
                                      *NOTE)))


def test_share_must_be_true_or_false():
    xml = one_service(service("notify", ("to", "referrer"), ("share", "kyllä"), *NOTE))
    problem = only_problem(rejected(xml))
    located(problem, xml, 'name="share"', "share")
    assert problem.message == "notify parameter 'share' must be true or false, not 'kyllä'"
    assert problem.fix == 'write "true" or "false"'
    assert deploy(one_service(service("notify", ("to", "referrer"), ("share", "true"), *NOTE)))
    assert deploy(one_service(service("notify", ("to", "referrer"), ("share", "False"), *NOTE)))


def test_an_unknown_recipient_word_is_refused_with_the_words():
    xml = one_service(service("notify", ("to", "asiakas"), *NOTE))
    problem = only_problem(rejected(xml))
    located(problem, xml, 'name="to"', "to")
    assert problem.message == "notify parameter 'to' must be one of client, referrer, client_lead, network, not 'asiakas'"
    assert problem.fix == "use one of: client, referrer, client_lead, network"


def test_sending_to_the_network_needs_a_field_that_names_it():
    xml = one_service(service("notify", ("to", "network"), *NOTE))
    problem = only_problem(rejected(xml))
    located(problem, xml, 'name="to"', "to")
    assert "reads the case-data field 'network_members', which no form of this process sets" in problem.message
    forms = standard_forms_plus("start", field("network_members"))
    assert deploy(xml, forms)


def test_message_placeholders_must_be_case_data_names():
    xml = one_service(service("notify", ("to_role", "nurse"), ("message", "Asiakas $client_reff, ${urgency}.")))
    problem = only_problem(rejected(xml))
    located(problem, xml, 'name="message"', "message")
    assert problem.message == "notify parameter 'message' uses $client_reff, which no form of this process sets"
    assert problem.fix == "did you mean 'client_ref'?"
    # $$ is a literal dollar sign, and a name the form sets is fine
    assert deploy(one_service(service("notify", ("to_role", "nurse"), ("message", "Maksu 5 $$ ($urgency)"))))


def test_an_expression_in_a_text_is_refused_because_it_would_stay_as_written():
    xml = one_service(service("notify", ("to_role", "nurse"), ("message", "Kiire: ${urgency == 'urgent'}")))
    problem = only_problem(rejected(xml))
    assert problem.field == "message"
    assert "would stay as written" in problem.message


def test_a_property_with_a_placeholder_is_refused_since_properties_are_not_filled():
    xml = one_service(service("notify", ("to_role", "nurse"), properties=(("subject", "Hei $client_ref"),)))
    problem = only_problem(rejected(xml))
    located(problem, xml, 'name="subject"', "subject")
    assert problem.fix == 'make it a camunda:inputParameter name="subject"'
    # a literal property is a parameter like an input, and polku.* properties are Polku's own
    assert deploy(one_service(service("notify", ("message", "Hei"), properties=(
        ("to_role", "nurse"), ("polku.note", "x")))))


def test_a_list_value_is_refused():
    task = service("notify", *NOTE).replace(
        "<camunda:inputOutput>",
        '<camunda:inputOutput>\n      <camunda:inputParameter name="to_role"><camunda:list>'
        "<camunda:value>nurse</camunda:value></camunda:list></camunda:inputParameter>")
    problem = only_problem(rejected(one_service(task)))
    assert problem.field == "to_role"
    assert problem.message == "notify parameter 'to_role' is a camunda:list, which Polku does not read"
    assert problem.fix == "write the value as text (several values comma-separated)"


# -- record, consent, invite -----------------------------------------------------------------

def test_a_missing_required_parameter_is_refused():
    xml = one_service(service("record", ("fields", "urgency,approved")))
    problem = only_problem(rejected(xml))
    located(problem, xml, 'id="Task_1"', "document")
    assert problem.message == "record needs the parameter 'document'"
    assert problem.fix.startswith('add camunda:inputParameter name="document": the kind of document')


def test_recorded_fields_must_be_case_data_names():
    xml = one_service(service("record", ("document", "summary"), ("fields", "approved, urgnecy")))
    problem = only_problem(rejected(xml))
    located(problem, xml, 'name="fields"', "fields")
    assert problem.message == "record parameter 'fields' names 'urgnecy', which no form of this process sets"
    assert problem.fix == "did you mean 'urgency'?"


def test_a_document_kind_is_a_name():
    problem = only_problem(rejected(one_service(service("record", ("document", "health check")))))
    assert problem.field == "document" and problem.message == "record parameter 'document' 'health check' is not a name"


def test_a_field_parameter_written_as_a_placeholder_is_refused():
    xml = one_service(service("consent", ("given", "$approved"), ("organisation_keys", "referrer")))
    problem = only_problem(rejected(xml))
    located(problem, xml, 'name="given"', "given")
    assert problem.fix == "write the field key without $: approved"
    assert deploy(one_service(service("consent", ("given", "approved"), ("organisation_keys", "referrer"))))


def test_consent_needs_its_organisations_and_knows_them():
    missing = only_problem(rejected(one_service(service("consent", ("given", "approved")))))
    assert missing.message == "consent needs one of the parameters 'organisations' or 'organisation_keys'"
    wrong = only_problem(rejected(one_service(service("consent", ("given", "approved"),
                                                     ("organisation_keys", "referrer, kelaa")))))
    assert wrong.message == "consent parameter 'organisation_keys': 'kelaa' is not an organisation"
    assert wrong.fix == "did you mean 'kela'?"


def test_what_a_handler_sets_is_a_known_name_for_later_steps():
    xml = diagram(START, service("consent", ("given", "approved"), ("organisation_keys", "referrer")),
                  '<bpmn:exclusiveGateway id="Gateway_1" name="Kirjattu?" default="Flow_No" />', END,
                  '<bpmn:endEvent id="End_2" name="Ei suostumusta" />',
                  seq_flow("Gateway_1", "End_1", "consent_recorded == True"),
                  seq_flow("Gateway_1", "End_2", flow_id="Flow_No"),
                  chain=["StartEvent_1", "Task_1", "Gateway_1"])
    assert deploy(xml)


def test_invite_reads_network_members_unless_told_otherwise():
    xml = one_service(service("invite", ("message", "Tervetuloa")))
    problem = only_problem(rejected(xml))
    assert problem.field == "members"
    assert problem.message == ("invite reads 'network_members' when 'members' is not set, and no form of this "
                               "process sets it")
    assert deploy(xml, standard_forms_plus("start", field("network_members")))


# -- what stays as it was ----------------------------------------------------------------------

def test_the_four_project_processes_deploy_clean():
    files = {p.name: p.read_bytes() for p in sorted((ROOT / "processes").glob("*.bpmn"))}
    models = build_models(files, real_forms(), TOPICS, handler_params=_specs())
    assert sorted(m.process_id for m in models) == ["ips_job_coaching", "social_rehabilitation",
                                                    "unemployed_health_check", "work_ability_network"]


def test_a_stored_version_is_reloaded_without_the_parameter_check():
    # A version deployed before a handler changed must still load: its case shows an incident
    # on the step, it is not lost. Reloading passes no declarations, as models_cache does.
    xml = one_service('<bpmn:serviceTask id="Task_1" name="Ilmoita" camunda:type="external" camunda:topic="notify" />')
    assert build_models({"old.bpmn": xml}, STANDARD_FORMS, TOPICS)


def test_a_handler_that_declares_nothing_is_not_checked():
    xml = one_service(service("sms", ("anything", "goes")))
    assert deploy(xml, topics=[*TOPICS, "sms"])


def test_every_declared_example_deploys():
    # The guide shows each example; it must be a task that deploys, given forms with the
    # fields it names (the example names them as a designer would, by field key or $name).
    for spec in _specs().values():
        names: set[str] = set()
        for param, value in spec.example:
            kind = spec.by_name[param].kind
            if kind in ("field", "fields"):
                names |= {v.strip() for v in value.split(",")}
            elif kind == "text":
                names |= set(placeholders(value)[0])
        forms = standard_forms_plus("start", *(field(n) for n in sorted(names - {"client_ref"})))
        assert deploy(one_service(service(spec.topic, *spec.example)), forms), spec.topic
        assert spec.example and all(p.doc for p in spec.params) and spec.doc


def _specs():
    from .helpers import HANDLER_PARAMS
    return HANDLER_PARAMS


def test_notify_sends_to_a_role_named_by_its_title_as_deploy_accepts():
    from datetime import UTC, datetime

    from handlers.notify import notify
    from orchestrator.services.handler_api import HandlerContext, UserInfo

    nurse = UserInfo("nina", "nina@example.fi", "health_centre", frozenset({"nurse"}), frozenset({"north"}))

    class Directory:
        def users_with_role(self, role: str) -> list[UserInfo]:
            return [nurse] if role == "nurse" else []

        def user(self, username: str) -> UserInfo | None:
            return None

        def consent_covers(self, organisation: str | None) -> bool:
            return True

    ctx = HandlerContext(1, "p", "north", "AS-1", "rita", "Task_1", "t1",
                         {"to_role": "Terveydenhoitaja", "subject": "Hei", "message": "Viesti"}, {},
                         datetime(2026, 12, 1, tzinfo=UTC), Directory())
    notify(ctx)
    assert [(m.recipient, m.subject) for m in ctx.messages] == [("nina@example.fi", "Hei")]


def test_the_test_helpers_service_task_deploys_for_every_project_topic():
    # tests that are about something else use service_task() to draw a task that deploys
    for topic in ("notify", "record", "consent"):
        for tag in ("serviceTask", "sendTask"):
            assert deploy(one_service(service_task("Task_1", "Ilmoita", topic, tag))), (topic, tag)
