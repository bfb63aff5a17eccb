"""Every amverify command shown in README.md and docs/ runs as written, in a scratch folder.

Which lines are commands (the convention the documentation keeps):

* a line of a fenced block tagged ``bash``, ``sh``, ``shell`` or ``console`` (in ``console`` blocks
  only the lines that start with ``$ ``), or of an indented (four-space) code block;
* split on ``&&``, each part whose program is ``amverify``, ``.venv/bin/amverify`` or
  ``python[3] -m proofs_check`` is a documented command (the install parts around it are not);
  ``# ...`` at the end of a line is a comment;
* it must exit 0, unless the line's comment says ``# exit N``;
* an HTML comment ``<!-- doc-commands: not run: REASON -->`` just before a block keeps its commands
  from running (they are still parsed);
* a fence with no tag (or ``text``) right after a block of exactly one command is that command's
  output: each line shown must be in what the command prints (runs of spaces count as one, the
  seconds column of ``check`` rows and the run's total seconds are not compared, and ``...`` in a
  shown line stands for any text).

Every command is parsed by the real argument parser in the default run. The cheap ones (list, show,
eval, derive and cite, and check or report with ``--quick`` narrowed to claims or a section) run in
the default suite; whole-ledger runs (default or full grids, or everything at ``--quick``) and
``docs`` run in the ``slow`` tier; ``calibrate`` (tens of minutes) is parsed only.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from proofs_check.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
SHELL_TAGS = {"bash", "sh", "shell", "console"}
OUTPUT_TAGS = {"", "text"}
PROGRAMS = (("amverify",), (".venv/bin/amverify",), ("python", "-m", "proofs_check"),
            ("python3", "-m", "proofs_check"))
NOT_RUN = re.compile(r"^\s*<!--\s*doc-commands:\s*not run:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^```\s*([\w-]*)\s*$")


@dataclass(frozen=True)
class DocCommand:
    page: str
    line: int
    args: tuple[str, ...]  # after the program
    exit_code: int = 0
    not_run: str = ""  # the reason, when the page says not to run it
    output: tuple[str, ...] = ()  # the output the page shows for it

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}:amverify {' '.join(self.args)}"


def _commands_in(line: str) -> list[tuple[tuple[str, ...], int]]:
    """The amverify commands of one shell line, each with its documented exit code."""
    expected = re.search(r"#\s*exit\s+(\d+)", line)
    out = []
    for part in line.split("&&"):
        if not part.strip().startswith(tuple(" ".join(p) for p in PROGRAMS)):
            continue
        words = shlex.split(part, comments=True)
        for program in PROGRAMS:
            if tuple(words[:len(program)]) == program:
                out.append((tuple(words[len(program):]), int(expected.group(1)) if expected else 0))
    return out


def _blocks(text: str):
    """``(tag, first line number, lines, not-run reason, heading before)`` of every code block.

    ``heading before`` says whether a heading stands between the block and the previous one.
    """
    lines = text.splitlines()
    i, blank_before, reason, heading = 0, True, "", False
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence:
            start, tag = i + 1, fence.group(1).lower()
            j = start
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            yield tag, start + 1, lines[start:j], reason, heading
            i, blank_before, reason, heading = j + 1, False, "", False
            continue
        if blank_before and lines[i].startswith("    ") and lines[i].strip():
            start = i
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                i += 1
            yield "indented", start + 1, [ln[4:] for ln in lines[start:i]], reason, heading
            blank_before, reason, heading = True, "", False
            continue
        marker = NOT_RUN.search(lines[i])
        if marker:
            reason = marker.group(1)
        elif lines[i].strip():
            reason = ""
        heading = heading or lines[i].startswith("#")
        blank_before = not lines[i].strip() or bool(marker)
        i += 1


def documented_commands() -> list[DocCommand]:
    found = []
    for page in PAGES:
        rel = str(page.relative_to(ROOT))
        pending: list[DocCommand] = []  # the last block's commands, waiting for an output block
        for tag, first, lines, reason, heading in _blocks(page.read_text(encoding="utf-8")):
            if tag in OUTPUT_TAGS and len(pending) == 1 and not heading:
                pending[0] = DocCommand(**{**pending[0].__dict__, "output": tuple(lines)})
            found += pending
            pending = []
            if tag not in SHELL_TAGS | {"indented"}:
                continue
            for k, line in enumerate(lines):
                if tag == "console":
                    if not line.startswith("$ "):
                        continue
                    line = line[2:]
                for args, code in _commands_in(line):
                    pending.append(DocCommand(rel, first + k, args, code, reason))
        found += pending
    return found


COMMANDS = documented_commands()


def is_cheap(cmd: DocCommand) -> bool:
    """Seconds, not minutes: no whole-ledger run at default or full grids, no calibration."""
    args = cmd.args
    sub = next((a for a in args if not a.startswith("-")), "")
    if "--help" in args or "-h" in args or "--version" in args or sub in ("list", "show", "eval", "cite"):
        return True
    ids = any(a.count(".") == 2 and not a.startswith("-") for a in args)
    if sub == "derive":
        return ids or "--section" in args  # not all 76 derivations
    if sub in ("check", "report") and "--full" not in args:
        return ids or ("--quick" in args and "--section" in args)  # a few claims, or a section's quick grids
    return False


def is_runnable(cmd: DocCommand) -> bool:
    sub = next((a for a in cmd.args if not a.startswith("-")), "")
    return not cmd.not_run and sub != "calibrate"


def _normal(line: str) -> str:
    line = " ".join(line.split())
    if line.split(" ", 1)[0].count(".") == 2 or re.match(r"\d+ claim\(s\)", line):
        line = re.sub(r"[ ;]+\d+(\.\d+)?s?$", "", line)  # a check row's seconds, the run's total
    return line


def _shown_in(shown: str, printed: list[str]) -> bool:
    pieces = [p.strip() for p in _normal(shown).split("...")]
    for line in printed:
        at = 0
        for p in pieces:
            at = line.find(p, at)
            if at < 0:
                break
            at += len(p)
        else:
            return True
    return False


def run_documented(cmd: DocCommand, scratch: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "proofs_check", *cmd.args], cwd=scratch, capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == cmd.exit_code, (
        f"{cmd.id} exited {done.returncode}, documented {cmd.exit_code}\n{done.stderr[-3000:]}")
    printed = [_normal(line) for line in done.stdout.splitlines()]
    missing = [s for s in cmd.output if s.strip() and not _shown_in(s, printed)]
    assert not missing, f"{cmd.id}: shown output not printed by the command:\n" + "\n".join(missing) + (
        "\n--- printed:\n" + done.stdout[-3000:])


# Documented commands known to fail as written, each with the reason and the issue that fixes it. They
# stay in the runner (expected to fail, not strictly), so they pass again as soon as the fix lands.
KNOWN_BROKEN: dict = {}  # none at present


def _marks(cmd: DocCommand):
    """What a command needs beyond the test extra (matplotlib for report's figures), and known failures."""
    marks = []
    if cmd.args and cmd.args[0] == "report" and "--no-figures" not in cmd.args:
        marks.append(pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                        reason="report draws figures with the plot extra (matplotlib)"))
    reason = KNOWN_BROKEN.get((cmd.page, cmd.args))
    if reason:
        marks.append(pytest.mark.xfail(reason=reason, strict=False))
    return marks


