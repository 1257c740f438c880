"""Loop compaction: a case that loops for years keeps a small task tree.

When a loop brings the case back to an element that already completed earlier on the same
path (a follow-up timer reached for the 2nd … 1,000th time, a review sent back for rework),
the oldest earlier instance is reset to wait again with the current data, and everything
below it — the previous rounds — is dropped. SpiffWorkflow stops advancing a case silently at
tree depth 1000 (≈ 250 loops) and every completed step slows every later one; the audit
trail in the database keeps the full history instead.

The rewind point is the waiting task itself or, when that is not enough (two parallel tasks,
a task with boundary events, a looping subprocess), the nearest ancestor that only routes
(gateways, the split under a task with boundary events, a subprocess's plain start) — never
one whose re-run would repeat work. Nothing is rewound while anything else is alive below the
old instance, so no parallel work is ever lost; such a loop simply runs uncompacted.

A rewound task keeps its engine id; ``occurrence`` counts the rewinds so each round is its own
inbox row, timer row and set of outbox messages. A subprocess that does work before its first
wait cannot be rewound; its earlier rounds are cut out of the tree instead (``_splice``).
See docs/engine/loops.md.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit, _EndJoin
from SpiffWorkflow.bpmn.specs.defaults import ExclusiveGateway, InclusiveGateway, ParallelGateway, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask  # embedded and called alike
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.workflow import Workflow

OCCURRENCE = "polku_occurrence"  # internal_data key: how many times compaction rewound the task
ALIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def occurrence(task) -> int:
    """Which pass of a loop this engine task is in (0 until loop compaction first rewinds it)."""
    return int(task.internal_data.get(OCCURRENCE, 0))


def compact_loops(workflow: BpmnWorkflow, guard: Callable[[Callable[[], object]], object],
                  seen: frozenset) -> set | None:
    """Rewind every loop that came round again in this move; ``guard`` runs each engine call
    (error mapping). ``seen``: ids of the tasks alive before the move. They may be in someone's
    inbox (claimed, with a draft) or hold a timer's due time, so no rewind re-creates them; a
    loop that could not be compacted when its round began stays uncompacted for that round.

    Returns the specs the rewinds will run again (so the caller does not report their steps
    twice), or None when nothing was rewound — then there is nothing more to run either.
    """
    rerun: set | None = None
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
        if task.workflow.tasks.get(task.id) is not task or task.id in seen:
            continue  # an earlier rewind in this pass dropped it, or it was there before
        point = _rewind_point(workflow, task, seen)
        if point is None:
            continue
        oldest, newest = point
        data = copy.deepcopy(newest.data)
        kept = _rewound_with(oldest)
        passes = {t.id: occurrence(t) for t in kept}
        # SpiffWorkflow merges a task's parent data over its own whenever it updates the task
        # (and a waiting timer is updated on every refresh), so the rewound instance's parent
        # must hold the current values too, or values changed inside the loop would revert.
        oldest.parent.data.update(copy.deepcopy(data))
        rerun = rerun if rerun is not None else set()
        if newest is not task:
            rerun |= {t.task_spec for t in _subtree(workflow, newest) if t.has_state(TaskState.COMPLETED)}
        dropped = guard(lambda o=oldest, d=data: _rewind(workflow, o, d))
        # SpiffWorkflow 3.2.0 leaves dropped waiting events registered in the event manager,
        # and the next refresh_timers() then updates an orphan task (parent None).
        for gone in dropped or []:
            workflow.event_manager.remove_task(gone)
        # reset_branch clears internal_data: count the pass on the tasks that kept their ids
        for kept_task in kept:
            kept_task.internal_data[OCCURRENCE] = passes[kept_task.id] + 1
    _splice_subprocess_rounds(workflow)  # nothing to run again: what waits stays as it is
    return rerun


def _splice_subprocess_rounds(workflow: BpmnWorkflow) -> int:
    """A subprocess that runs again, and did work inside before its first wait (a service
    task, say), cannot be rewound without repeating that work. Its earlier rounds are cut out
    instead: the running instance takes the place of the first one, and the completed rounds
    between them (their subprocesses too) are dropped. Nothing alive moves or changes id."""
    spliced = 0
    for newest in workflow.get_tasks(state=TaskState.STARTED):
        if not isinstance(newest.task_spec, SubWorkflowTask) or newest.workflow.tasks.get(newest.id) is not newest:
            continue
        oldest, parent = None, newest.parent
        while parent is not None:
            if parent.task_spec is newest.task_spec and parent.has_state(TaskState.COMPLETED):
                oldest = parent
            parent = parent.parent
        if oldest is None or not _safe_to_splice(oldest, newest):
            continue
        _splice(workflow, oldest, newest)
        spliced += 1
    return spliced


def _safe_to_splice(oldest, newest) -> bool:
    alive = [t for t in oldest if t.has_state(ALIVE) and not _finished_side_branch_join(t)]
    return all(t is newest or t.is_descendant_of(newest) for t in alive)


def _splice(workflow: BpmnWorkflow, oldest, newest) -> None:
    tree = newest.workflow
    newest.parent._children.remove(newest.id)
    above = oldest.parent
    above._children[above._children.index(oldest.id)] = newest.id
    newest._parent = above.id
    gone = list(oldest)  # newest's branch is no longer below oldest
    for task in gone:
        if task.id in workflow.subprocesses:
            for inner in workflow.delete_subprocess(task):
                workflow.event_manager.remove_task(inner)
    for task in gone:
        tree.tasks.pop(task.id, None)
        workflow.event_manager.remove_task(task)
    if tree.last_task is not None and tree.last_task.id not in tree.tasks:
        tree.last_task = newest


def _rewind_point(workflow: BpmnWorkflow, task, seen: frozenset):
    """(oldest earlier instance, newest instance) of the lowest element on ``task``'s path
    whose earlier instance can be reset without losing or repeating anything, or None."""
    node = task
    while node is not None:
        if node is not task and not (node.has_state(TaskState.COMPLETED | TaskState.STARTED)
                                     and _only_routes(node)):
            return None
        oldest, parent = None, node.parent
        while parent is not None:
            if parent.task_spec is node.task_spec and parent.has_state(TaskState.COMPLETED):
                oldest = parent
            parent = parent.parent
        if oldest is not None and _safe_to_rewind(workflow, oldest, node, task, seen):
            return oldest, node
        node = _up(workflow, node)
    return None


def _up(workflow: BpmnWorkflow, node):
    """The task above ``node``: its parent, or from a subprocess's root the subprocess task."""
    if node.parent is not None:
        return node.parent
    parent_id = getattr(node.workflow, "parent_task_id", None)
    if parent_id is None:
        return None
    sp_task = workflow.get_task_from_id(parent_id)
    return sp_task if isinstance(sp_task.task_spec, SubWorkflowTask) else None


