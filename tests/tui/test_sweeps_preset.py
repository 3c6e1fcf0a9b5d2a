"""The sweeps view's ``p`` saves the best trial's config as the user's preset ``<sweep>-best``:
in the user's config folder (never the source tree's configs/), named in the notification, and
found again by ``--config``."""

from __future__ import annotations

from pathlib import Path

from conftest import wait_until
from optuna.distributions import CategoricalDistribution

from engine.config.schema import load_config
from tui.dashboard.launch import make_app
from tui.dashboard.screens.sweeps import SweepsScreen

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


async def test_p_saves_the_best_trial_as_a_user_preset(tmp_path, fake_factory, make_config) -> None:
    from engine.experiments.sweep import default_storage, open_study
    from engine.experiments.sweep_space import parse_space

    runs = tmp_path / "runs"
    config = make_config(hidden_dim=48).model_dump()
    space = parse_space(
        {"name": "sw", "method": "grid", "set": config, "fields": {"hidden_dim": [16, 48]}}
    )
    study = open_study(space, default_storage(runs))
    for value, loss in ((16, 2.0), (48, 1.5)):
        trial = study.ask({"hidden_dim": CategoricalDistribution([16, 48])})
        trial.set_user_attr("config", {**config, "hidden_dim": value})
        study.tell(trial, loss)
    shipped = sorted(CONFIGS.rglob("*"))
    app = make_app(trainer_factory=fake_factory, runs_dir=runs)
    async with app.run_test(size=(140, 40)) as pilot:
        app.push_screen(SweepsScreen(runs))
        await wait_until(pilot, lambda: isinstance(app.screen, SweepsScreen))
        sweeps = app.screen
        await wait_until(pilot, lambda: sweeps.loaded and sweeps.sweep == "sw")
        await pilot.press("p")
        path = tmp_path / "config" / "presets" / "sw-best.json"  # LLMV0_CONFIG_DIR (conftest)
        await wait_until(pilot, path.exists)
        await wait_until(pilot, lambda: any(str(path) in n.message for n in app._notifications))
    assert load_config("sw-best").hidden_dim == 48  # the trial with the lower loss
    assert sorted(CONFIGS.rglob("*")) == shipped
