"""Handlers for external service tasks, one module per concern, registered by topic.

Add a module here with a function decorated ``@handler("topic")``; a BPMN service task with
``camunda:type="external" camunda:topic="topic"`` then calls it. Handlers never import the
web layer and never commit: they ask the context for effects and return data.
"""
