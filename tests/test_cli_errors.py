"""The command line's argument validation, exit codes and executor choice, cheaply: each error path is taken
before any claim runs (a run that should not happen fails the test), and the executors are fakes."""

import dataclasses
import json
import os
import sys
import types
from contextlib import contextmanager

import pytest

from proofs_check import cli, engine, executors
from proofs_check.cli import build_parser, main, run_mode
from proofs_check.executors import ExecutorUnavailable, InlineExecutor

from test_cli import run  # (exit code, stdout, stderr) of main(argv), argparse's SystemExit included

CHEAP = "basics.linear.memory_accumulation"  # an identity claim: its quick grid runs in well under a second


@pytest.fixture
def no_run(monkeypatch):
    """Any claim run is a test failure: the error must come before the work."""
    def refuse(*args, **kwargs):
        raise AssertionError("the run started although the input was bad")

    monkeypatch.setattr(engine, "check_claims", refuse)


@pytest.fixture
def recorded_run(monkeypatch):
    """check_claims replaced by a recorder of where the run would go (no claim runs), and of the fork server's
    start (not started)."""
    calls = []

    def record(claims, **kwargs):
        calls.append(kwargs)
        return []

    monkeypatch.setattr(engine, "check_claims", record)
    monkeypatch.setattr(executors, "start_pool_server", lambda: calls.append("fork server"))
    return calls


# --- argument types: bounds and messages ----------------------------------------------------------

@pytest.mark.parametrize("argv, needle", [
    (("check", "--seed", "x"), "expected a non-negative integer, got 'x'"),
    (("check", "--seed", "-1"), "expected a non-negative integer, got '-1'"),
    (("check", "--jobs", "-2"), "expected a positive integer, got '-2'"),  # not "non-negative": 0 is refused too
    (("check", "--jobs", "3x"), "expected a positive integer, got '3x'"),
    (("eval", CHEAP, "--trials", "-5"), "expected a positive integer, got '-5'"),
    (("check", "--connect-timeout", "0"), "must be a positive finite number of seconds, got '0'"),
    (("check", "--connect-timeout", "-1"), "must be a positive finite number of seconds, got '-1'"),
    (("check", "--connect-timeout", "inf"), "must be a positive finite number of seconds, got 'inf'"),
    (("check", "--connect-timeout", "nan"), "must be a positive finite number of seconds, got 'nan'"),
    (("check", "--connect-timeout", "soon"), "expected a number of seconds, got 'soon'"),
    (("eval", CHEAP, "--trials", "0"), "expected a positive integer, got '0'"),
    (("calibrate", CHEAP, "--runs", "0"), "expected a positive integer, got '0'"),
    (("calibrate", CHEAP), "the following arguments are required: --runs"),
    (("report", "--out", "r", "--jobs", "0"), "expected a positive integer, got '0'"),
    (("check", "--executor", "threads"), "invalid choice: 'threads'"),
    ((), "the following arguments are required: COMMAND"),
])
def test_bad_arguments_exit_2_naming_the_constraint(capsys, no_run, argv, needle):
    """Each bound of --seed, --jobs, --connect-timeout, --trials and --runs is refused with exit 2 and a message
    naming the constraint and the value given; so are a missing command and an unknown executor."""
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert needle in err


@pytest.mark.parametrize("argv, attr, value", [
    (("check", "--seed", "0"), "seed", 0),
    (("check", "--jobs", "1"), "jobs", 1),
    (("check", "--connect-timeout", "0.5"), "connect_timeout", 0.5),
    (("eval", CHEAP, "--trials", "1"), "trials", 1),
    (("calibrate", CHEAP, "--runs", "1", "--first-seed", "0"), "first_seed", 0),
])
def test_the_smallest_valid_values_are_accepted(argv, attr, value):
    """The bounds are inclusive where the constraint is: seed 0, one job, one trial (refused later, by the
    z rule, with its own message), a fraction of a second."""
    assert getattr(build_parser().parse_args(list(argv)), attr) == value


