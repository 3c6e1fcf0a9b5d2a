"""User text is data: typed, sent or loaded text that looks like Rich/Textual markup is shown
as typed and never crashes the dashboard; Load on a folder or an empty path explains."""

from __future__ import annotations

from test_app_pilot import type_into
from textual.widgets import Input, Label

from engine import events as ev
from engine.config.schema import RunConfig
from tui.dashboard.launch import make_app
from tui.dashboard.messages import EngineEvent

MARKUP = ["[/]", "[x=", "[bold]", "[link=file:///etc]x[/link]", "[@click=app.quit]q[/]", "]["]


async def test_markup_typed_into_fields_is_shown_literally(
    tiny_config: RunConfig, fake_factory
) -> None:
    app = make_app(trainer_factory=fake_factory)
    app.session.initial_config = tiny_config
    async with app.run_test(size=(120, 40)) as pilot:
        for text in MARKUP:
            await type_into(pilot, "#field-batch_size", text)
            await pilot.pause()
            shown = str(app.query_one("#error-batch_size", Label).render())
            assert shown.startswith("✗"), shown
            for other in ("#field-sample_prompt", "#field-learning_rate", "#config-path"):
                app.query_one(other, Input).value = text  # as if typed: the same Changed
            await pilot.pause()
        assert app.is_running
        await type_into(pilot, "#field-batch_size", "8")
        await pilot.pause()
        assert str(app.query_one("#error-batch_size", Label).render()) == ""


async def test_markup_arriving_from_a_run_is_shown_literally(
    tiny_config: RunConfig, fake_factory
) -> None:
    app = make_app(trainer_factory=fake_factory)
    app.session.initial_config = tiny_config
    async with app.run_test(size=(120, 40)) as pilot:
        for text in MARKUP:
            app.main_screen.post_message(
                EngineEvent(ev.ConfigChanged(step=3, name="sample_prompt", old="a", new=text))
            )
            app.main_screen.post_message(EngineEvent(ev.RunWarning(message=f"bad {text}", step=3)))
            app.main_screen.post_message(
                EngineEvent(ev.SampleGenerated(step=3, prompt=text, text=text, temperature=1.0))
            )
            await pilot.pause()
        await pilot.pause(0.3)
        assert app.is_running
        shown = [str(n.message) for n in app._notifications]
        assert any("[/]" in m for m in shown), shown


async def test_load_on_a_folder_or_an_empty_path_explains(
    tiny_config: RunConfig, fake_factory, tmp_path
) -> None:
    app = make_app(trainer_factory=fake_factory)
    app.session.initial_config = tiny_config
    async with app.run_test(size=(120, 40)) as pilot:
        for path in ("", str(tmp_path), "/dev/zero", str(tmp_path / "missing [x].json")):
            box = app.query_one("#config-path", Input)
            box.value = path
            app.query_one("#config-load").press()
            await pilot.pause(0.2)
            assert app.is_running
        titles = [n.title for n in app._notifications]
        assert titles.count("Cannot load config") == 4, titles
        assert any("missing [x].json" in str(n.message) for n in app._notifications)


async def test_a_run_name_with_brackets_is_named_as_it_is(
    tiny_config: RunConfig, fake_factory, tmp_path
) -> None:
    # The dashboard's notifications are plain text (markup=False): a name escaped for markup
    # would show its backslashes.
    app = make_app(trainer_factory=fake_factory)
    app.session.initial_config = tiny_config
    app.session.opened = str(tmp_path / "run[bold]x")
    app.session.explain_new_run = True
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")  # first s: says what s does with an opened run
        await pilot.pause()
        first = [n for n in app._notifications if n.title]
        assert first and first[-1].title == "Opened run[bold]x"
        assert "run[bold]x itself is never overwritten" in str(first[-1].message)
        await pilot.press("s")  # second s: trains a new run with its config
        await pilot.pause()
        shown = [str(n.message) for n in app._notifications]
        assert any(m.startswith("Training a new run with run[bold]x's config") for m in shown)