def _subtree(workflow: BpmnWorkflow, node) -> list:
    """``node`` and everything below it, into the subprocesses it runs."""
    result = []
    for t in node:
        result.append(t)
        sub = workflow.subprocesses.get(t.id)
        if sub is not None:
            result.extend(sub.get_tasks())
    return result


def _safe_to_rewind(workflow: BpmnWorkflow, oldest, newest, task, seen: frozenset) -> bool:
    alive = [t for t in oldest if t.has_state(ALIVE) and not _finished_side_branch_join(t)]
    if any(t is not newest and not t.is_descendant_of(newest) for t in alive):
        return False
    if newest is task:
        return True
    # re-running newest must repeat nothing but routing: everything it already led to that
    # completed (or is running) only routes, and what waits below it is new in this move
    below = _subtree(workflow, newest)[1:]
    return (all(_only_routes(t) for t in below if t.has_state(TaskState.COMPLETED | TaskState.STARTED))
            and not any(t.id in seen for t in below if t.has_state(ALIVE)))


def _rewind(workflow: BpmnWorkflow, task, data: dict) -> list:
    """``BpmnWorkflow.reset_from_task_id`` without its last step: inside an embedded
    subprocess SpiffWorkflow also resets the subprocess task in the parent process, which
    re-arms the subprocess's boundary timers on every round. Here only the loop's own branch
    is rewound; the subprocess it runs in goes on untouched."""
    dropped: list = []
    split = task.parent if isinstance(task.parent.task_spec, BoundaryEventSplit) else None
    for desc in [t for t in (split or task) if t.id in workflow.subprocesses]:
        dropped.extend(workflow.delete_subprocess(desc))
    for kept in _rewound_with(task):
        dropped.extend(Workflow.reset_from_task_id(task.workflow, kept.id, data if kept is task else None))
    return dropped


def _only_routes(task) -> bool:
    """Running this task again repeats no work: it only routes the case (a gateway, the split
    under a task with boundary events, a subprocess's own plain start, SpiffWorkflow's own
    bookkeeping); a subprocess task counts too, as what runs inside it is checked task by task."""
    spec = task.task_spec
    if getattr(spec, "bpmn_id", None) is None:
        return True  # a workflow's root and start: no element of the diagram
    if isinstance(spec, ExclusiveGateway | ParallelGateway | InclusiveGateway | BoundaryEventSplit | SubWorkflowTask):
        return True
    return (isinstance(spec, StartEvent) and task.workflow.parent_task_id is not None
            and isinstance(getattr(spec, "event_definition", None), NoneEventDefinition | type(None)))


def _rewound_with(task) -> list:
    """The tasks a rewind of ``task`` puts back to wait under their old ids: the task itself,
    or, for a task with boundary events, the task and its boundary events."""
    parent = task.parent
    if parent is not None and isinstance(parent.task_spec, BoundaryEventSplit):
        return list(parent.children)
    return [task]


def _finished_side_branch_join(task) -> bool:
    """The process's own end join, waiting because a side branch (an overdue alert, a reminder)
    ended while the main path goes on: structural bookkeeping, not work anyone is doing."""
    return isinstance(task.task_spec, _EndJoin) and task.has_state(TaskState.WAITING)
