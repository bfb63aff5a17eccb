"""bench/doc_timings.py's CPU accounting: the CPU time of a command counts what its orphaned descendants spend.

A `--jobs` run's workers are children of its fork server, which outlives the command; the script adopts such
orphans (Linux's child subreaper) and reaps them. Checked in a fresh interpreter, since adopting orphans would
change how the test process itself reaps."""

import os
import subprocess
import sys
import textwrap

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")

# a command that leaves a grandchild behind: it forks, the child forks a worker that burns about 0.4 s of CPU
# after both of its ancestors have exited, as a fork server's worker may
ORPHANING = textwrap.dedent("""
    import os, time
    if os.fork() == 0:
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)  # let go of the command's stdout, so the command is over when its parent exits
            time.sleep(0.5)
            end = time.process_time() + 0.4
            while time.process_time() < end:
                pass
        os._exit(0)
    os.wait()
""")

PROBE = textwrap.dedent("""
    import sys
    sys.path.insert(0, {bench!r})
    import doc_timings
    adopted = {adopt} and doc_timings._adopt_orphans()
    seconds, cpu, code, _ = doc_timings.run([sys.executable, "-c", {command!r}], ".")
    print(adopted, seconds, cpu, code)
""")


def _measure(adopt: bool):
    probe = PROBE.format(bench=BENCH, adopt=adopt, command=ORPHANING)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    adopted, seconds, cpu, code = out.stdout.split()
    return adopted == "True", float(seconds), float(cpu), int(code)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_CHILD_SUBREAPER is Linux's")
def test_cpu_time_counts_the_orphans_a_command_leaves():
    adopted, seconds, cpu, code = _measure(adopt=True)
    assert adopted and code == 0
    assert seconds < 0.55 and cpu > 0.35  # the command ends before its orphan starts; the orphan's 0.4 s counts
    _, _, cpu_without, _ = _measure(adopt=False)
    assert cpu_without < 0.2  # without adopting, the orphan's time is lost (what the page used to show)