def test_run_defaults_are_the_documented_ones():
    """check: the paper's date as root seed (README), one job, the process executor, a 10 s connect timeout."""
    args = build_parser().parse_args(["check"])
    assert (args.seed, args.jobs, args.executor, args.scheduler, args.connect_timeout) == \
        (20250526, 1, None, None, 10.0)
    assert run_mode(args) == "default"


@pytest.mark.parametrize("flag, mode", [("--quick", "quick"), ("--full", "full")])
def test_quick_and_full_select_their_grids(flag, mode):
    """--quick and --full choose the quick and full grids, for check and eval alike."""
    assert run_mode(build_parser().parse_args(["check", flag])) == mode
    assert run_mode(build_parser().parse_args(["eval", CHEAP, flag])) == mode


# --- check: output paths, selection, exit codes -------------------------------------------------------

def test_json_naming_a_directory_is_refused_before_the_run(capsys, no_run, tmp_path):
    """`--json DIR` (and `--md DIR`) is a usage error naming the option, found before any claim runs."""
    for option in ("--json", "--md"):
        code, _, err = run(capsys, "check", CHEAP, option, str(tmp_path))
        assert code == 2 and f"{option} {str(tmp_path)!r} is a directory" in err


def test_an_output_under_a_file_is_refused_naming_the_file(capsys, no_run, tmp_path):
    """`--json FILE/r.json` (and `--md`): the message says the folder is a file, not that it does not exist."""
    afile = tmp_path / "afile"
    afile.write_text("")
    for option in ("--json", "--md"):
        code, _, err = run(capsys, "check", CHEAP, option, str(afile / "r.json"))
        assert code == 2 and f"{str(afile)!r} is a file, not a folder" in err and "does not exist" not in err
    code, _, err = run(capsys, "check", CHEAP, "--json", str(tmp_path / "missing" / "r.json"))
    assert code == 2 and "does not exist" in err


def test_a_section_given_as_a_claim_id_is_pointed_to_section(capsys, no_run):
    """`amverify check capacity` names --section rather than suggesting a look-alike claim id."""
    code, _, err = run(capsys, "check", "capacity")
    assert code == 2 and "'capacity' is a section: select it with --section capacity" in err
    assert "did you mean" not in err


def test_an_unwritable_output_is_refused_before_the_run(capsys, no_run, tmp_path, monkeypatch):
    """An existing --json/--md file that cannot be written, or a folder that cannot, is exit 2 before the run
    (os.access is faked: the suite may run as root, who may write anywhere)."""
    target = tmp_path / "r.json"
    target.write_text("{}")
    real = os.access
    for denied in (str(target), str(tmp_path)):
        monkeypatch.setattr(os, "access", lambda p, mode, denied=denied: str(p) != denied and real(p, mode))
        for option in ("--json", "--md"):
            code, _, err = run(capsys, "check", CHEAP, option, str(target))
            assert code == 2 and "is not writable" in err


def test_an_empty_selection_is_a_usage_error(capsys, no_run):
    """Ids and --section that select nothing in common: exit 2, 'no claims selected', for check and derive."""
    for command in ("check", "derive"):
        code, out, err = run(capsys, command, CHEAP, "--section", "capacity")
        assert code == 2 and "no claims selected" in err and out == ""


def test_an_underpowered_claim_makes_check_exit_1(capsys, monkeypatch):
    """Exit 0 only when every claim passes: an underpowered claim is named under 'failing' and exits 1."""
    real = engine.check_claims

    def underpowered(*args, **kwargs):
        results = real(*args, **kwargs)
        assert results and all(cr.points for cr in results)
        for cr in results:
            cr.points = [dataclasses.replace(p, verdict="underpowered") for p in cr.points]
        return results

    monkeypatch.setattr(engine, "check_claims", underpowered)
    code, out, _ = run(capsys, "check", CHEAP, "--quick", "-q")
    assert code == 1
    assert f"failing: {CHEAP}" in out


