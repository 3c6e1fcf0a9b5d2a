"""Corpus resolution and its errors, the download, the split and the seeded batches."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from engine.text import corpus as data
from engine.text.corpus import (
    CorpusError,
    EpochBatches,
    download_corpus,
    eval_windows,
    read_corpus,
    resolve_corpus,
    split_tokens,
)

PAYLOAD = ("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 200).encode()
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A local HTTP server on 127.0.0.1 serving ``input.txt``; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "input.txt").write_bytes(PAYLOAD)
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----- download -----


def test_download_with_progress_and_checksum(tmp_path: Path, server: str) -> None:
    target = tmp_path / "cache" / "shakespeare.txt"
    calls: list[tuple[int, int | None]] = []
    got = download_corpus(
        target,
        url=f"{server}/input.txt",
        sha256=PAYLOAD_SHA,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert got == target
    assert target.read_bytes() == PAYLOAD
    assert calls, "progress was never called"
    assert calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert list(target.parent.iterdir()) == [target]  # no temp file left


def test_checksum_mismatch_leaves_no_file(tmp_path: Path, server: str) -> None:
    target = tmp_path / "cache" / "shakespeare.txt"
    with pytest.raises(CorpusError) as info:
        download_corpus(target, url=f"{server}/input.txt", sha256="0" * 64)
    assert "sha256" in str(info.value) and PAYLOAD_SHA in str(info.value)
    assert list(target.parent.iterdir()) == []


def test_checksum_mismatch_keeps_a_previous_good_file(tmp_path: Path, server: str) -> None:
    target = tmp_path / "cache" / "shakespeare.txt"
    target.parent.mkdir()
    target.write_text("the good old copy", encoding="utf-8")
    with pytest.raises(CorpusError):
        download_corpus(target, url=f"{server}/input.txt", sha256="0" * 64)
    assert target.read_text(encoding="utf-8") == "the good old copy"
    assert list(target.parent.iterdir()) == [target]


def test_no_network_is_a_corpus_error(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "shakespeare.txt"
    with pytest.raises(CorpusError) as info:
        download_corpus(target, url=f"http://127.0.0.1:{closed_port()}/input.txt", timeout=5)
    assert "Could not download" in str(info.value)
    assert "network" in str(info.value)
    assert list(target.parent.iterdir()) == []


def test_http_404_is_a_corpus_error(tmp_path: Path, server: str) -> None:
    target = tmp_path / "shakespeare.txt"
    with pytest.raises(CorpusError, match="Could not download"):
        download_corpus(target, url=f"{server}/missing.txt")
    assert not target.exists()


def test_download_is_atomic_when_interrupted(
    tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A download cut off mid-way (here: by the progress callback) leaves nothing behind."""
    target = tmp_path / "shakespeare.txt"

    def interrupt(done: int, total: int | None) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download_corpus(target, url=f"{server}/input.txt", sha256=None, progress=interrupt)
    assert list(tmp_path.iterdir()) == [tmp_path / "www"]


def test_resolve_shakespeare_downloads_into_the_cache_and_checks_it(
    tmp_path: Path, server: str
) -> None:
    # The local server does not serve the real Tiny Shakespeare, so the checksum must refuse it.
    cache = tmp_path / "cache"
    with pytest.raises(CorpusError, match="sha256"):
        resolve_corpus("shakespeare.txt", data_dir=cache, url=f"{server}/input.txt")
    assert not (cache / "shakespeare.txt").exists()


def test_resolve_shakespeare_uses_the_cache_without_network(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "shakespeare.txt").write_text("cached text", encoding="utf-8")
    url = f"http://127.0.0.1:{closed_port()}/input.txt"
    assert resolve_corpus("shakespeare.txt", data_dir=cache, url=url) == cache / "shakespeare.txt"


def test_resolve_shakespeare_defaults_to_llmv0_data_dir(tmp_path: Path) -> None:
    # conftest points LLMV0_DATA_DIR at tmp_path / "data".
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "shakespeare.txt").write_text("cached", encoding="utf-8")
    assert resolve_corpus("shakespeare.txt") == tmp_path / "data" / "shakespeare.txt"


# ----- local corpus errors -----


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        resolve_corpus(str(tmp_path / "nope.txt"))


def test_folder(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="is a folder"):
        resolve_corpus(str(tmp_path))


@pytest.mark.parametrize("content", [b"", b"  \n\t\n  "])
def test_empty_or_whitespace_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match="is empty"):
        read_corpus(resolve_corpus(str(path)))


