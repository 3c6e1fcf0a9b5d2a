"""Special files and hostile names as inputs: refused at once with a clear message, never a
hang, never a read without a limit, never a path outside the runs folder."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch

from engine.config.fields import ConfigError
from engine.config.schema import load_config
from engine.run import checkpoint as ckpt
from engine.run.checkpoint import CheckpointError
from engine.run.folder import RunNotFoundError, existing_run, folder_for_id
from engine.run.ids import RunIdError, check_run_id
from engine.safe_files import read_bytes_limited, special_file_problem

pytestmark = pytest.mark.timeout(30)  # a hang fails the test instead of the suite


@pytest.fixture
def specials(tmp_path: Path):
    """A FIFO (no writer), a character device, a socket and a folder."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    yield {"fifo": fifo, "device": Path("/dev/zero"), "socket": sock_path, "folder": tmp_path}
    server.close()


def test_special_files_are_named_as_such(specials) -> None:
    words = {"fifo": "named pipe", "device": "character device", "socket": "socket",
             "folder": "folder"}  # fmt: skip
    for kind, path in specials.items():
        problem = special_file_problem(path)
        assert problem and words[kind] in problem, (kind, problem)
        with pytest.raises(ValueError, match=words[kind]):
            read_bytes_limited(path, 100)


def test_special_files_as_config_are_refused(specials) -> None:
    for path in specials.values():
        with pytest.raises(ConfigError, match="not a regular file"):
            load_config(path)


def test_a_config_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (2 * 1024 * 1024) + b"{}")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(big)


def test_special_files_as_checkpoint_are_refused(specials) -> None:
    for kind in ("fifo", "device", "socket"):
        with pytest.raises(CheckpointError, match="not a regular file"):
            ckpt.load_checkpoint(specials[kind])
        with pytest.raises(RunNotFoundError, match="not a regular file"):
            existing_run(str(specials[kind]), specials["folder"])


def test_a_refused_pickle_never_invites_weights_only_false(tmp_path: Path) -> None:
    path = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(path)
    message = str(info.value)
    assert "weights_only" not in message
    assert "arbitrary code" in message and "never loads" in message


@pytest.mark.parametrize(
    "run_id", ["../escape", "a/../../b", "/etc", "..", ".", "", "x\x00y", "-rf", "a\\b"]
)
def test_run_ids_cannot_leave_the_runs_folder(run_id: str, tmp_path: Path) -> None:
    with pytest.raises(RunIdError):
        check_run_id(run_id)
    runs = tmp_path / "runs"
    runs.mkdir()
    if not Path(run_id).is_dir():  # an existing folder given as a path is the user's choice
        with pytest.raises(RunIdError):
            folder_for_id(run_id, runs)
        with pytest.raises(RunIdError):
            existing_run(run_id, runs)


def test_a_trainer_refuses_a_run_id_outside_the_runs_folder(tmp_path: Path, make_config) -> None:
    from engine.train.trainer import Trainer

    with pytest.raises(RunIdError):
        Trainer(make_config(), runs_dir=tmp_path / "runs", run_id="../outside")
    assert not (tmp_path / "outside").exists()


def test_special_files_as_corpus_are_refused(specials) -> None:
    from engine.text.corpus import CorpusError, read_corpus, resolve_corpus

    for kind in ("fifo", "device", "socket"):
        with pytest.raises(CorpusError, match="not a regular file"):
            resolve_corpus(str(specials[kind]))
        with pytest.raises(CorpusError, match="not a regular file"):
            read_corpus(specials[kind])


def test_a_full_disk_in_torch_zip_writer_says_so_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch.save reports a short write as RuntimeError("... unexpected pos ..."): that is a
    full disk, said as such, and the half-written temp file is gone."""
    import shutil
    from collections import namedtuple

    def short_write(obj: object, fh, *args: object, **kwargs: object) -> None:
        fh.write(b"PK partial")
        raise RuntimeError(
            "[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing "
            "file data/0: unexpected pos 64 vs 0"
        )

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(torch, "save", short_write)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 0))
    (tmp_path / "latest.pt").write_bytes(b"previous")
    with pytest.raises(OSError) as info:
        ckpt.atomic_torch_save({"w": 1}, tmp_path / "latest.pt")
    assert info.value.errno == 28  # ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pt"]
    assert (tmp_path / "latest.pt").read_bytes() == b"previous"
    from engine.train.setup import failure_message

    message = failure_message(info.value, tmp_path, "r")
    assert message.startswith("The disk is full") and "--resume r" in message
