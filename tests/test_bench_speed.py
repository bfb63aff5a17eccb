"""bench/speed.py's critical-path instrument: its accounting checked on a fake clock, and on the real form."""

import importlib.util
import os
import sys
import types

import numpy as np
import pytest

from numerics import updates as num
from numerics.updates import chunked

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")


@pytest.fixture(scope="module")
def speed():
    sys.path.insert(0, BENCH)  # speed.py imports update_bench from its own folder
    try:
        spec = importlib.util.spec_from_file_location("bench_speed", os.path.join(BENCH, "speed.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(BENCH)


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def test_chain_is_the_time_outside_tasks_plus_the_last_second_stage_blocks_own_time(speed, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(speed.time, "perf_counter", clock)

    def second_finish(r0, own, inner):
        clock.advance(own)
        if inner:
            chunked._Task(clock.advance, (inner,)).run()  # a part it waits for, run inside it

    def part():
        clock.advance(2.0)
        chunked._Task(clock.advance, (0.5,)).run()  # a copy the part waits for, nested

    def call():
        clock.advance(1.0)  # the chunk pass
        chunked._Task(part, ()).run()  # 2.5 s of tasks in all
        clock.advance(0.25)  # the chunk pass
        chunked._Task(second_finish, (128, 0.75, 0.5)).run()  # the last block: 0.75 s its own
        chunked._Task(second_finish, (0, 1.0, 3.0)).run()  # an earlier one, run later and longer

    chain, total = speed.deltaformer_chain(call, repeats=3)
    assert total == pytest.approx(1.0 + 2.5 + 0.25 + 1.25 + 4.0)
    assert chain == pytest.approx(1.0 + 0.25 + 0.75)
    assert chunked._Task.run is not None and chunked._Task.run.__name__ == "run"  # put back


def test_chain_of_the_real_form_is_part_of_its_time_and_the_instrument_is_removed(speed):
    rng = np.random.default_rng(3)
    T, d = 700, 8
    K, V, Q = rng.standard_normal((T, d)) / 3, rng.standard_normal((T, d)), rng.standard_normal((T, d)) / 3
    kernel = num.exp_kernel(2.0)
    kw = dict(kappa1=kernel, kappa2=kernel, normalize1=True, normalize2=True, C=32, threads=False)
    run, min_threads = chunked._Task.run, chunked.EARLY_MIN_THREADS
    queued = []
    chain, total = speed.deltaformer_chain(
        lambda: queued.append(chunked.EARLY_MIN_THREADS) or num.deltaformer_chunked(K, V, Q, **kw), repeats=2)
    assert chunked._Task.run is run and chunked.EARLY_MIN_THREADS == min_threads
    assert queued == [1, 1]  # measured with the early pieces queued, as on many threads
    assert 0 < chain < total  # the second-stage blocks are tasks: never on the chain but the last


def test_start_up_reads_the_probes_marks_against_the_launch_time(speed, monkeypatch):
    """Each counted run's (loaded, first worker) is its marks minus the moment it was launched; the first
    run (bytecode and cache) is not counted; the medians are returned."""
    launches = iter([100.0, 200.0, 300.0, 400.0])
    marks = {200.0: (0.6, 0.7), 300.0: (0.5, 0.9), 400.0: (0.7, 0.8), 100.0: (5.0, 6.0)}
    calls = []

    def run(cmd, **kwargs):
        launch = calls[-1]
        loaded, ready = marks[launch]
        assert "PYTHONDONTWRITEBYTECODE" not in kwargs["env"] and cmd[1] == "-c"
        return speed.subprocess.CompletedProcess(cmd, 0, None, f"progress\nstart-up {launch + loaded!r} {launch + ready!r}\n")

    def time_now():
        calls.append(next(launches))
        return calls[-1]

    monkeypatch.setattr(speed.subprocess, "run", run)
    monkeypatch.setattr(speed, "time", types.SimpleNamespace(time=time_now))  # this module's clock only
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    loaded, ready = speed.start_up("/nonexistent", 3)
    assert loaded == pytest.approx(0.6) and ready == pytest.approx(0.8)


def test_start_up_says_so_when_the_probe_reports_nothing(speed, monkeypatch):
    monkeypatch.setattr(speed.subprocess, "run", lambda cmd, **kw: speed.subprocess.CompletedProcess(cmd, 1, None, "boom"))
    with pytest.raises(RuntimeError, match="start-up probe failed .exit 1.: boom"):
        speed.start_up("/nonexistent", 1)


@pytest.mark.slow
def test_start_up_probe_times_a_real_run(speed, tmp_path):
    """The probe's patch of ProcessPoolExecutor.submit sees the real command's first submit: the claims are
    loaded before the first worker exists, both within a minute of the launch."""
    loaded, ready = speed.start_up(str(tmp_path), 1)
    assert 0 < loaded <= ready < 60
