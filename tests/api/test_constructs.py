"""Constructs a designer may draw, through the HTTP API: what deploys runs to its end with the
steps, the inbox and the documents a user would check; what cannot run is refused at deploy
with one located message (422), never a 500 and never a case stuck later."""
from __future__ import annotations

import pytest

from tests.engine.helpers import END, diagram, field, form_json, seq_flow, user_task

from .walk import REFERRAL, case, do, open_task

REFERRER_LANE = "Lähettävä ammattilainen"
NURSE_LANE = "Terveydenhoitaja"
CHECK_FORM = form_json(field("score", "number"))


def link(kind: str, event_id: str, name: str) -> str:
    return (f'<bpmn:intermediate{kind}Event id="{event_id}" name="{name}">'
            f'<bpmn:linkEventDefinition id="Link_{event_id}" name="{name}" /></bpmn:intermediate{kind}Event>')


def constructs_pathway() -> str:
    """Start → manual task → link jump → send task (record) → inclusive split/join → plain task
    with a data store association → end."""
    send = ('<bpmn:sendTask id="Send_1" name="Kirjaa lähete" camunda:type="external" camunda:topic="record">'
            "<bpmn:extensionElements><camunda:inputOutput>"
            '<camunda:inputParameter name="document">construct_note</camunda:inputParameter>'
            '<camunda:inputParameter name="fields">reason,urgency</camunda:inputParameter>'
            "</camunda:inputOutput></bpmn:extensionElements></bpmn:sendTask>")
    plain = ('<bpmn:task id="Plain_1" name="Arkistoi">'
             '<bpmn:dataOutputAssociation id="Out_1"><bpmn:targetRef>Store_1</bpmn:targetRef>'
             "</bpmn:dataOutputAssociation></bpmn:task>")
    nurse_ids = ["Manual_1", "Throw_1", "Catch_1", "Send_1", "Split_1", "Task_Urgent", "Task_Check",
                 "Join_1", "Plain_1", "End_1"]
    return diagram(
        '<bpmn:startEvent id="StartEvent_1" name="Lähete" camunda:formRef="hc_referral" />',
        '<bpmn:manualTask id="Manual_1" name="Soita asiakkaalle" />',
        link("Throw", "Throw_1", "Jatko"), link("Catch", "Catch_1", "Jatko"), send,
        '<bpmn:inclusiveGateway id="Split_1" name="Mitä tarvitaan?" default="Flow_none" />',
        user_task("Task_Urgent", "Kiireellinen yhteydenotto", formRef="construct_check"),
        user_task("Task_Check", "Yhteenvedon tarkistus", formRef="construct_check"),
        '<bpmn:inclusiveGateway id="Join_1" />', plain,
        '<bpmn:dataStoreReference id="Store_1" name="Arkisto" />', END,
        seq_flow("StartEvent_1", "Manual_1"), seq_flow("Manual_1", "Throw_1"), seq_flow("Catch_1", "Send_1"),
        seq_flow("Send_1", "Split_1"),
        seq_flow("Split_1", "Task_Urgent", "urgency == 'urgent'"),
        seq_flow("Split_1", "Task_Check", "consent_to_summary == True"),
        seq_flow("Split_1", "Join_1", flow_id="Flow_none"),
        seq_flow("Task_Urgent", "Join_1"), seq_flow("Task_Check", "Join_1"), seq_flow("Join_1", "Plain_1"),
        seq_flow("Plain_1", "End_1"),
        lanes={REFERRER_LANE: ["StartEvent_1"], NURSE_LANE: nurse_ids}, process_id="constructs_demo")


def deploy(dora, bpmn: str, name: str = "constructs_demo.bpmn"):
    return dora.post("/api/processes", json={"files": {name: bpmn, "construct_check.form": CHECK_FORM}})


def inbox(client, case_id: int) -> list[str]:
    items = client.get("/api/tasks?scope=role&limit=500").get_json()["items"]
    return sorted(t["element_id"] for t in items if t["case_id"] == case_id)


def steps(c: dict) -> list[str]:
    return [e["element_id"] for e in c["history"] if e["kind"] == "step"]


