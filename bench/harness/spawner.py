"""A small, long-lived process that starts each measured process and reports its rusage.

Why: a child's ``ru_maxrss`` can never be lower than its parent's RSS at fork time
(the kernel keeps the pre-exec high-water mark across exec), so forking runners
from the harness would report every peak as at least the harness' own ~80 MB.
Forked from this ~10 MB interpreter (run with ``-I -S``), peaks are the runners'.

Protocol, one JSON line each way: ``{"argv", "env", "cwd", "stdout", "stderr"}``
(paths; stdout may be a FIFO) in; ``{"pid"}`` at once, then ``{"status",
"maxrss_kb", "wall", "cpu"}`` when the child has exited.
"""

import json
import os
import sys
import time


def serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            try:
                out = os.open(request["stdout"], os.O_WRONLY)
                err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(out, 1)
                os.dup2(err, 2)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                if request.get("cwd"):
                    os.chdir(request["cwd"])
                os.execvpe(request["argv"][0], request["argv"], request["env"])
            finally:
                os._exit(127)
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        reply = {
            "status": os.waitstatus_to_exitcode(status),
            "maxrss_kb": usage.ru_maxrss,
            "wall": wall,
            "cpu": usage.ru_utime + usage.ru_stime,
        }
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
