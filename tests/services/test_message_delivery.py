"""The message use case is one unit of work: a concurrent change of the case refuses it whole."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from orchestrator.engine.runtime import CaseRuntime
from orchestrator.errors import ConflictError
from orchestrator.services import cases, deploy, messages
from orchestrator.store.models import Case, Event

from ..conftest import principal
from ..engine import message_diagrams as md


def test_a_case_changed_while_the_message_is_delivered_is_refused_and_nothing_is_saved(deployed, monkeypatch):
    deploy.deploy(deployed, None, {"message_catch.bpmn": md.catch_process().encode()}, {})
    nina = principal(deployed, "nina")
    c = cases.start_case(deployed, nina, "message_catch", "north", {}, "AS-3")
    deliver = CaseRuntime.send_message

    def someone_else_moves_first(runtime, name, data):
        with deployed.uow() as other:
            other.session.execute(sa.update(Case).where(Case.id == c["id"]).values(version_no=Case.version_no + 1))
            other.commit()
        return deliver(runtime, name, data)

    monkeypatch.setattr(CaseRuntime, "send_message", someone_else_moves_first)
    with pytest.raises(ConflictError):
        messages.send_message(deployed, nina, "payment_received", {"amount": 1}, case_id=c["id"])
    monkeypatch.undo()
    view = cases.get_case(deployed, nina, c["id"])
    assert view["current_steps"] == ["Event_Payment"] and "amount" not in view["data"]
    with deployed.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
            Event.case_id == c["id"], Event.kind == "message_received")) == 0
    # sent again, it is delivered
    assert messages.send_message(deployed, nina, "payment_received", {"amount": 1},
                                 case_id=c["id"])["case"]["current_steps"] == ["Task_Review"]
