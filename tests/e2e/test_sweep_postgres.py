"""Two sweep worker processes against one study on a real PostgreSQL server.

The test starts its own server (initdb into a temp folder, postgres on 127.0.0.1 on a free
port, as the unprivileged ``postgres`` user when run as root) and stops it afterwards. The
storage URL is the README's own (a plain ``postgresql://``, as users type it; only the port
changes), so it works with what ``pip install -e ".[postgres]"`` installs. The study's trials
add up to n_trials with n_trials distinct settings, each trial's run folder trains exactly
once, both workers took part, and Optuna and optuna-dashboard read the study back. Skipped
only when the PostgreSQL binaries are absent (.ci/run installs them).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from engine.events import RunStarted
from engine.experiments.sweep import load_study, results
from engine.run.log import read_events

ROOT = Path(__file__).resolve().parents[2]


def readme_storage_url(port: int) -> str:
    """The README's PostgreSQL storage URL, exactly as written there, on the test's port."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (url,) = re.findall(r"--storage (postgresql\S*)", readme)
    assert url.startswith("postgresql://"), "the URL users type: no +driver"
    assert ":5432/" in url, "the README names PostgreSQL's default port"
    return url.replace(":5432/", f":{port}/")


def pg_bin(name: str) -> str | None:
    """A PostgreSQL server binary from PATH or Debian's versioned folder."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def postgres() -> Iterator[str]:
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        if os.environ.get("LLMV0_REQUIRE_POSTGRES"):  # set by .ci/run: CI must have them
            pytest.fail("PostgreSQL server binaries are missing; .ci/run installs them")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    # Not under pytest's tmp_path: its parents are private to root, and the server runs
    # as the postgres user, who must reach its data folder.
    top = Path(tempfile.mkdtemp(prefix="llmv0-pg-"))
    top.chmod(0o755)
    data = top / "pgdata"
    data.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(data, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {data} -F"
    log = data / "server.log"
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield readme_storage_url(port)
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(top, ignore_errors=True)


def test_two_workers_share_one_study_on_postgres(
    postgres: str, make_config: Callable[..., Any], runs_dir: Path, tmp_path: Path
) -> None:
    fixed = make_config(max_steps=30, eval_interval=15).model_dump()
    space = {
        "name": "pg",
        "method": "random",
        "n_trials": 6,
        "set": fixed,
        "fields": {
            "learning_rate": {"low": 1e-3, "high": 3e-2, "log": True},
            "hidden_dim": [16, 32],
        },
        "pruner": {"kind": "none"},
    }
    space_file = tmp_path / "space.json"
    space_file.write_text(json.dumps(space))
    runs_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        *[sys.executable, "-m", "tui.cli.main", "sweep", str(space_file)],
        *["--storage", postgres, "--runs-dir", str(runs_dir), "--quiet"],
    ]
    # The study is created first, so the two workers only ever load it.
    from engine.experiments.sweep import open_study
    from engine.experiments.sweep_space import load_space

    open_study(load_space(space_file), postgres)
    workers = [subprocess.Popen(command, env=env, stderr=subprocess.PIPE) for _ in range(2)]
    for worker in workers:
        _, stderr = worker.communicate(timeout=240)
        assert worker.returncode == 0, stderr.decode()

    study = load_study("pg", postgres)
    rows = results(study)
    assert [r.state for r in rows] == ["complete"] * 6
    assert sorted(r.number for r in rows) == list(range(len(rows)))
    # Distinct settings, not just distinct trial numbers: both workers' samplers once drew
    # the same sequence, so trials 0 and 1 (and 2 and 3) trained the same settings.
    assert len({json.dumps(r.params, sort_keys=True) for r in rows}) == 6, [r.params for r in rows]
    run_ids = [r.run_id for r in rows]
    assert len(set(run_ids)) == 6
    for run_id in run_ids:  # none ran twice: one fresh start in each run folder
        starts = [
            e for e in read_events(runs_dir / run_id / "events.jsonl") if isinstance(e, RunStarted)
        ]
        assert len(starts) == 1
    pids = {t.user_attrs["pid"] for t in study.trials if "run_id" in t.user_attrs}
    assert len(pids) == 2, "both workers ran trials"
    assert_others_read_the_study(postgres, {r.number: r.params for r in rows})


def assert_others_read_the_study(url: str, params: dict[int, dict[str, Any]]) -> None:
    """Optuna's own load_study and optuna-dashboard's API (in-process, through its WSGI app)
    read the sweep from the same plain URL."""
    import optuna
    from optuna_dashboard import wsgi

    loaded = optuna.load_study(study_name="pg", storage=url)
    assert {t.number: t.params for t in loaded.trials if not t.user_attrs.get("surplus")} == params

    app = wsgi(url)

    def get(path: str) -> Any:
        environ: dict[str, Any] = {}
        setup_testing_defaults(environ)
        environ["PATH_INFO"] = path
        status: list[str] = []
        body = b"".join(app(environ, lambda s, headers, *exc: status.append(s)))
        assert status[0].startswith("200"), (status, body[:200])
        return json.loads(body)

    (summary,) = [s for s in get("/api/studies")["study_summaries"] if s["study_name"] == "pg"]
    detail = get(f"/api/studies/{summary['study_id']}")
    shown = {
        t["number"]: {p["name"]: p["param_internal_value"] for p in t["params"]}
        for t in detail["trials"]
        if t["state"] == "Complete"
    }
    assert shown.keys() == params.keys()
    for number, values in params.items():  # hidden_dim is a choice: its index internally
        assert shown[number]["learning_rate"] == values["learning_rate"]
