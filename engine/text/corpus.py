"""Corpus resolution, the train/validation split and seeded batch sampling.

``"shakespeare.txt"`` resolves to ``<data dir>/shakespeare.txt``, downloaded (sha256-checked,
written atomically) when absent; any other value is a path to a UTF-8 text file. Every
failure raises :class:`CorpusError` with an explanation and a fix. The first ``1 -
val_fraction`` of the text trains, the rest validates (as nanoGPT's shakespeare_char);
:class:`EpochBatches` draws the batch of any step from the step number alone.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from engine.errors import UserError
from engine.safe_files import read_bytes_limited, special_file_problem
from engine.text.chunks import Check, no_check

if TYPE_CHECKING:
    from engine.text.tokenizer import Tokenizer

MAX_CORPUS_BYTES = 8 * 1024**3
"""Corpora are decoded whole into memory; a file larger than this is refused, unread."""
SHAKESPEARE_NAME = "shakespeare.txt"
SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
DATA_DIR_ENV = "LLMV0_DATA_DIR"

Progress = Callable[[int, int | None], None]
"""Download progress callback: (bytes so far, total bytes or None when unknown)."""


class CorpusError(UserError, ValueError):
    """The corpus could not be found, fetched or read; the message says how to fix it."""


def default_data_dir() -> Path:
    """The corpus cache: $LLMV0_DATA_DIR, else ./data under the current directory."""
    return Path(os.environ.get(DATA_DIR_ENV, "data"))


def download_corpus(
    target: Path,
    url: str = SHAKESPEARE_URL,
    sha256: str | None = SHAKESPEARE_SHA256,
    progress: Progress | None = None,
    timeout: float = 30.0,
    check: Check = no_check,
) -> Path:
    """Download ``url`` to ``target`` atomically, checking its sha256.

    The bytes go to a temporary file in the same folder, are fsynced, checked, then renamed
    over ``target``; a failed or interrupted download leaves no partial corpus behind.
    The transfer runs on a helper thread while this one calls ``check`` every
    :data:`CHECK_EVERY_S` (it raises to stop): a stalled network blocks a read for up to
    ``timeout`` seconds, and a stop must not wait for it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _transfer_checking(url, out, timeout, progress, check, target)
            out.flush()
            os.fsync(out.fileno())
        if sha256 is not None and digest.hexdigest() != sha256:
            raise CorpusError(
                f"The file downloaded from {url} has sha256 {digest.hexdigest()}, not the "
                f"expected {sha256}: the download is corrupt or the source changed. It was not "
                f"kept. Try again, or save a known-good copy as {target}."
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


CHECK_EVERY_S = 0.1
"""How often a download in progress asks whether to stop."""


def _transfer_checking(
    url: str, out: Any, timeout: float, progress: Progress | None, check: Check, target: Path
) -> Any:
    """``url``'s bytes into ``out`` on a helper thread, calling ``check`` meanwhile; the
    sha256 of what was written. When ``check`` raises, the helper is told to stop at its
    next chunk and the caller's cleanup (unlinking the temporary file) goes on at once."""
    digest = hashlib.sha256()
    result: dict[str, BaseException] = {}
    abandoned = threading.Event()

    def transfer() -> None:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                done = 0
                while (chunk := resp.read(64 * 1024)) and not abandoned.is_set():
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        except BaseException as exc:  # handed to the caller's thread
            result["error"] = exc

    worker = threading.Thread(target=transfer, name="llmv0-download", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            check()
            worker.join(CHECK_EVERY_S)
    except BaseException:
        abandoned.set()
        raise
    error = result.get("error")
    if isinstance(error, urllib.error.URLError | OSError | ValueError):
        reason = getattr(error, "reason", error)
        raise CorpusError(
            f"Could not download the corpus from {url} ({reason}). Check your network "
            f"connection, or download the file yourself and save it as {target}, or set "
            "data_file to the path of any local UTF-8 text file."
        ) from None
    if error is not None:
        raise error
    return digest


def resolve_corpus(
    data_file: str,
    data_dir: Path | None = None,
    progress: Progress | None = None,
    url: str | None = None,
    check: Check = no_check,
) -> Path:
    """The local path of ``data_file``, downloading Tiny Shakespeare into the cache if needed
    (``check`` between the download's chunks)."""
    if data_file == SHAKESPEARE_NAME:
        cached = (data_dir or default_data_dir()) / SHAKESPEARE_NAME
        if not cached.exists():
            download_corpus(cached, url or SHAKESPEARE_URL, progress=progress, check=check)
        return cached
    path = Path(data_file).expanduser()
    if not path.exists():
        raise CorpusError(
            f"The corpus file {path} does not exist. Set data_file to the path of a UTF-8 text "
            f"file, or to '{SHAKESPEARE_NAME}' to download Tiny Shakespeare."
        )
    if path.is_dir():
        raise CorpusError(f"The corpus path {path} is a folder; data_file must name a text file.")
    if problem := special_file_problem(path):  # a FIFO hung the run, /dev/zero never ends
        raise CorpusError(f"The corpus {path} {problem}.")
    return path


_WIDE_WHY = {
    "UTF-16": "it starts with a UTF-16 byte-order mark, or every other byte is zero",
    "UTF-32": "it starts with a UTF-32 byte-order mark",
}


def _wide_encoding(raw: bytes) -> str | None:
    """ "UTF-16"/"UTF-32" when ``raw`` is plainly in one, else None.

    Windows editors save "Unicode" text as UTF-16: its byte-order mark fails UTF-8 at byte 0
    (and a latin1 hint would then be wrong), and without a mark ASCII text decodes as UTF-8
    with a NUL after every character, which would train a model on NULs.
    """
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    head = raw[:4096]
    if len(head) >= 4 and head.count(0) >= len(head) // 3:
        return "UTF-16"
    return None


def read_corpus(path: Path) -> str:
    """The text of a corpus file, refusing unreadable, empty or non-UTF-8 files."""
    try:
        raw = read_bytes_limited(path, MAX_CORPUS_BYTES)
    except ValueError as exc:  # not a regular file, or larger than the limit
        raise CorpusError(f"The corpus {exc}") from None
    except OSError as exc:
        raise CorpusError(
            f"Could not read the corpus {path} ({exc.strerror}). Check the path and its "
            "permissions."
        ) from None
    if not raw.strip():
        raise CorpusError(
            f"The corpus {path} is empty. Put some text in it, or set data_file to another file."
        )
    wide = _wide_encoding(raw)
    if wide is not None:
        raise CorpusError(
            f"The corpus {path} looks like {wide} text, not UTF-8 ({_WIDE_WHY[wide]}). Convert "
            f"it first, for example with `iconv -f {wide.lower()} -t utf-8 {path.name} > "
            f"{path.stem}-utf8.txt`."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"The corpus {path} is not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start} cannot be decoded. Convert it first, for example with "
            f"`iconv -f latin1 -t utf-8 {path.name} > {path.stem}-utf8.txt`."
        ) from None
    return text


def describe(path: Path, size: int) -> str:
    """``corpus.txt (52.0 MB)``: a corpus as the phase lines name it."""
    return f"{path.name} ({size / 1e6:.1f} MB)"


def encode_corpus(tokenizer: Tokenizer, text: str, check: Check = no_check) -> torch.Tensor:
    """The token ids of ``text`` as a 1-D int64 tensor, encoded a chunk at a time with
    ``check`` between chunks: one call over a 50 MB corpus took seconds that no signal
    could interrupt (issue 28). Raises what the tokenizer's encoding raises."""
    parts = []
    for ids in tokenizer.encode_chunks(text):
        check()
        parts.append(torch.tensor(ids, dtype=torch.long))
    check()
    if not parts:
        return torch.empty(0, dtype=torch.long)
    return parts[0] if len(parts) == 1 else torch.cat(parts)


@dataclass
class Splits:
    """Token ids of the training and validation splits (1-D int64 tensors)."""

    train: torch.Tensor
    val: torch.Tensor


def split_tokens(tokens: torch.Tensor, val_fraction: float, seq_length: int) -> Splits:
    """First ``1 - val_fraction`` for training, the rest for validation; both long enough."""
    n_val = int(len(tokens) * val_fraction)
    n_train = len(tokens) - n_val
    need = seq_length + 1
    if n_train < need or n_val < need:
        raise CorpusError(
            f"The corpus has {len(tokens)} characters: its training split ({n_train}) and "
            f"validation split ({n_val}, val_fraction {val_fraction}) each need at least "
            f"seq_length + 1 = {need}. Use a longer text, lower seq_length or raise "
            "val_fraction."
        )
    return Splits(train=tokens[:n_train].clone(), val=tokens[n_train:].clone())


class EpochBatches:
    """Seeded batches over a token tensor; the batch of any step depends only on the step.

    One epoch is one pass over the split in non-overlapping windows of ``seq_length + 1``
    tokens (inputs plus the shifted targets), starting at a random offset in
    ``[0, seq_length)``, shuffled, and grouped ``batch_size`` at a time into the epoch's
    ``steps_per_epoch`` batches. Offset and order come from a generator seeded with
    ``(seed, epoch)``, so a resumed run continues the exact same data order.
    """

    def __init__(self, tokens: torch.Tensor, seq_length: int, batch_size: int, seed: int) -> None:
        self.tokens = tokens
        self.seq_length = seq_length
        self.batch_size = batch_size
        self.seed = seed
        # Windows available for every offset in [0, seq_length): fixed per epoch.
        self.windows_per_epoch = max(1, (len(tokens) - seq_length) // seq_length)
        self.steps_per_epoch = max(1, math.ceil(self.windows_per_epoch / batch_size))
        self._epoch = -1
        self._starts = torch.empty(0, dtype=torch.long)

    def _plan(self, epoch: int) -> torch.Tensor:
        # Modulo 2^64, the generator's range: a seed >= 2^60 overflowed it mid-run; smaller
        # seeds (every earlier run) keep their order.
        gen = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % 2**64)
        offset = int(torch.randint(self.seq_length, (1,), generator=gen))
        max_offset = len(self.tokens) - (self.windows_per_epoch * self.seq_length + 1)
        offset = min(offset, max(0, max_offset))
        starts = offset + self.seq_length * torch.arange(self.windows_per_epoch)
        need = self.steps_per_epoch * self.batch_size
        order = torch.randperm(self.windows_per_epoch, generator=gen)
        # Fill the last batch with windows from a second shuffle rather than shrinking it.
        while len(order) < need:
            order = torch.cat([order, torch.randperm(self.windows_per_epoch, generator=gen)])
        return starts[order[:need]]

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets (B, T) for 0-based optimizer step ``step``."""
        epoch, index = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._starts = self._plan(epoch)
            self._epoch = epoch
        starts = self._starts[index * self.batch_size : (index + 1) * self.batch_size]
        offsets = torch.arange(self.seq_length + 1)
        windows = self.tokens[starts[:, None] + offsets[None, :]]  # (B, T + 1)
        return windows[:, :-1], windows[:, 1:]


def eval_windows(
    tokens: torch.Tensor, seq_length: int, max_windows: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-overlapping windows covering the split: inputs and targets (N, T).

    ``max_windows`` > 0 keeps that many, evenly spaced, for a quicker estimate.
    """
    n = (len(tokens) - 1) // seq_length
    starts = seq_length * torch.arange(n)
    if 0 < max_windows < n:
        starts = starts[torch.linspace(0, n - 1, max_windows).long()]
    offsets = torch.arange(seq_length + 1)
    windows = tokens[starts[:, None] + offsets[None, :]]
    return windows[:, :-1], windows[:, 1:]
