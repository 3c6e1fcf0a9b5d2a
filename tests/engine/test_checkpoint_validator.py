"""Crafted checkpoints: every loader refuses a bad one with CheckpointError naming the field.

Structure-aware fuzzing (hypothesis) mutates a real small checkpoint of each model kind at
one place (a key dropped, a value replaced by None, a string, a negative or huge number, a
NaN, an empty container, a tensor of the wrong shape) and runs every consumer of a payload:
the load itself, the model for inference, the resume's model/optimizer/RNG state, the
training progress and the timing. Each must either work or raise CheckpointError; never
KeyError, TypeError, RuntimeError or anything else.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.run import checkpoint as ckpt
from engine.run.checkpoint import CheckpointError
from engine.train.budget import RunClock, TimeBudget
from engine.train.setup import build_state
from engine.train.state import TrainState
from engine.train.trainer import Trainer

GPT = {"model": "gpt", "n_layer": 1, "n_head": 2, "n_embd": 8}


@pytest.fixture(scope="module")
def real_payloads(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """A real latest.pt of each model kind, loaded."""
    # Not `from conftest import ...`: beside tests/tui in one worker, that name is tui's.
    tiny_text = "ROMEO: But soft, what light through yonder window breaks?\n" * 90
    tiny_fields = {"seq_length": 16, "batch_size": 8, "embedding_dim": 16, "hidden_dim": 32,
                   "learning_rate": 0.01, "device": "cpu", "num_threads": 1, "seed": 7}  # fmt: skip
    base = tmp_path_factory.mktemp("real")
    corpus = base / "corpus.txt"
    corpus.write_text(tiny_text, encoding="utf-8")
    payloads = {}
    for kind, fields in (("lstm", {}), ("gpt", GPT)):
        cfg = ckpt.RunConfig(
            **{**tiny_fields, "data_file": str(corpus), "max_steps": 2, "eval_interval": 2,
               "sample_length": 0, **fields}
        )  # fmt: skip
        Trainer(cfg, runs_dir=base / "runs", run_id=kind, data_dir=base / "data").run()
        payloads[kind] = ckpt.load_checkpoint(base / "runs" / kind / "latest.pt")
    return payloads


def use_everything(path: Path) -> None:
    """What every loader and the resume do with a checkpoint file."""
    payload = ckpt.load_checkpoint(path)
    _model, tokenizer, cfg = ckpt.model_from_payload(payload, "cpu", path)
    build_state(cfg, tokenizer.vocab_size, torch.device("cpu"), torch.float32, payload)
    TrainState.from_payload(payload)
    timing = payload.get("timing") or {}
    clock = RunClock(None, timing.get("clock"))
    TimeBudget(60.0, clock, timing.get("budget"))


def paths_of(value: Any, prefix: tuple = (), depth: int = 4) -> list[tuple]:
    """Every place in a payload a mutation can hit (dict keys and list items)."""
    found = [prefix] if prefix else []
    if depth == 0:
        return found
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths_of(item, (*prefix, key), depth - 1)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value[:3]):
            found += paths_of(item, (*prefix, i), depth - 1)
    return found


REPLACEMENTS = [
    None,
    "text",
    -1,
    -(2**63),
    2**70,
    10**15,
    float("nan"),
    float("inf"),
    1e308,
    True,
    [],
    {},
    [1, 2],
    {"x": 1},
    torch.zeros(3),
    torch.zeros(2, 2, dtype=torch.int64),
    torch.tensor(5),
]


def mutate(payload: dict, path: tuple, action: Any) -> dict:
    """A deep copy of ``payload`` with the value at ``path`` dropped or replaced."""
    mutated = copy.deepcopy(payload)
    parent = mutated
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, tuple):
        return mutated  # tuples (betas) are replaced whole one level up
    last = path[-1]
    if action == "drop":
        if isinstance(parent, dict):
            del parent[last]
        else:
            del parent[last]
    elif action == "reshape" and isinstance(parent[last], torch.Tensor):
        parent[last] = torch.zeros(parent[last].numel() + 1)
    else:
        parent[last] = action
    return mutated


@pytest.mark.parametrize("kind", ["lstm", "gpt"])
@settings(
    max_examples=80,  # per model kind: ~15 s on a busy 2-core machine
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_mutated_checkpoint_loads_or_is_refused_clearly(
    real_payloads, tmp_path: Path, kind: str, data
) -> None:
    payload = real_payloads[kind]
    path = data.draw(st.sampled_from(paths_of(payload)), label="path")
    action = data.draw(st.sampled_from(["drop", "reshape", *REPLACEMENTS]), label="action")
    file = tmp_path / f"{kind}.pt"
    torch.save(mutate(payload, path, action), file)
    try:
        use_everything(file)
    except CheckpointError as exc:
        text = str(exc)
        assert "checkpoint" in text and "tensor(" not in text


def _save(payload: dict, tmp_path: Path) -> Path:
    path = tmp_path / "crafted.pt"
    torch.save(payload, path)
    return path


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("model",), "drop", "'model'"),
        (("step",), "drop", "'step'"),
        (("step",), -5, "step"),
        (("step",), 10**15, "step"),
        (("step",), "12", "step"),
        (("evals_since_best",), -1, "evals_since_best"),
        (("best_val_loss",), float("nan"), "best_val_loss"),
        (("config",), None, "config"),
        (("config", "seed"), -1, "seed"),
        (("tokenizer",), "drop", "'tokenizer'"),
        (("rng_cpu",), torch.zeros(3), "rng_cpu"),
        (("model", "wte.weight"), "reshape", "wte.weight"),
        (("model", "wte.weight"), None, "wte.weight"),
        (("optimizer",), "text", "optimizer"),
        (("timing",), [1], "timing"),
    ],
)
def test_each_bad_field_is_named(real_payloads, tmp_path, path, value, named) -> None:
    file = _save(mutate(real_payloads["gpt"], path, value), tmp_path)
    with pytest.raises(CheckpointError, match=named.replace(".", r"\.")):
        use_everything(file)


def test_the_real_checkpoints_pass(real_payloads, tmp_path) -> None:
    for payload in real_payloads.values():
        use_everything(_save(payload, tmp_path))


def test_generate_and_the_dashboard_refuse_a_checkpoint_without_model(
    real_payloads, tmp_path
) -> None:
    payload = dict(real_payloads["lstm"])
    del payload["model"]
    file = _save(payload, tmp_path)
    env = {**os.environ, "COLUMNS": "200"}
    for command in (
        [sys.executable, "-m", "tui.cli.main", "generate", "--run", str(file), "--length", "5"],
        [str(Path(sys.executable).parent / "llmv0-tui"), "--run", str(file)],
    ):
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=120, env=env,
            stdin=subprocess.DEVNULL, cwd=Path(__file__).parents[2],
        )  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == 2, output
        assert "Traceback" not in output and "'model'" in output
