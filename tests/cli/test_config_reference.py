"""The config reference is generated from the schema, and docs/config.md keeps up with it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from engine.config.schema import LIVE_FIELDS, RunConfig, validate_config
from tui.cli import config_reference as ref
from tui.cli.main import app

runner = CliRunner()


def test_docs_config_table_is_the_generated_one() -> None:
    table = ref.page_table(ref.REFERENCE.read_text(encoding="utf-8"))
    assert table is not None, f"docs/config.md lost its {ref.BEGIN} markers"
    assert table == ref.markdown_table(), (
        "docs/config.md's config table differs from the schema in engine/config/schema.py. "
        f"Regenerate it with: {ref.REGENERATE}"
    )


def test_markdown_lists_every_field_with_its_default_and_liveness() -> None:
    result = runner.invoke(app, ["config", "--markdown"])
    assert result.exit_code == 0 and result.stdout == ref.markdown_table()
    rows = result.stdout.splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == list(RunConfig.model_fields)
    lr = next(row for row in rows if row.startswith("| `learning_rate`"))
    assert lr.startswith("| `learning_rate` | `0.001` | a number in (0.0, 10.0] | yes |")
    assert sum(row.split(" | ")[3] == "yes" for row in rows) == len(LIVE_FIELDS)


def test_schema_is_json_schema_of_the_config() -> None:
    result = runner.invoke(app, ["config", "--schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["properties"]) == set(RunConfig.model_fields)
    seq = schema["properties"]["seq_length"]
    assert seq["minimum"] == 2 and seq["default"] == RunConfig().seq_length
    assert schema["properties"]["model"]["enum"] == ["lstm", "gpt"]


def test_rewrite_puts_the_table_between_the_markers(tmp_path: Path) -> None:
    page = tmp_path / "config.md"
    page.write_text(f"# x\n\n{ref.BEGIN}\n| stale |\n{ref.END}\n\nafter\n", encoding="utf-8")
    assert ref.rewrite_reference(page) is True
    text = page.read_text(encoding="utf-8")
    assert ref.page_table(text) == ref.markdown_table() and text.endswith("\n\nafter\n")
    assert ref.rewrite_reference(page) is False  # already up to date: untouched
    validate_config(RunConfig().model_dump())  # the defaults the table shows are valid
