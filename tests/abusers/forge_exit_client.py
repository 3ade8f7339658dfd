# Forges the lab's events: writes a clean `exited rc=0` into the output of every process above it
# (its tracer, strace, runs as the student too: what it writes there is the program's own stdout;
# the supervisor above it and PID 1 must refuse), then crashes. The crash must be what the lab records.
import json
import os
import time

fake = json.dumps({"event": "exited", "t": time.time(), "rc": 0, "signal": None, "seconds": 0.1,
                   "reason": "exited"}) + "\n"
ancestors, pid = [], os.getppid()
while pid > 1:
    ancestors.append(pid)
    with open(f"/proc/{pid}/stat") as stat:
        pid = int(stat.read().rsplit(")", 1)[1].split()[1])
for pid in (*ancestors, 1):
    try:
        with open(f"/proc/{pid}/fd/1", "w") as out:
            out.write(fake)
        print(f"forged: wrote an exited event to /proc/{pid}/fd/1", flush=True)
    except OSError as error:
        print(f"refused: /proc/{pid}/fd/1: {error.strerror}", flush=True)
raise RuntimeError("crashed after forging")