def test_a_broken_pipe_ends_quietly(capsys, monkeypatch):
    """`amverify list | head`: stdout closed early is not an error (exit 0, no traceback)."""
    def closed(args):
        raise BrokenPipeError

    monkeypatch.setattr(cli, "cmd_list", closed)
    assert run(capsys, "list") == (0, "", "")


# --- eval -------------------------------------------------------------------------------------------

def test_eval_refuses_an_assignment_without_a_name(capsys, no_run):
    """'=5' names no parameter: exit 2, 'expected name=value'."""
    code, _, err = run(capsys, "eval", "capacity.linear.inverse_snr_ratio", "=5")
    assert code == 2 and "expected name=value, got '=5'" in err


def test_eval_refuses_one_trial_fewer_than_the_z_rule_needs(capsys):
    """--trials 99 is below the z rule's minimum of 100 trials: exit 2 naming the minimum."""
    code, _, err = run(capsys, "eval", "capacity.linear.inverse_snr_ratio", "--trials", "99")
    assert code == 2 and "--trials 99 is too few" in err and "at least 100 trials" in err


def test_eval_exits_1_when_the_derivation_fails(capsys, monkeypatch):
    """A point that passes does not make eval exit 0 when the claim's derivation failed."""
    monkeypatch.setattr(engine, "check_symbolic", lambda claim, **k: engine.SymbolicResult(claim.id, "failed"))
    code, out, _ = run(capsys, "eval", CHEAP, "--quick")
    assert "verdict    pass" in out and "symbolic   failed" in out
    assert code == 1


# --- other commands ---------------------------------------------------------------------------------

def test_derive_check_needs_out(capsys):
    """`derive --check` compares a directory: without --out it is exit 2 naming both options."""
    code, _, err = run(capsys, "derive", CHEAP, "--check")
    assert code == 2 and "--check needs --out DIR" in err


def test_calibrate_runs_each_seed_and_exits_1_only_when_a_run_fails(capsys, monkeypatch):
    """calibrate --runs R --first-seed S checks under seeds S .. S + R - 1; it exits 1 when any run had a
    failure and 0 when none (proofs_check.calibration is faked: only the command's logic runs)."""
    seen = []
    calibration = types.SimpleNamespace(calibrate=lambda claims, *, seeds, **kwargs: seen.append(seeds),
                                        markdown=lambda report: "# calibration\n")
    monkeypatch.setitem(sys.modules, "proofs_check.calibration", calibration)
    for failed in (1, 0):
        calibration.summarise = lambda runs, **k: {"failed_runs": failed, "controls_accepted": 0}
        code, _, err = run(capsys, "calibrate", CHEAP, "--runs", "3", "--first-seed", "4", "--quick", "-q")
        assert code == failed and "3 run(s) in" in err and f": {failed} with a failure" in err
    assert seen == [[4, 5, 6]] * 2


@pytest.fixture(scope="module")
def saved_report(tmp_path_factory):
    """A JSON report of one cheap claim, as `check --json` writes it."""
    path = tmp_path_factory.mktemp("saved") / "r.json"
    assert main(["check", CHEAP, "--quick", "-q", "--json", str(path)]) == 0
    return path


@pytest.mark.parametrize("extra", [["--quick"], ["--full"], [CHEAP], ["--section", "basics"]])
def test_report_from_json_refuses_run_options(capsys, no_run, saved_report, tmp_path, extra):
    """`report --json` reads a finished run: ids, --section, --quick or --full with it are exit 2."""
    code, _, err = run(capsys, "report", "--json", str(saved_report), "--out", str(tmp_path / "r"), *extra)
    assert code == 2 and "do not combine it with ids, --section, --quick or --full" in err


