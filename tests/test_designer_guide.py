"""docs/designer-guide.md tells the designer what the handlers really take."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.services.handler_api import load_handlers
from orchestrator.services.handler_docs import registry_markdown, topics_in, with_topics

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "designer-guide.md"


def test_the_guides_topic_section_is_what_the_handlers_declare():
    registry = load_handlers()
    assert topics_in(GUIDE.read_text(encoding="utf-8")) == registry_markdown(registry), (
        "docs/designer-guide.md is out of date with the handlers' declarations: "
        "run `python run.py topics --update-guide docs/designer-guide.md`")
    for topic in registry.topics:
        assert f"### `{topic}`" in registry_markdown(registry)


def test_the_guide_names_every_parameter_and_has_the_sections_others_fill():
    text = GUIDE.read_text(encoding="utf-8")
    for spec in load_handlers().specs.values():
        for param in spec.params:
            assert f"| `{param.name}` |" in text
    for heading in ("## Messages", "## Timer cycles", "## Call activities and multi-instance",
                    "## Constructs: what runs and what is refused", "## Expressions", "## Polku's properties"):
        assert heading in text


def test_topics_update_guide_rewrites_only_the_generated_section(tmp_path):
    stale = with_topics(GUIDE.read_text(encoding="utf-8"), "old text\n")
    guide = tmp_path / "guide.md"
    guide.write_text(stale, encoding="utf-8")
    result = CliRunner().invoke(cli, ["topics", "--update-guide", str(guide)])
    assert result.exit_code == 0, result.output
    assert guide.read_text(encoding="utf-8") == GUIDE.read_text(encoding="utf-8")
    listing = CliRunner().invoke(cli, ["topics"]).output
    assert "notify       to_role?, to?, subject?, message?, channel?, share?" in listing
    assert "record       document, fields?" in listing  # ? = optional


def test_topics_update_guide_refuses_a_file_without_the_markers(tmp_path):
    guide = tmp_path / "guide.md"
    guide.write_text("# no markers\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["topics", "--update-guide", str(guide)])
    assert result.exit_code == 2 and "no generated topic section" in result.output
    assert guide.read_text(encoding="utf-8") == "# no markers\n"
