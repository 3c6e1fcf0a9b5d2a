"""The config editor: grouped fields, irrelevant ones hidden, a filter, presets, full errors."""

from __future__ import annotations

from conftest import wait_until
from textual.widgets import Input, Label, Select

from engine.config.fields import FIELD_GROUPS
from engine.config.files import list_presets
from engine.config.layout import field_applies, field_group
from engine.config.schema import RunConfig
from tui.dashboard.launch import make_app
from tui.dashboard.widgets.config_editor import ConfigEditor


def shown(editor: ConfigEditor) -> set[str]:
    return {name for name, row in editor.rows.items() if row.display}


def test_every_field_has_a_known_group() -> None:
    groups = {field_group(name) for name in RunConfig.model_fields}
    assert groups == set(FIELD_GROUPS)
    assert field_group("n_embd") == "model" and field_group("sample_top_p") == "sampling"
    assert field_applies("n_embd", {"model": "gpt"})
    assert not field_applies("n_embd", {"model": "lstm"})
    assert field_applies("learning_rate", {})
    assert field_applies("decay_fraction", {"lr_schedule": "wsd"})
    assert not field_applies("decay_fraction", {"lr_schedule": "cosine"})


async def test_model_choice_hides_fields_that_do_not_apply(fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    app.session.initial_config = RunConfig(model="lstm", tokenizer="char")
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.query_one(ConfigEditor)
        await pilot.pause()
        assert {"embedding_dim", "hidden_dim", "num_layers"} <= shown(editor)
        assert not {"n_layer", "n_head", "n_embd", "bpe_vocab_size"} & shown(editor)

        editor.inputs["model"].value = "gpt"
        await pilot.pause()
        assert {"n_layer", "n_head", "n_embd", "position_encoding"} <= shown(editor)
        assert not {"embedding_dim", "hidden_dim", "num_layers"} & shown(editor)

        editor.inputs["tokenizer"].value = "bpe"
        await pilot.pause()
        assert "bpe_vocab_size" in shown(editor)
        # Group titles head the fields: the model group is on screen.
        assert editor.group_titles["model"].display


async def test_filter_jumps_to_a_field_by_name(fake_factory) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.query_one(ConfigEditor)
        await pilot.press("slash", *"warm")
        assert app.focused.id == "config-filter"
        assert shown(editor) == {"warmup_steps"}
        assert not editor.group_titles["data"].display
        await pilot.press("enter")
        assert app.focused.id == "field-warmup_steps"
        editor.query_one("#config-filter", Input).value = ""
        await pilot.pause()
        assert len(shown(editor)) > 20


async def test_full_error_and_full_value_are_visible(fake_factory, tmp_path) -> None:
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.query_one(ConfigEditor)
        box = app.query_one("#field-learning_rate", Input)
        box.value = "fast"
        await pilot.pause()
        error = app.query_one("#error-learning_rate", Label)
        message = editor.problems["learning_rate"]
        assert len(message) > 20
        # Rendered in full (wrapping if need be), not cut at the row's edge.
        assert error.display and str(error.render()) == f"✗ {message}"
        assert error.size.width * error.size.height >= len(message)
        # A long value fits its box: the input spans the rest of the row.
        data = app.query_one("#field-data_file", Input)
        assert data.size.width >= len("shakespeare.txt") + 2


async def test_preset_picker_loads_a_preset(fake_factory) -> None:
    presets = list_presets()
    assert "gpt-cpu" in presets
    app = make_app(trainer_factory=fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.query_one(ConfigEditor)
        app.query_one("#config-preset", Select).value = "gpt-cpu"
        await pilot.pause()
        assert editor.config is not None and editor.config.model == "gpt"
        assert "n_embd" in shown(editor)
        # Edited, then the same preset again: it reloads.
        editor.inputs["model"].value = "lstm"
        await pilot.pause()
        app.query_one("#config-preset", Select).value = "gpt-cpu"
        await pilot.pause()
        assert editor.config is not None and editor.config.model == "gpt"


async def test_rows_after_the_first_group_arrive_after_the_first_frame(
    fake_factory, monkeypatch
) -> None:
    """The first frame holds the data group's rows only (the ~370 widgets of every row took
    most of the 2.3 s to the first frame); the rest mount just after, keeping the values,
    the validation and the running lock of the rows not yet there."""
    from conftest import wait_until

    monkeypatch.setattr(ConfigEditor, "DEFER_ROWS", True)
    first: dict[str, object] = {}
    mount_next = ConfigEditor._mount_next_group

    async def spy(self: ConfigEditor) -> None:
        if not first:
            first.update(mounted=set(self.inputs), config=self.config)
            self.set_running(True)  # a run starts before the later rows exist
        await mount_next(self)

    monkeypatch.setattr(ConfigEditor, "_mount_next_group", spy)
    wanted = RunConfig(model="gpt", n_layer=3, learning_rate=0.0123, batch_size=7)
    app = make_app(trainer_factory=fake_factory)
    app.session.initial_config = wanted
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.query_one(ConfigEditor)
        await wait_until(pilot, lambda: editor.complete)
        assert first["mounted"] == {n for n in RunConfig.model_fields if field_group(n) == "data"}
        assert first["config"] == wanted  # rows not mounted yet still count, with their values
        assert app.query_one("#field-learning_rate", Input).value == "0.0123"
        assert app.query_one("#field-n_layer", Input).value == "3"
        assert editor.config == wanted
        assert app.query_one("#field-n_layer", Input).disabled  # fixed while running
        assert not app.query_one("#field-learning_rate", Input).disabled  # a live field
        assert editor.group_titles.keys() == {g for g in FIELD_GROUPS if g in {
            field_group(n) for n in RunConfig.model_fields}}  # fmt: skip


async def test_a_dashboard_without_a_config_shows_the_defaults_then_validates_them(
    fake_factory,
) -> None:
    """No --config: the rows come from engine.config.table (no pydantic before the first
    frame); the first validation, after that frame, yields RunConfig's defaults."""
    app = make_app(trainer_factory=fake_factory)
    assert app.session.initial_config is None
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.query_one(ConfigEditor)
        defaults = RunConfig()
        for name in RunConfig.model_fields:
            expected = getattr(defaults, name)
            text = str(expected).lower() if isinstance(expected, bool) else str(expected)
            assert str(editor.inputs[name].value) == text, name
        assert "config valid" in str(editor.summary.render())
        await pilot.pause()
        assert editor.config == defaults and not editor.problems
        await pilot.press("s")
        await wait_until(pilot, lambda: app.session.stats.step > 0)
