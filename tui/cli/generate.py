"""``llmv0 generate``: stream text from a trained model to stdout, with every sampler.

Stdout carries the prompt and the generated text only (one sample: exactly
``prompt + text + newline``), so it can be piped; reports that explain the text (the
probability legend, next-character candidates, the novelty check, beam scores) go to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from engine.errors import UserError
from tui.cli.completion import complete_run
from tui.shared.cli_options import RunsDir, err, runs_dir_or_default, user_errors

if TYPE_CHECKING:
    from torch import nn

    from engine.config.schema import RunConfig
    from engine.generate.decoding import SampleSettings
    from engine.generate.novelty import NoveltyIndex
    from engine.text.tokenizer import Tokenizer

# Probability -> style, likeliest first: green is what the model expected, red a surprise.
PROB_STYLES = (
    (0.8, "bold green"),
    (0.5, "green"),
    (0.2, "yellow"),
    (0.05, "dark_orange"),
    (0.0, "bold red"),
)
PROB_LEGEND = (
    "[bold green]>=80%[/] [green]>=50%[/] [yellow]>=20%[/] [dark_orange]>=5%[/] [bold red]<5%[/]"
)

STRATEGY_HELP = (
    "'sample' (temperature, top-k/p, min-p), 'greedy' (always the likeliest) or 'beam' "
    "(search for the likeliest text; streams the prefix all beams share)."
)


def prob_style(prob: float) -> str:
    """The rich style for a character the model gave probability ``prob``."""
    return next(style for floor, style in PROB_STYLES if prob >= floor)


def unescape(text: str) -> str:
    r"""Turn the escapes a shell makes awkward (\n, \t, \r, \\) into their characters."""
    out, i = [], 0
    table = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in table:
            out.append(table[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def generate(
    run: Annotated[
        str | None,
        typer.Option("--run", "-r", help="Run id or run folder.", autocompletion=complete_run),
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="A .pt checkpoint file.")
    ] = None,
    prompt_text: Annotated[
        str, typer.Option("--prompt", "-p", help="Text to continue (the prompt).")
    ] = "\n",
    old_seed: Annotated[
        str | None,
        typer.Option("--seed", hidden=True, help="Deprecated alias of --prompt."),
    ] = None,
    prompt_file: Annotated[
        Path | None,
        typer.Option("--prompt-file", help="Read the prompt from this UTF-8 file instead."),
    ] = None,
    length: Annotated[
        int, typer.Option("--length", "-n", help="Characters to generate.", min=0)
    ] = 200,
    strategy: Annotated[
        str, typer.Option("--strategy", "-s", help=STRATEGY_HELP, case_sensitive=False)
    ] = "sample",
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
    min_p: Annotated[
        float,
        typer.Option(
            "--min-p",
            help="Drop tokens below min-p x the top token's probability (0 = off).",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
    repetition_penalty: Annotated[
        float,
        typer.Option(
            "--repetition-penalty",
            help="> 1 discourages tokens of the recent context (1 = off; try 1.1-1.3).",
            min=0.0,
        ),
    ] = 1.0,
    repetition_window: Annotated[
        int,
        typer.Option(
            "--repetition-window", help="Recent tokens the penalty looks at (0 = all).", min=0
        ),
    ] = 32,
    beams: Annotated[int, typer.Option("--beams", help="Beam width.", min=1, max=256)] = 5,
    length_penalty: Annotated[
        float,
        typer.Option("--length-penalty", help="Beam ranking: log p / tokens**this (0 = raw sum)."),
    ] = 1.0,
    stop: Annotated[
        list[str] | None,
        typer.Option(
            "--stop",
            help="End before this string (repeatable; \\n for a newline, e.g. --stop '\\n\\n').",
        ),
    ] = None,
    num_samples: Annotated[
        int, typer.Option("--num-samples", "-N", help="Independent samples (seeds s, s+1, ...).")
    ] = 1,
    sample_seed: Annotated[int, typer.Option("--sample-seed", help="Random seed.")] = 1337,
    show_probs: Annotated[
        bool,
        typer.Option(
            "--show-probs", help="Colour each character by the probability the model gave it."
        ),
    ] = False,
    candidates: Annotated[
        int,
        typer.Option(
            "--candidates", help="After each sample, the k likeliest next characters.", min=0
        ),
    ] = 0,
    novelty: Annotated[
        bool,
        typer.Option(
            "--novelty", help="Report the longest passage copied verbatim from the training text."
        ),
    ] = False,
    runs_dir: RunsDir = None,
) -> None:
    """Stream text from a trained model to stdout as it is generated."""
    from engine.generate.beam import beam_search
    from engine.generate.decoding import SampleSettings
    from engine.generate.sampling import generate_stream_with_probs
    from engine.run.folder import load_for_inference

    with user_errors():
        target = _one_target(run, checkpoint)
        if old_seed is not None:
            prompt_text = _deprecated_seed(old_seed, prompt_text)
        prompt = _read_prompt(prompt_text, prompt_file)
        strategy = strategy.lower()
        if num_samples < 1:
            raise UserError(f"--num-samples must be at least 1 (got {num_samples}).")
        settings = SampleSettings(
            length=length, temperature=temperature, top_k=top_k, top_p=top_p, seed=sample_seed,
            strategy=strategy, min_p=min_p, repetition_penalty=repetition_penalty,
            repetition_window=repetition_window, beams=beams, length_penalty=length_penalty,
            stop=tuple(unescape(s) for s in stop or ()),
        )  # fmt: skip
        if num_samples > 1 and settings.is_greedy:
            raise UserError(
                "Greedy decoding gives the same text every time: --num-samples > 1 needs "
                "--strategy sample with a temperature above 0, or --strategy beam."
            )
        if strategy == "beam" and num_samples > beams:
            raise UserError(f"--num-samples ({num_samples}) cannot exceed --beams ({beams}).")
        model, tokenizer, cfg = load_for_inference(target, runs_dir_or_default(runs_dir))
        tokenizer.encode(prompt)  # refuse unknown characters before printing anything
        index = _novelty_index(cfg, tokenizer) if novelty else None

        if strategy == "beam" and num_samples > 1:
            results = beam_search(model, tokenizer, prompt, settings)[:num_samples]
            for i, result in enumerate(results):
                _header(i, num_samples, f"score {result.score:.3f}, log p {result.logprob:.2f}")
                _write(prompt + result.text + "\n")
                _report(model, tokenizer, prompt + result.text, result.text, candidates, index)
            return
        for i in range(num_samples):
            _header(i, num_samples, f"seed {sample_seed + i}" if strategy == "sample" else "")
            _write(prompt)
            current = (
                settings if i == 0 else _with_seed(settings, sample_seed + i)
            )  # each sample reproducible on its own
            text = []
            for item in generate_stream_with_probs(model, tokenizer, prompt, current):
                text.append(item.char)
                if show_probs:
                    _write_styled(item.char, prob_style(item.prob))
                else:
                    _write(item.char)
            _write("\n")
            sample = "".join(text)
            _report(model, tokenizer, prompt + sample, sample, candidates, index)
        if show_probs:
            err.print(f"[dim]probability the model gave each character:[/] {PROB_LEGEND}")


def _with_seed(settings: SampleSettings, seed: int) -> SampleSettings:
    import dataclasses

    return dataclasses.replace(settings, seed=seed)


MAX_PROMPT_BYTES = 1024 * 1024
"""A prompt longer than this is a mistake (or a device that never ends)."""


def _deprecated_seed(old_seed: str, prompt_text: str) -> str:
    """``--seed TEXT``, the prompt's old name: still the prompt, with a notice on stderr.

    ``--seed`` means the random seed in nanoGPT and most tools. For now the random seed stays
    ``--sample-seed``; once ``--seed`` as the prompt is gone, ``--seed`` becomes an alias of
    ``--sample-seed``.
    """
    if prompt_text != "\n":
        raise UserError("Give the prompt once, with --prompt (--seed is its deprecated name).")
    err.print(
        "[yellow]Note:[/] --seed as the prompt is deprecated; use --prompt (-p). "
        "The random seed is --sample-seed."
    )
    return old_seed


def _read_prompt(seed: str, prompt_file: Path | None) -> str:
    if prompt_file is None:
        return seed
    if seed != "\n":
        raise UserError("Give the prompt either as --prompt TEXT or --prompt-file FILE, not both.")
    from engine.safe_files import read_bytes_limited

    try:
        # Bounded, and never from a FIFO or device (a FIFO hung the CLI).
        return read_bytes_limited(prompt_file, MAX_PROMPT_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise UserError(f"The prompt file {prompt_file} does not exist.") from None
    except UnicodeDecodeError as exc:
        raise UserError(
            f"The prompt file {prompt_file} is not UTF-8 text (byte offset {exc.start})."
        ) from None
    except ValueError as exc:  # a FIFO, a device, or more than MAX_PROMPT_BYTES
        raise UserError(f"The prompt file {exc}") from None
    except OSError as exc:
        raise UserError(f"Cannot read the prompt file {prompt_file} ({exc.strerror}).") from None


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _write_styled(char: str, style: str) -> None:
    from rich.text import Text

    from tui.shared.cli_options import out

    out.print(Text(char, style=style), end="", soft_wrap=True)
    out.file.flush()


def _header(i: int, total: int, detail: str) -> None:
    if total > 1:
        extra = f" ({detail})" if detail else ""
        _write(("\n" if i else "") + f"--- sample {i + 1}/{total}{extra} ---\n")


def _novelty_index(cfg: RunConfig, tokenizer: Tokenizer) -> NoveltyIndex:
    from engine.generate.novelty import NoveltyIndex, training_text
    from engine.text.corpus import read_corpus, resolve_corpus

    text = read_corpus(resolve_corpus(cfg.data_file))
    return NoveltyIndex(training_text(text, tokenizer, cfg.val_fraction))


def _report(
    model: nn.Module,
    tokenizer: Tokenizer,
    context: str,
    sample: str,
    k: int,
    index: NoveltyIndex | None,
) -> None:
    """Next-character candidates and the novelty check of one sample, on stderr."""
    from rich.markup import escape

    from engine.generate.sampling import next_char_candidates

    if k > 0:
        shown = ", ".join(
            f"{c!r} {p:.1%}" for c, p in next_char_candidates(model, tokenizer, context, k)
        )
        err.print(f"[dim]next character:[/] {escape(shown)}")
    if index is not None:
        copy = index.longest_copy(sample)
        if copy.length == 0:
            err.print("[dim]novelty:[/] no character of the sample occurs in the training text")
        else:
            err.print(
                f"[dim]novelty:[/] longest passage copied from the training text: "
                f"{copy.length} characters ({copy.fraction_of(sample):.0%} of the sample), "
                f"training line {copy.train_line}: {escape(repr(copy.text))}"
            )


def _one_target(run: str | None, checkpoint: Path | None) -> str:
    if bool(run) == bool(checkpoint):
        raise UserError(
            "Give exactly one of --run RUN or --checkpoint FILE (`llmv0 runs` lists the runs)."
        )
    return str(run or checkpoint)
