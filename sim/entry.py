"""The ``continuum`` command's entry point: Ctrl-C is answered from the first moment.

The command line imports pandas, SciPy and the model (a second or two). Nothing has been
written while they load, so a Ctrl-C or SIGTERM then ends the process at once with one line;
an exception raised there would land inside a library's import, which may print it or even
swallow it. Once loaded, the command line handles both itself (cleaning up what it started).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

INTERRUPTED, TERMINATED = 130, 143  # as in sim.cli, which is not loaded yet
STOPPED = {signal.SIGINT: ("interrupted", INTERRUPTED), signal.SIGTERM: ("terminated", TERMINATED)}


def main() -> None:
    """Load the command line and run it, exiting 130 or 143 with one line when stopped."""
    previous = {number: signal.signal(number, _stopped_while_loading) for number in STOPPED}
    from .cli import main as command_line

    for number, handler in previous.items():
        signal.signal(number, handler)
    try:
        command_line()
    except SystemExit as done:
        if done.code in (INTERRUPTED, TERMINATED):
            _end(done.code)
        raise


def _stopped_while_loading(number: int, frame: Any) -> None:
    how, status = STOPPED[signal.Signals(number)]
    print(f"{how}: nothing was written", file=sys.stderr)
    _end(status)


def _end(status: int) -> None:
    """Exit at once with ``status``, the clean-up done: a Ctrl-C that landed inside an extension
    module's own Python code (SciPy's, while importing) marks the interpreter, which would
    otherwise end by SIGINT at exit whatever status the command chose."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
