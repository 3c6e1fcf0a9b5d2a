"""The generation pane's samplers: strategy key, probability colours, next-char candidates."""

from __future__ import annotations

import torch
from conftest import wait_until
from fakes import VOCAB
from textual.widgets import Label

from engine.config.schema import RunConfig
from engine.generate.decoding import SampleSettings
from engine.generate.sampling import generate, next_char_candidates
from engine.models import build_model
from engine.text.tokenizer import CharTokenizer
from tui.dashboard.launch import make_app
from tui.dashboard.widgets.generation_pane import PROB_STYLES, format_candidates, prob_style


def loaded_app(fake_factory):
    """A dashboard with a tiny real model loaded, as if opened from a checkpoint."""
    torch.manual_seed(0)
    tokenizer = CharTokenizer(VOCAB)
    model = build_model(RunConfig(embedding_dim=8, hidden_dim=16), tokenizer.vocab_size)
    model.eval()
    app = make_app(trainer_factory=fake_factory)
    app.session.loaded = (model, tokenizer, "test model")
    return app, model, tokenizer


def settings_text(app) -> str:
    return str(app.query_one("#gen-settings", Label).render())


def test_prob_palette_is_the_clis_and_candidate_line() -> None:
    from rich.style import Style

    from tui.cli.generate import PROB_STYLES as CLI_STYLES

    assert [(f, s) for f, s in PROB_STYLES] == [(f, Style.parse(s)) for f, s in CLI_STYLES]
    assert prob_style(0.9) == Style.parse("bold green")
    assert prob_style(0.3) == Style.parse("yellow")
    assert prob_style(0.01) == prob_style(float("nan")) == Style.parse("bold red")
    line = format_candidates([("e", 0.41), (" ", 0.2), ("\n", 0.1)])
    assert line == "next: e 0.41 · ␣ 0.20 · ⏎ 0.10"


async def test_strategy_key_greedy_matches_engine_and_colours(fake_factory) -> None:
    app, model, tokenizer = loaded_app(fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.main_screen.generation
        pane.length = 40
        assert pane.strategy == "sample"
        await pilot.press("t")
        assert pane.strategy == "greedy" and "greedy" in settings_text(app)
        assert app.main_screen.tabs.active == "generate"
        await pilot.press("g")
        await wait_until(pilot, lambda: pane.state == "done", timeout=30)
        expected = generate(
            model, tokenizer, "ROMEO:", SampleSettings(strategy="greedy", length=40)
        )
        assert pane.output == expected

        # Every generated character carries the probability colour of its band.
        assert len(pane.probs) == len(pane.output)
        spans = pane.styled_output().spans
        palette = {style for _, style in PROB_STYLES}
        assert spans and all(span.style in palette for span in spans)
        log = pane.output_widget
        assert log.line_spans, "the output widget stores the colours with the text"
        segments = [seg for y in range(log.line_count) for seg in log.render_line(y)]
        colours = {seg.style.color for seg in segments if seg.style and seg.style.color}
        assert colours & {style.color for style in palette}

        # Beam search is the next strategy; it streams the engine's beam result.
        await pilot.press("t")
        assert pane.strategy == "beam" and "beam x5" in settings_text(app)
        pane.length = 20
        await pilot.press("g")
        await wait_until(pilot, lambda: pane.state == "done", timeout=60)
        assert pane.output == generate(
            model, tokenizer, "ROMEO:", SampleSettings(strategy="beam", beams=5, length=20)
        )
        await pilot.press("t")
        assert pane.strategy == "sample"

        # Min-p and repetition penalty step through their notches and show in the settings.
        await pilot.press("m", "n", "n")
        assert pane.min_p == 0.02 and pane.repetition_penalty == 1.2
        assert "min-p 0.02" in settings_text(app) and "repetition 1.2" in settings_text(app)
        settings = pane.settings()
        assert settings.min_p == 0.02 and settings.repetition_penalty == 1.2


async def test_candidates_key_shows_five_next_characters(fake_factory) -> None:
    app, model, tokenizer = loaded_app(fake_factory)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.main_screen.generation
        pane.length = 25
        await pilot.press("g")
        await wait_until(pilot, lambda: pane.state == "done", timeout=30)
        await pilot.press("c")
        await wait_until(pilot, lambda: len(pane.candidates) == 5, timeout=30)
        expected = next_char_candidates(model, tokenizer, "ROMEO:" + pane.output, k=5)
        assert pane.candidates == expected
        probs = [p for _, p in pane.candidates]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
        line = str(app.query_one("#gen-candidates", Label).render())
        assert line.startswith("next: ") and line.count(" · ") == 4
