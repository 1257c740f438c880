"""Polku: a BPMN-driven orchestrator for multi-agency work-ability service pathways."""
