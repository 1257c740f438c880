"""``run.py db recheck``: cases left behind by the engine before issue 9 are set right.

Two states a case could be left in before: a rework loop's second round that never reached the
inbox (its inbox row is missing), and a case stuck with nothing waiting and no incident. The
test makes each by removing what the fixed engine now writes, then runs the real CLI command.
"""
from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.services import cases, deploy, tasks
from orchestrator.store.models import Case, Incident, Task

from ..api.test_stuck_cases import in_nurse_lane
from ..conftest import principal
from ..engine import loop_shapes
from ..engine.helpers import STANDARD_COMPONENTS, form_json
from ..engine.test_stuck import fake_join


def _open_rows(env, case_id: int) -> list[str]:
    with env.uow() as uow:
        return list(uow.session.scalars(sa.select(Task.element_id).where(Task.case_id == case_id,
                                                                         Task.status == "open")))


def test_recheck_restores_a_lost_rework_round_and_flags_a_silently_stuck_case(deployed, monkeypatch):
    forms = {f"{fid}.form": form_json(*c).encode() for fid, c in loop_shapes.FORMS.items()}
    forms["start.form"] = form_json(*STANDARD_COMPONENTS["start"]).encode()
    deploy.deploy(deployed, None, {"loops.bpmn": loop_shapes.straight_back().encode(),
                                   "fake_join.bpmn": in_nurse_lane(fake_join(), "stuck_fake_join",
                                                                   "Task_Fast", "Task_Normal")}, forms)
    sofia, nina = principal(deployed, "sofia"), principal(deployed, "nina")
    loop = cases.start_case(deployed, sofia, "test_process", "north", {"approved": False}, client_ref="RC-1")["id"]
    (first,) = [t["id"] for t in tasks.list_tasks(deployed, sofia, tasks.TaskQuery())["items"] if t["case_id"] == loop]
    tasks.complete(deployed, sofia, first, {"approved": False})
    stuck = cases.start_case(deployed, nina, "stuck_fake_join", "north", {"urgency": "normal"}, client_ref="RC-2")["id"]
    (normal,) = [t["id"] for t in tasks.list_tasks(deployed, nina, tasks.TaskQuery())["items"]
                 if t["case_id"] == stuck and t["element_id"] == "Task_Normal"]
    tasks.complete(deployed, nina, normal, {})
    # what the engine left before the fix: no inbox row for round two, no incident for the stuck case
    with deployed.uow() as uow:
        uow.session.execute(sa.delete(Task).where(Task.case_id == loop, Task.status == "open"))
        uow.session.execute(sa.delete(Incident).where(Incident.case_id == stuck))
        uow.session.execute(sa.update(Case).where(Case.id == stuck).values(has_incident=False))
        uow.commit()
    deployed.workflows.clear()
    assert _open_rows(deployed, loop) == []

    # the command on this test's database, through its env (a second engine would outlive the test)
    monkeypatch.setattr("orchestrator.cli._env", lambda: deployed)
    result = CliRunner().invoke(cli, ["db", "recheck"])

    assert result.exit_code == 0, result.output
    assert "1 inbox task(s) restored" in result.output and f"1 stuck (cases {stuck})" in result.output
    assert _open_rows(deployed, loop) == ["Task_Review"]
    (row,) = [t for t in tasks.list_tasks(deployed, sofia, tasks.TaskQuery())["items"] if t["case_id"] == loop]
    assert tasks.complete(deployed, sofia, row["id"], {"approved": True})["status"] == "completed"
    body = cases.get_case(deployed, nina, stuck)
    assert body["has_incident"] is True and [i["kind"] for i in body["incidents"]] == ["stuck"]
    # a second run finds nothing more to do and adds nothing
    again = CliRunner().invoke(cli, ["db", "recheck"])
    assert "0 inbox task(s) restored" in again.output, again.output
    with deployed.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Incident)
                                  .where(Incident.case_id == stuck)) == 1
