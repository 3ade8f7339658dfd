# Kills its supervisor to escape the wall clock, then waits forever: the lab must still stop it.
import os
import signal
import time

for pid in (os.getppid(), 1):
    try:
        os.kill(pid, signal.SIGKILL)
        print(f"killed: {pid}", flush=True)
    except OSError as error:
        print(f"refused: kill {pid}: {error.strerror}", flush=True)
time.sleep(3600)