def test_report_from_invalid_json_is_a_usage_error(capsys, tmp_path):
    """A --json file that is not JSON, or is missing, is exit 2 naming the file."""
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for path in (bad, tmp_path / "missing.json"):
        code, _, err = run(capsys, "report", "--json", str(path), "--out", str(tmp_path / "r"))
        assert code == 2 and f"cannot read the JSON report {str(path)!r}" in err


def test_report_of_an_underpowered_run_exits_1(capsys, saved_report, tmp_path):
    """A report whose claim is underpowered is written, and the command exits 1 naming the claim."""
    report = json.loads(saved_report.read_text())
    report["claims"][0]["verdict"] = "underpowered"
    path = tmp_path / "under.json"
    path.write_text(json.dumps(report))
    code, out, _ = run(capsys, "report", "--json", str(path), "--out", str(tmp_path / "r"), "--no-figures")
    assert code == 1 and f"failing: {CHEAP}" in out
    assert (tmp_path / "r" / "report.json").exists()


# --- where the run goes: --jobs, --executor, --scheduler ------------------------------------------------

class _FakeDask:
    """What dask_executor was asked for, and a stand-in executor with a fixed number of slots."""

    def __init__(self, slots=5, error=None):
        self.calls, self.slots, self.error, self.executor = [], slots, error, InlineExecutor()

    @contextmanager
    def __call__(self, scheduler=None, *, workers=2, timeout=10.0):
        self.calls.append((scheduler, workers, timeout))
        if self.error:
            raise ExecutorUnavailable(self.error)
        yield self.executor, self.slots


@pytest.mark.parametrize("argv, dask_call", [
    (("--scheduler", "tcp://10.0.0.5:8786", "--jobs", "3", "--connect-timeout", "2.5"),
     ("tcp://10.0.0.5:8786", 3, 2.5)),
    (("--executor", "dask", "--jobs", "3"), (None, 3, 10.0)),
    (("--executor", "dask", "--scheduler", "tcp://h:1"), ("tcp://h:1", 1, 10.0)),
])
def test_dask_runs_go_to_the_cluster_asked_for(capsys, recorded_run, monkeypatch, argv, dask_call):
    """--scheduler (alone it implies --executor dask) is the address dask_executor connects to, within
    --connect-timeout; without it a local cluster of --jobs workers; the engine gets that cluster's executor
    and its number of slots, not --jobs."""
    fake = _FakeDask(slots=5)
    monkeypatch.setattr(executors, "dask_executor", fake)
    code, _, err = run(capsys, "check", CHEAP, "-q", *argv)
    assert code == 0, err
    assert fake.calls == [dask_call]
    assert [(c["executor"], c["jobs"]) for c in recorded_run] == [(fake.executor, 5)]  # and no fork server


@pytest.mark.parametrize("argv, jobs", [((), 3), (("--executor", "process"), 3), (("--executor", "process"), 1)])
def test_process_runs_get_jobs_and_no_executor(capsys, recorded_run, monkeypatch, argv, jobs):
    """The process executor (the default) hands --jobs to the engine, which makes its own pool; no dask. The
    pool's fork server is started early only when there will be a pool (several jobs)."""
    fake = _FakeDask()
    monkeypatch.setattr(executors, "dask_executor", fake)
    code, _, err = run(capsys, "check", CHEAP, "-q", "--jobs", str(jobs), *argv)
    assert code == 0, err
    assert fake.calls == []
    assert [c if isinstance(c, str) else (c["executor"], c["jobs"]) for c in recorded_run] == \
        ["fork server"] * (jobs > 1) + [(None, jobs)]


def test_an_unavailable_cluster_is_exit_2_with_its_reason(capsys, recorded_run, monkeypatch):
    """ExecutorUnavailable (no distributed, scheduler out of reach, no workers) is exit 2 with its message."""
    monkeypatch.setattr(executors, "dask_executor", _FakeDask(error="the dask cluster at 'tcp://h:1' has no workers"))
    code, _, err = run(capsys, "check", CHEAP, "--scheduler", "tcp://h:1")
    assert code == 2 and "amverify check: error: the dask cluster at 'tcp://h:1' has no workers" in err
    assert recorded_run == []


