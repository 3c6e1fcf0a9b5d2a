"""A stop before the first step (issue 28, item 5): the phases that prepare a run work in
chunks, poll the stop between them and give up with Cancelled, keeping nothing; chunked
work gives the same results as the one-call work it replaced."""

from __future__ import annotations

import itertools
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from engine.control import Cancelled, Control
from engine.events import RunFinished, RunNotice, RunStarted
from engine.text.bpe import PRETOKEN_PATTERN, train_bpe
from engine.text.chunks import pretoken_bounds, pretokens_in_chunks
from engine.text.corpus import download_corpus, encode_corpus
from engine.text.tokenizer import CharTokenizer, UnknownCharactersError
from engine.train.phases import Phases
from engine.train.trainer import Trainer

TRICKY = (
    "It's 10:30 -- don't  stop!\n\n  Well,  well ;;  __init__ 42x\tÄpfel  über\r\n"
    "  \n mixed: 'll 've 're  end.   \t"
) * 40


class StopAfter:
    """A check that raises once it has been called ``n`` times."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls >= self.n:
            raise Cancelled("testing")


@pytest.mark.parametrize("size", [1, 7, 64, 1 << 18])
def test_pretoken_chunks_split_exactly_as_the_whole_text(size: int) -> None:
    pattern = re.compile(PRETOKEN_PATTERN)
    pieces = [w for words in pretokens_in_chunks(pattern, TRICKY, size) for w in words]
    assert pieces == pattern.findall(TRICKY)
    bounds = list(pretoken_bounds(TRICKY, size))
    assert bounds[0][0] == 0 and bounds[-1][1] == len(TRICKY)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))


def one_chunk_and_many(monkeypatch: pytest.MonkeyPatch, work):
    """``work()`` with the whole text in one chunk (one call, as before chunking) and in
    chunks of 7 characters."""
    monkeypatch.setattr("engine.text.chunks.CHUNK_CHARS", 10**9)
    whole = work()
    monkeypatch.setattr("engine.text.chunks.CHUNK_CHARS", 7)
    return whole, work()


def test_chunked_encoding_gives_the_same_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    char, bpe = CharTokenizer.from_text(TRICKY), train_bpe(TRICKY, 300)
    for tokenizer in (char, bpe):
        whole, chunked = one_chunk_and_many(
            monkeypatch, lambda t=tokenizer: encode_corpus(t, TRICKY).tolist()
        )
        assert whole == chunked == tokenizer.encode(TRICKY)
    assert len(list(char.encode_chunks(TRICKY))) > 1 and len(list(bpe.encode_chunks(TRICKY))) > 1


def test_chunked_bpe_training_learns_the_same_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    whole, chunked = one_chunk_and_many(monkeypatch, lambda: train_bpe(TRICKY, 320).merges)
    assert len(whole) > 50 and chunked == whole
    chars = one_chunk_and_many(monkeypatch, lambda: CharTokenizer.from_text(TRICKY).chars)
    assert chars[0] == chars[1] == sorted(set(TRICKY))


def test_each_phase_gives_up_at_its_check(tmp_path: Path) -> None:
    big = TRICKY * 200  # several chunks of 2**18 characters
    char = CharTokenizer.from_text(big)
    for work in (
        lambda check: encode_corpus(char, big, check),
        lambda check: CharTokenizer.from_text(big * 2, check),
        lambda check: train_bpe(big, 400, check=check),
    ):
        check = StopAfter(2)
        with pytest.raises(Cancelled):
            work(check)
        assert check.calls == 2


def test_an_unknown_character_of_a_restored_vocabulary_is_named() -> None:
    with pytest.raises(UnknownCharactersError) as caught:
        encode_corpus(CharTokenizer("abc "), "abc cab xyz")
    assert caught.value.chars == ["x", "y", "z"]


@pytest.fixture
def stalled_url() -> Iterator[str]:
    """A server that sends the headers and a first chunk of a 1 MB body, then nothing: a
    stalled network, where each read blocks for the whole socket timeout."""
    release = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000)
            release.wait(60)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/input.txt"
    finally:
        release.set()
        listener.close()
        thread.join(5)


def test_a_stopped_download_keeps_nothing(tmp_path: Path, stalled_url: str) -> None:
    cache = tmp_path / "cache"
    stop = StopAfter(3)  # the third check, about 0.2 s in
    began = time.monotonic()
    with pytest.raises(Cancelled):
        download_corpus(cache / "corpus.txt", stalled_url, sha256=None, timeout=30, check=stop)
    assert time.monotonic() - began < 10  # not the 30 s the stalled read would block
    assert list(cache.iterdir()) == []  # neither the corpus nor a .part file


def test_phases_are_named_only_when_slow_and_stop_at_once() -> None:
    said: list[str] = []
    stop = [False]
    phases = Phases(said.append, lambda: stop[0], announce_after_s=0.2)
    phases.begin("listing the characters of a.txt (1.0 MB)")
    phases.begin("encoding a.txt (1.0 MB)")  # the first ended before it was named
    time.sleep(0.05)
    assert said == []
    deadline = time.monotonic() + 10
    while not said and time.monotonic() < deadline:  # one long call: the timer names it
        time.sleep(0.01)
    assert said == ["encoding a.txt (1.0 MB)..."]
    phases.end()
    check = phases.begin("reading b.txt (99.0 MB)")
    phases.end()
    time.sleep(0.4)
    assert said == ["encoding a.txt (1.0 MB)..."]  # ended in time: never named
    stop[0] = True
    with pytest.raises(Cancelled) as caught:
        check()
    assert caught.value.phase == "reading b.txt (99.0 MB)"
    with pytest.raises(Cancelled):  # a stop asked before a phase ends it as it begins
        phases.begin("building the model")


def test_a_stop_before_the_first_step_keeps_no_run_folder(make_config, runs_dir, recorder) -> None:
    # The dashboard's stop (and the CLI's signal handlers) call Control.stop; with no step
    # boundary yet, the first phase gives up.
    control = Control()
    control.stop()
    trainer = Trainer(make_config(), runs_dir=runs_dir, run_id="never")
    result = trainer.run(recorder, control)
    assert isinstance(result, RunFinished) and result.reason == "stopped" and result.step == 0
    assert trainer.cancelled is not None and trainer.error is None
    assert not recorder.of(RunStarted)
    [notice] = recorder.of(RunNotice)
    assert notice.kind == "stopped" and "nothing was saved" in notice.message
    assert not (runs_dir / "never").exists()


def test_a_run_still_trains_on_chunked_tokens(make_config, runs_dir, recorder) -> None:
    cfg = make_config(max_steps=2)
    result = Trainer(cfg, runs_dir=runs_dir, run_id="ok").run(recorder, Control())
    assert isinstance(result, RunFinished) and result.reason == "completed"
    [started] = recorder.of(RunStarted)
    text = Path(cfg.data_file).read_text(encoding="utf-8")
    assert started.train_tokens + started.val_tokens == len(text)
    assert torch.equal(
        encode_corpus(CharTokenizer.from_text(text), text),
        torch.tensor(CharTokenizer.from_text(text).encode(text)),
    )
