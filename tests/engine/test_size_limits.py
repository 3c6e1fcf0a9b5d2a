"""Size limits stream: a limit of 8 GiB costs no 8 GiB reservation.

``read(limit + 1)`` asked the allocator for the whole limit before reading a byte, so under an
address-space limit (``prlimit --as``, strict overcommit) every run failed with MemoryError.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.safe_files import read_bytes_limited
from engine.train.trainer import Trainer

AS_LIMIT = 4_000_000_000  # the issue's `prlimit --as=4e9`


def _limit_address_space() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def test_a_limit_larger_than_memory_reads_a_small_file(tmp_path: Path) -> None:
    path = tmp_path / "small.txt"
    path.write_bytes(b"x" * 10_000)
    assert read_bytes_limited(path, 2**62) == b"x" * 10_000  # no 4 EiB reservation
    with pytest.raises(ValueError, match="larger than"):
        read_bytes_limited(path, 9_999)
    assert read_bytes_limited(path, 10_000) == b"x" * 10_000


def test_corpus_and_checkpoint_load_under_an_address_space_limit(
    make_config, runs_dir: Path, tmp_path: Path
) -> None:
    Trainer(make_config(max_steps=4, eval_interval=4), runs_dir=runs_dir, run_id="r").run()
    checkpoint = runs_dir / "r" / "latest.pt"
    corpus = make_config().data_file
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from engine.run.checkpoint import load_checkpoint, model_from_payload
        from engine.text.corpus import read_corpus

        text = read_corpus(Path({corpus!r}))
        model, tokenizer, config = model_from_payload(load_checkpoint({str(checkpoint)!r}))
        print("ok", len(text), tokenizer.vocab_size)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_address_space,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok ")
