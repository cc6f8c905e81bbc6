"""The small monitor's last stage: the full runtime, exec'd by `runtime/relay.py` once the
container's PID 1 has been reaped, tears the container down (Runtime.finish) and exits with
the command's exit code, as the Python monitor does. Same process (pid, start time) and
same record lock as the monitor it continues, so nothing else can tell the difference.
Started by relay.teardown_command."""

from __future__ import annotations

import os
from pathlib import Path

from runtime.api import Runtime
from runtime.errors import EXIT_RUNTIME


def main(argv: list[str]) -> None:
    root, cid, code_text = argv
    code = int(code_text)
    try:
        rt = Runtime(Path(root))
        c = rt.containers.load(cid)
        rt.finish(c, code)
    except BaseException as e:  # noqa: BLE001 - the monitor's rule: one line, code 125
        os.write(2, f"isobench: container monitor: {type(e).__name__}: {e}\n".encode())
        os._exit(EXIT_RUNTIME)
    os._exit(code)