def _params(cmds):
    return [pytest.param(c, id=c.id, marks=_marks(c)) for c in cmds]


@pytest.fixture(scope="module")
def page_folder(tmp_path_factory):
    """One scratch folder per page: a page's commands run in order there, as a reader types them."""
    folders = {}

    def get(page: str) -> Path:
        if page not in folders:
            folders[page] = tmp_path_factory.mktemp(re.sub(r"\W+", "-", page))
        return folders[page]
    return get


def test_documentation_shows_commands():
    """The extraction finds the documentation's commands (the README's and the tutorial's among them)."""
    pages = {c.page for c in COMMANDS}
    assert {"README.md", "docs/tutorial.md", "docs/how-to/evaluate-at-your-parameters.md"} <= pages
    assert any(c.output for c in COMMANDS), "no sample output was paired with its command"
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("cmd", COMMANDS, ids=[c.id for c in COMMANDS])
def test_documented_command_parses(cmd):
    """Every documented command is accepted by the command line's parser as written."""
    try:
        args = build_parser().parse_args(list(cmd.args))
    except SystemExit as exc:
        assert exc.code == 0 and ("--help" in cmd.args or "--version" in cmd.args), f"{cmd.id} does not parse"
        return
    assert callable(args.func), cmd.id


CHEAP = [c for c in COMMANDS if is_runnable(c) and is_cheap(c)]
EXPENSIVE = [c for c in COMMANDS if is_runnable(c) and not is_cheap(c)]


