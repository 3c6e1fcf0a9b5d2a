"""``llmv0 generate``: stream characters from a trained model to stdout."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tui.cli_common import RunsDir, runs_dir_or_default, user_errors


def generate(
    run: Annotated[str | None, typer.Option("--run", "-r", help="Run id or run folder.")] = None,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="A .pt checkpoint file.")
    ] = None,
    seed: Annotated[
        str, typer.Option("--seed", "--prompt", "-p", help="Text to continue (the prompt).")
    ] = "\n",
    length: Annotated[
        int, typer.Option("--length", "-n", help="Characters to sample.", min=0)
    ] = 200,
    temperature: Annotated[
        float,
        typer.Option("--temperature", "-t", help="0 = greedy; higher = more random.", min=0.0),
    ] = 0.8,
    top_k: Annotated[
        int, typer.Option("--top-k", help="Keep the k likeliest (0 = all).", min=0)
    ] = 0,
    top_p: Annotated[
        float, typer.Option("--top-p", help="Nucleus mass in (0, 1] (1 = all).", min=0.0, max=1.0)
    ] = 1.0,
    sample_seed: Annotated[int, typer.Option("--sample-seed", help="Random seed.")] = 1337,
    runs_dir: RunsDir = None,
) -> None:
    """Stream characters from a trained model to stdout as they are sampled."""
    from engine.checkpoint import load_for_inference
    from engine.sampling import SampleSettings, generate_stream

    with user_errors():
        target = _one_target(run, checkpoint)
        model, tokenizer, _ = load_for_inference(target, runs_dir_or_default(runs_dir))
        settings = SampleSettings(
            length=length, temperature=temperature, top_k=top_k, top_p=top_p, seed=sample_seed
        )
        tokenizer.encode(seed)  # refuse unknown characters before printing anything
        stream = generate_stream(model, tokenizer, seed, settings)
        sys.stdout.write(seed)
        sys.stdout.flush()
        for char in stream:
            sys.stdout.write(char)
            sys.stdout.flush()
        sys.stdout.write("\n")


def _one_target(run: str | None, checkpoint: Path | None) -> str:
    if bool(run) == bool(checkpoint):
        raise ValueError(
            "Give exactly one of --run RUN or --checkpoint FILE (`llmv0 runs` lists the runs)."
        )
    return str(run or checkpoint)