def test_manual_link_send_inclusive_and_data_store_run_to_the_end(client_for, deployed):
    rita, nina, dora = client_for("rita"), client_for("nina"), client_for("dora")
    r = deploy(dora, constructs_pathway())
    assert r.status_code == 201, r.get_json()
    r = rita.post("/api/cases", json={"pathway": "constructs_demo", "region": "north",
                                      "data": {**REFERRAL, "urgency": "urgent"}})
    assert r.status_code == 201, r.get_json()
    cid = r.get_json()["id"]

    c = case(nina, cid)
    # the manual task passed through and the link jumped, both in the history; the send task
    # called its handler, which stored the document
    assert steps(c)[:6] == ["StartEvent_1", "Manual_1", "Throw_1", "Catch_1", "Send_1", "Split_1"]
    (note,) = [d for d in c["documents"] if d["kind"] == "construct_note"]
    assert note["content"]["reason"] == REFERRAL["reason"] and note["content"]["urgency"] == "urgent"
    assert c["incidents"] == [] and c["status"] == "active"
    # both true flows of the inclusive gateway wait in the nurse's inbox, nothing else does
    assert sorted(c["current_steps"]) == ["Task_Check", "Task_Urgent"]
    assert inbox(nina, cid) == ["Task_Check", "Task_Urgent"]
    assert open_task(nina, cid, "Task_Urgent")["role"] == "nurse"

    do(nina, cid, "Task_Urgent", {"score": 2})
    c = case(nina, cid)
    assert c["status"] == "active" and c["current_steps"] == ["Task_Check"]  # the join waits for the other
    done = do(nina, cid, "Task_Check", {"score": 4})
    assert done["status"] == "completed"
    c = case(nina, cid)
    assert c["status"] == "completed" and c["open_tasks"] == [] and c["current_steps"] == []
    assert steps(c)[-3:] == ["Join_1", "Plain_1", "End_1"]
    assert inbox(nina, cid) == []


def test_an_inclusive_gateway_with_no_true_condition_takes_its_default(client_for, deployed):
    rita, nina, dora = client_for("rita"), client_for("nina"), client_for("dora")
    assert deploy(dora, constructs_pathway()).status_code == 201
    r = rita.post("/api/cases", json={"pathway": "constructs_demo", "region": "north",
                                      "data": {**REFERRAL, "urgency": "normal", "consent_to_summary": False}})
    assert r.status_code == 201, r.get_json()
    c = case(nina, r.get_json()["id"])
    assert c["status"] == "completed" and steps(c)[-3:] == ["Join_1", "Plain_1", "End_1"]


def _one_task(node: str, *extra: str, node_id: str = "Task_1") -> str:
    ids = ["StartEvent_1", node_id, "End_1"]
    return diagram('<bpmn:startEvent id="StartEvent_1" name="Alku" />', node, END, *extra, chain=ids,
                   lanes={NURSE_LANE: ids}, process_id="refused_demo")


REFUSED = {
    "conditional event": (_one_task(
        '<bpmn:intermediateCatchEvent id="Task_1" name="Kun valmis"><bpmn:conditionalEventDefinition id="C_1">'
        '<bpmn:condition xsi:type="bpmn:tFormalExpression">score &gt; 3</bpmn:condition>'
        "</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>"), "Task_1", "conditional events"),
    "complex gateway": (_one_task('<bpmn:complexGateway id="Task_1" name="Monimutkainen" />'),
                        "Task_1", "complex gateways"),
    "manual task for a person": (_one_task('<bpmn:manualTask id="Task_1" name="Soita" '
                                           'camunda:candidateGroups="nurse" />'), "Task_1", "meant for a person"),
    "no end event": (diagram('<bpmn:startEvent id="StartEvent_1" />', user_task(formRef="construct_check"),
                             chain=["StartEvent_1", "Task_1"], lanes={NURSE_LANE: ["StartEvent_1", "Task_1"]},
                             process_id="refused_demo"), "refused_demo", "nothing to run"),
    "new diagram": (diagram('<bpmn:startEvent id="StartEvent_1" />', process_id="refused_demo"),
                    "refused_demo", "only a start event"),
    "schema error": (_one_task('<bpmn:userTask id="Task_1" name="T" camunda:formRef="construct_check">'
                               "<bpmn:unknownThing /></bpmn:userTask>"), "Task_1", "BPMN 2.0 schema"),
}


@pytest.mark.parametrize("shape", sorted(REFUSED))
def test_a_construct_that_cannot_run_is_refused_at_deploy_with_one_located_message(client_for, deployed, shape):
    dora = client_for("dora")
    bpmn, element_id, words = REFUSED[shape]
    r = deploy(dora, bpmn, "refused.bpmn")
    assert r.status_code == 422, r.get_json()
    (detail,) = r.get_json()["details"]
    assert detail["file"] == "refused.bpmn" and detail["line"] and detail["fix"]
    assert detail["element_id"] == element_id and words in detail["message"]
    assert not any(t in str(detail) for t in ("0x", "{http", "Error(", "No start event found"))
    assert "refused_demo" not in {p["process_id"] for p in dora.get("/api/processes").get_json()}
