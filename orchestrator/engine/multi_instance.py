"""Multi-instance activities the way Camunda Modeler writes them and Camunda 7 runs them.

SpiffWorkflow's CamundaParser takes ``camunda:collection`` literally, so the
``${reviewers}`` Camunda Modeler writes names a variable called "${reviewers}" and every case
fails when it reaches the activity. The parser hook below reads ``${name}`` and ``name``
alike, and sets the input and output references when parsing, on SpiffWorkflow's plain BPMN
multi-instance specs. (CamundaParser's own specs set them at run time, on the spec shared by
every case, and a cardinality that is not a whole number rewrites that shared spec.) The spec
classes add two Camunda 7 behaviours Spiff lacks:

* what an instance sets (a form's fields) lands in the case data, last completed instance
  winning — Camunda's process variables — instead of being dropped when the instance merges
  (Spiff keeps only the element variable);
* a ``completionCondition`` may read ``nrOfInstances``, ``nrOfCompletedInstances``,
  ``nrOfActiveInstances`` (and, inside an instance, ``loopCounter``).
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.exceptions import WorkflowDataException
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.defaults import ParallelMultiInstanceTask, SequentialMultiInstanceTask

from .multi_instance_checks import collection_name


class _PolkuMIMixin:
    def _own_names(self) -> set[str]:
        return {ref.bpmn_id for ref in (self.data_input, self.data_output, self.input_item, self.output_item)
                if ref is not None}

    def merge_child(self, workflow, child):
        super().merge_child(workflow, child)
        parent = child.parent
        own = self._own_names()
        for key, value in child.data.items():
            if key not in own and key != "loopCounter":
                parent.data[key] = value

    def create_child(self, my_task, item, key_or_index=None):
        super().create_child(my_task, item, key_or_index)
        child = my_task.children[-1]
        child.data["loopCounter"] = len(list(self._instances(my_task))) - 1

    def _checked_collection(self, my_task) -> None:
        """An empty or missing collection runs no instance (an unticked checklist is absent from
        the case data); a text or number is refused — Spiff would run one instance per letter."""
        if self.data_input is None:
            return
        name = self.data_input.bpmn_id
        value = my_task.data.get(name)
        if value is None:
            my_task.data[name] = []
        elif not isinstance(value, list | dict):
            raise WorkflowDataException(
                f"the multi-instance collection {name!r} must be a list, but it holds {value!r}", my_task)

    def init_remaining_items(self, my_task):
        self._checked_collection(my_task)
        return super().init_remaining_items(my_task)

    def create_children(self, my_task):
        self._checked_collection(my_task)
        try:
            return super().create_children(my_task)
        except TypeError:
            raise self._bad_cardinality(my_task) from None

    def _update_hook(self, my_task):
        try:
            result = super()._update_hook(my_task)
        except TypeError:
            raise self._bad_cardinality(my_task) from None
        count = my_task.internal_data.get("cardinality")  # the sequential count, once evaluated
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
            raise self._bad_cardinality(my_task)
        return result

    def _bad_cardinality(self, my_task) -> WorkflowDataException:
        return WorkflowDataException(f"the loop cardinality {self.cardinality!r} must give a whole number", my_task)

    def check_completion_condition(self, my_task):
        merged = my_task.internal_data.get("merged", [])
        if not merged or self.condition is None:
            return None
        last = next(c for c in my_task.children if str(c.id) == merged[-1])
        instances = list(self._instances(my_task))
        if "cardinality" in my_task.internal_data:
            total = my_task.internal_data["cardinality"]
        elif self.data_input is not None and self.data_input.exists(my_task):
            total = len(self.data_input.get(my_task))
        else:
            total = len(instances)
        context = {"nrOfInstances": total, "nrOfCompletedInstances": len(merged),
                   "nrOfActiveInstances": len(instances) - len(merged)}
        return my_task.workflow.script_engine.evaluate(last, self.condition, external_context=context)


class PolkuSequentialMultiInstanceTask(_PolkuMIMixin, SequentialMultiInstanceTask):
    pass


class PolkuParallelMultiInstanceTask(_PolkuMIMixin, ParallelMultiInstanceTask):
    pass


class CamundaCollectionMixin:
    """For a task parser: ``_add_multiinstance_task`` as CamundaParser's, reading ``${list}``."""

    def _add_multiinstance_task(self, loop_characteristics):
        sequential = loop_characteristics.get("isSequential") == "true"
        prefix = "bpmn:multiInstanceLoopCharacteristics"
        cardinality = self.xpath(f"./{prefix}/bpmn:loopCardinality")
        cardinality = cardinality[0].text.strip() if len(cardinality) > 0 and cardinality[0].text else None
        raw = self.attribute("collection", "camunda", loop_characteristics)
        collection = collection_name(raw) if raw is not None else None
        if cardinality is None and collection is None:
            self.raise_validation_exception("a multi-instance activity needs a collection or a loop cardinality")
        element_var = self.attribute("elementVariable", "camunda", loop_characteristics)
        condition = self.xpath(f"./{prefix}/bpmn:completionCondition")
        condition = condition[0].text if len(condition) > 0 else None
        original = self.spec.task_specs.pop(self.task.name)
        item = TaskDataReference(element_var.strip()) if element_var else None
        # Camunda: each instance gets one item of the collection as the element variable (the
        # loop counter when there is a cardinality); the collection is updated in place
        params = {
            "task_spec": "",
            "cardinality": None if collection is not None else cardinality,
            "data_input": TaskDataReference(collection) if collection is not None else None,
            "data_output": TaskDataReference(collection) if collection is not None else None,
            "input_item": item,
            "output_item": item if collection is not None else None,
            "condition": condition,
        }
        cls = PolkuSequentialMultiInstanceTask if sequential else PolkuParallelMultiInstanceTask
        self.task = cls(self.spec, original.name, **params)
        self._copy_task_attrs(original, loop_characteristics)
        self.task.bpmn_name = original.bpmn_name  # the audit trail names the activity as drawn
