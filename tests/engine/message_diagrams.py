"""Small diagrams with message waits, in the shapes Camunda Modeler writes (engine, service and API tests)."""
from __future__ import annotations

from .helpers import END, diagram, seq_flow, user_task

# no start form: the service and API tests deploy these without forms
START = '<bpmn:startEvent id="StartEvent_1" name="Alku" />'


def with_messages(xml: str, *messages: tuple[str, str]) -> str:
    """Add root-level ``<bpmn:message id name>`` elements, as the modeller does after the process."""
    defs = "".join(f'  <bpmn:message id="{mid}" name="{name}" />\n' for mid, name in messages)
    return xml.replace("</bpmn:definitions>", defs + "</bpmn:definitions>")


def message_catch(event_id: str, name: str, message_ref: str, *, tag: str = "intermediateCatchEvent",
                  extra: str = "") -> str:
    return (f'<bpmn:{tag} id="{event_id}" name="{name}"{extra}>'
            f'<bpmn:messageEventDefinition id="MessageEventDefinition_{event_id}" messageRef="{message_ref}" />'
            f"</bpmn:{tag}>")


def catch_process(process_id: str = "message_catch") -> str:
    """start → wait for ``payment_received`` → review (nurse) → end."""
    return with_messages(diagram(
        START, message_catch("Event_Payment", "Maksu saapui", "Message_Payment"),
        user_task("Task_Review", "Tarkista", candidateGroups="nurse"), END,
        chain=["StartEvent_1", "Event_Payment", "Task_Review", "End_1"], process_id=process_id),
        ("Message_Payment", "payment_received"))


def receive_task_process(process_id: str = "message_receive") -> str:
    return with_messages(diagram(
        START, '<bpmn:receiveTask id="Task_Statement" name="Odota lausuntoa" messageRef="Message_Statement" />',
        user_task("Task_Review", "Tarkista", candidateGroups="nurse"), END,
        chain=["StartEvent_1", "Task_Statement", "Task_Review", "End_1"], process_id=process_id),
        ("Message_Statement", "statement_received"))


def boundary_process(interrupting: bool, process_id: str = "message_boundary") -> str:
    """A review (nurse) with a ``case_cancelled`` message boundary leading to its own end."""
    cancel = "" if interrupting else ' cancelActivity="false"'
    return with_messages(diagram(
        START, user_task("Task_Review", "Tarkista", candidateGroups="nurse"), END,
        message_catch("Event_Cancelled", "Peruttu", "Message_Cancel", tag="boundaryEvent",
                      extra=f' attachedToRef="Task_Review"{cancel}'),
        '<bpmn:endEvent id="End_Cancelled" name="Peruttu loppu" />',
        seq_flow("Event_Cancelled", "End_Cancelled"),
        chain=["StartEvent_1", "Task_Review", "End_1"], process_id=process_id),
        ("Message_Cancel", "case_cancelled"))


def gateway_process(process_id: str = "message_or_timer") -> str:
    """An event-based gateway: ``reply_received`` → review (nurse), or after P3D → reminder (nurse)."""
    return with_messages(diagram(
        START, '<bpmn:eventBasedGateway id="Gateway_Wait" name="Vastaus vai aikaraja" />',
        message_catch("Event_Reply", "Vastaus saapui", "Message_Reply"),
        '<bpmn:intermediateCatchEvent id="Event_Deadline" name="3 päivää"><bpmn:timerEventDefinition '
        'id="TimerEventDefinition_1"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P3D</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>",
        user_task("Task_Review", "Tarkista vastaus", candidateGroups="nurse"),
        user_task("Task_Remind", "Muistuta", candidateGroups="nurse"),
        END, '<bpmn:endEvent id="End_Reminded" name="Muistutettu" />',
        seq_flow("Gateway_Wait", "Event_Reply"), seq_flow("Gateway_Wait", "Event_Deadline"),
        seq_flow("Event_Reply", "Task_Review"), seq_flow("Task_Review", "End_1"),
        seq_flow("Event_Deadline", "Task_Remind"), seq_flow("Task_Remind", "End_Reminded"),
        chain=["StartEvent_1", "Gateway_Wait"], process_id=process_id),
        ("Message_Reply", "reply_received"))


def event_subprocess_process(interrupting: bool, process_id: str = "message_event_subprocess") -> str:
    """A review (nurse); a ``client_moved`` message starts an event subprocess with a 'Siirrä' task."""
    flag = "true" if interrupting else "false"
    sub = ('<bpmn:subProcess id="Sub_Moved" name="Asiakas muutti" triggeredByEvent="true">'
           + message_catch("Start_Moved", "Muutti", "Message_Moved", tag="startEvent",
                           extra=f' isInterrupting="{flag}"')
           + user_task("Task_Transfer", "Siirrä", candidateGroups="nurse")
           + '<bpmn:endEvent id="End_Moved" name="Siirretty" />'
           + seq_flow("Start_Moved", "Task_Transfer").strip() + seq_flow("Task_Transfer", "End_Moved").strip()
           + "</bpmn:subProcess>")
    return with_messages(diagram(
        START, user_task("Task_Review", "Tarkista", candidateGroups="nurse"), END, sub,
        chain=["StartEvent_1", "Task_Review", "End_1"], process_id=process_id),
        ("Message_Moved", "client_moved"))


def error_boundary_process(topic: str, code: str | None, process_id: str = "handler_error") -> str:
    """A service task calling ``topic`` with an error boundary (``code``; None = catch every code)
    leading to 'Selvitä' (nurse); the normal path ends at End_1."""
    ref = ' errorRef="Error_Rejected"' if code is not None else ""
    xml = diagram(
        START, f'<bpmn:serviceTask id="Task_Register" name="Rekisteröi" camunda:type="external" camunda:topic="{topic}" />',
        END, f'<bpmn:boundaryEvent id="Event_Rejected" name="Hylätty" attachedToRef="Task_Register">'
             f'<bpmn:errorEventDefinition id="ErrorEventDefinition_1"{ref} /></bpmn:boundaryEvent>',
        user_task("Task_Resolve", "Selvitä", candidateGroups="nurse"), '<bpmn:endEvent id="End_Resolved" name="Selvitetty" />',
        seq_flow("Event_Rejected", "Task_Resolve"), seq_flow("Task_Resolve", "End_Resolved"),
        chain=["StartEvent_1", "Task_Register", "End_1"], process_id=process_id)
    if code is None:
        return xml
    return xml.replace("</bpmn:definitions>", f'  <bpmn:error id="Error_Rejected" name="Hylätty" errorCode="{code}" />\n'
                       "</bpmn:definitions>")