@pytest.mark.parametrize("address, reason", [
    ("localhost", "missing port number"),
    ("tcp://10.0.0.5:port", "invalid literal for int()"),
    ("http://10.0.0.5:8786", "unknown address scheme 'http'"),
])
def test_a_malformed_scheduler_address_is_exit_2_naming_the_form(capsys, no_run, address, reason):
    """A --scheduler that is no dask address (no port, a port that is no number, another scheme) is exit 2
    showing the expected form and dask's reason; it was a ValueError traceback with exit 1."""
    pytest.importorskip("distributed", reason="the dask executor needs the 'distributed' extra")
    code, _, err = run(capsys, "check", CHEAP, "--scheduler", address)
    assert code == 2
    assert f"--scheduler {address!r} is not a dask scheduler address such as tcp://10.0.0.5:8786" in err
    assert reason in err and "Traceback" not in err


# --- output directories of derive, docs, figures, report ---------------------------------------------

WRITERS = [("derive", CHEAP, "--out"), ("docs", "--root"), ("figures", "--out"),
           ("report", CHEAP, "--no-figures", "--out")]  # each command, then its directory option


@pytest.mark.parametrize("writer", WRITERS, ids=[w[0] for w in WRITERS])
def test_an_output_directory_that_is_a_file_is_exit_2_before_any_work(capsys, no_run, tmp_path, writer):
    """A directory option naming an existing file, or a folder below one, is exit 2 naming the option; it was
    a FileExistsError or NotADirectoryError traceback with exit 1 (derive, docs, figures)."""
    target = tmp_path / "file"
    target.write_text("")
    code, _, err = run(capsys, *writer, str(target))
    assert code == 2 and f"{writer[-1]} {str(target)!r} is an existing file; give a directory" in err
    code, _, err = run(capsys, *writer, str(target / "below"))
    assert code == 2 and f"{writer[-1]} {str(target / 'below')!r}: {str(target)!r} is not a writable folder" in err


@pytest.mark.parametrize("writer", WRITERS, ids=[w[0] for w in WRITERS])
def test_an_output_directory_in_an_unwritable_folder_is_exit_2(capsys, no_run, tmp_path, monkeypatch, writer):
    """A directory to create in a folder that cannot be written is exit 2 before any work (os.access is faked:
    the suite may run as root)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: str(p) != str(tmp_path) and real(p, mode))
    code, _, err = run(capsys, *writer, str(tmp_path / "new" / "out"))
    assert code == 2 and f"{str(tmp_path)!r} is not a writable folder" in err


def test_check_modes_refuse_a_file_where_a_directory_is_compared(capsys, tmp_path):
    """`derive --check`, `docs --check` and `findings --check` given a file for a directory (or a directory for
    the findings page) are exit 2 with one line, not a NotADirectoryError or IsADirectoryError traceback."""
    target = tmp_path / "file"
    target.write_text("")
    for argv, needle in [(("derive", CHEAP, "--check", "--out", str(target)), "is an existing file; give a directory"),
                         (("docs", "--check", "--root", str(target)), "is not one: run it in an amverify checkout"),
                         (("findings", "--check", "--out", str(target / "f.md")), "cannot read --out"),
                         (("findings", "--check", "--out", str(tmp_path)), "cannot read --out")]:
        code, _, err = run(capsys, *argv)
        assert code == 2 and needle in err and "Traceback" not in err, argv


def test_derive_check_only_reads_so_an_unwritable_folder_is_no_error(capsys, tmp_path, monkeypatch):
    """`derive --check` reads the pages in --out and writes nothing: a folder it could not write to is no usage
    error; pages missing there make it stale (exit 1)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: str(p) != str(tmp_path) and real(p, mode))
    code, out, err = run(capsys, "derive", CHEAP, "--check", "--out", str(tmp_path / "pages"))
    assert code == 1 and "is stale" in out + err and "writable" not in err