def test_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9 au lait\n".encode("latin-1"))
    with pytest.raises(CorpusError) as info:
        read_corpus(path)
    assert "not UTF-8" in str(info.value)
    assert "0xe9 at offset 3" in str(info.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_get_an_iconv_hint_for_their_own_encoding(
    tmp_path: Path, encoding: str
) -> None:
    """Hostile round 3: UTF-16 text was told to convert from latin1 (with a byte-order mark)
    or read as UTF-8 with a NUL after every letter (without one)."""
    path = tmp_path / "wide.txt"
    path.write_bytes("To be, or not to be\n".encode(encoding) * 20)
    with pytest.raises(CorpusError) as info:
        read_corpus(path)
    family = "UTF-32" if "32" in encoding else "UTF-16"
    assert f"looks like {family} text" in str(info.value)
    assert f"iconv -f {family.lower()} -t utf-8 wide.txt" in str(info.value)
    assert "latin1" not in str(info.value)


def test_utf8_text_is_read(tmp_path: Path) -> None:
    path = tmp_path / "u.txt"
    path.write_text("caf\u00e9 \u2014 na\u00efve\n", encoding="utf-8")
    assert read_corpus(path) == "caf\u00e9 \u2014 na\u00efve\n"


def test_corpus_shorter_than_seq_length() -> None:
    with pytest.raises(CorpusError) as info:
        split_tokens(torch.arange(30), val_fraction=0.1, seq_length=64)
    assert "seq_length + 1 = 65" in str(info.value)


def test_val_split_too_short() -> None:
    # 200 tokens: the training split is long enough, the 10% validation split (20) is not.
    with pytest.raises(CorpusError) as info:
        split_tokens(torch.arange(200), val_fraction=0.1, seq_length=32)
    assert "validation split (20" in str(info.value)
    split_tokens(torch.arange(200), val_fraction=0.2, seq_length=32)  # 40 is enough


# ----- split and batches -----


def test_split_is_first_90_last_10() -> None:
    tokens = torch.arange(1000)
    splits = split_tokens(tokens, val_fraction=0.1, seq_length=8)
    assert torch.equal(splits.train, tokens[:900])
    assert torch.equal(splits.val, tokens[900:])


def test_batches_are_deterministic_per_seed_and_step() -> None:
    tokens = torch.arange(5000)
    a = EpochBatches(tokens, seq_length=16, batch_size=4, seed=3)
    b = EpochBatches(tokens, seq_length=16, batch_size=4, seed=3)
    other = EpochBatches(tokens, seq_length=16, batch_size=4, seed=4)
    steps = [0, 5, 200, 77, 5, 1000, 0]  # out of order and across epochs
    for step in steps:
        xa, ya = a.batch(step)
        xb, yb = b.batch(step)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(a.batch(0)[0], other.batch(0)[0])
    # A fresh object asked for a late step first gives the same batch (resume).
    assert torch.equal(EpochBatches(tokens, 16, 4, 3).batch(1000)[0], a.batch(1000)[0])


def test_one_epoch_covers_non_overlapping_windows() -> None:
    tokens = torch.arange(1000)
    seq, batch = 10, 8
    batches = EpochBatches(tokens, seq_length=seq, batch_size=batch, seed=1)
    assert batches.windows_per_epoch == (1000 - seq) // seq
    starts = []
    for step in range(batches.steps_per_epoch):
        x, y = batches.batch(step)
        assert x.shape == (batch, seq) and y.shape == (batch, seq)
        # Targets are the inputs shifted by one (the corpus is arange, so ids are positions).
        assert torch.equal(y, x + 1)
        starts += x[:, 0].tolist()
    distinct = sorted(set(starts))
    assert len(distinct) == batches.windows_per_epoch
    offset = distinct[0]
    assert 0 <= offset < seq
    assert distinct == [offset + seq * i for i in range(batches.windows_per_epoch)]
    # The last batch is filled up from a second shuffle rather than shrunk.
    assert len(starts) == batches.steps_per_epoch * batch
    # The next epoch reshuffles.
    next_epoch = batches.batch(batches.steps_per_epoch)[0][:, 0].tolist()
    assert next_epoch != starts[:batch]


def test_batches_on_a_minimal_split() -> None:
    batches = EpochBatches(torch.arange(17), seq_length=16, batch_size=4, seed=0)
    x, y = batches.batch(0)
    assert x.shape == (4, 16)
    assert torch.equal(x[0], torch.arange(16)) and torch.equal(y[0], torch.arange(1, 17))


def test_eval_windows_cover_the_split() -> None:
    x, y = eval_windows(torch.arange(101), seq_length=10)
    assert x.shape == (10, 10)
    assert torch.equal(x.flatten(), torch.arange(100))
    assert torch.equal(y, x + 1)
    xs, _ = eval_windows(torch.arange(101), seq_length=10, max_windows=3)
    assert xs[:, 0].tolist() == [0, 40, 90]


def test_default_data_dir_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "elsewhere"))
    assert data.default_data_dir() == tmp_path / "elsewhere"