def _run_page(cmds, page: str, folder: Path) -> None:
    """A page's commands in order in one scratch folder, as a reader types them (a later command may read
    what an earlier one wrote, so one test per page: parallel workers never split a page)."""
    for cmd in (c for c in cmds if c.page == page):
        if cmd.args and cmd.args[0] == "report" and "--no-figures" not in cmd.args \
                and importlib.util.find_spec("matplotlib") is None:
            continue  # report draws figures with the plot extra (matplotlib)
        if ("--scheduler" in cmd.args or "dask" in cmd.args) and importlib.util.find_spec("distributed") is None:
            continue  # the dask executor needs the distributed extra (.ci/run's last step installs it)
        reason = KNOWN_BROKEN.get((cmd.page, cmd.args))
        if reason:
            continue
        run_documented(cmd, folder)


@pytest.mark.parametrize("page", sorted({c.page for c in CHEAP}))
def test_cheap_documented_commands_run(page, tmp_path):
    """Each cheap documented command runs in a scratch folder with the documented exit code and output."""
    _run_page(CHEAP, page, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted({c.page for c in EXPENSIVE}))
def test_expensive_documented_commands_run(page, tmp_path):
    """Each whole-ledger documented command runs as written with the documented exit code and output."""
    _run_page(EXPENSIVE, page, tmp_path)


def test_extraction_follows_the_convention():
    """Commands, exit codes, not-run markers and shown outputs are read as the module docstring says."""
    page = "\n".join([
        "Intro", "", "    amverify list --section ffn", "",
        "```bash", "pip install -e . && .venv/bin/amverify check --quick   # exit 1", "```", "",
        "<!-- doc-commands: not run: needs a registered claim -->", "```console",
        "$ python -m proofs_check show x.y.z", "output line", "```", "",
        "```bash", "amverify cite", "```", "", "```", "@misc{shown}", "```",
        "## Heading", "```bash", "amverify list", "```", "# Next", "```", "not its output", "```",
    ])
    blocks = list(_blocks(page))
    assert [b[0] for b in blocks] == ["indented", "bash", "console", "bash", "", "bash", ""]
    assert _commands_in("pip install -e . && .venv/bin/amverify check --quick   # exit 1") == [
        (("check", "--quick"), 1)]
    assert blocks[2][3] == "needs a registered claim" and blocks[3][3] == ""
    assert blocks[6][4] and not blocks[4][4]  # a heading separates a command from a later fence


def test_shown_output_must_be_printed():
    """A shown line passes only when printed (spaces, a check row's seconds and '...' aside)."""
    printed = [_normal("capacity.a.b  N=16 d_k=4   2.5    2.5015 ± 0.0039  0.378  1.7%  pass  1.25"),
               _normal("1 claim(s), mode default, seed 1: 1 pass; negative controls rejected 12/12; 7.8s"),
               _normal("  control    N_not_N_minus_1 [near miss]: n/a (applies only where N for N - 1 is small)")]
    assert _shown_in("capacity.a.b N=16 d_k=4 2.5 2.5015 ± 0.0039 0.378 1.7% pass 0.02", printed)
    assert not _shown_in("capacity.a.b N=16 d_k=4 2.5 2.5016 ± 0.0039 0.378 1.7% pass 0.02", printed)
    assert _shown_in("1 claim(s), mode default, seed 1: 1 pass; negative controls rejected 12/12; 0.2s", printed)
    assert _shown_in("control N_not_N_minus_1 [near miss]: n/a (applies only where ... small)", printed)
    assert not _shown_in("control N_not_N_minus_1 [near miss]: rejected (...)", printed)
