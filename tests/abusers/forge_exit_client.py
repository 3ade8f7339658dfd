# Forges the lab's events: writes a clean `exited rc=0` into its supervisor's output (and into the
# container's log, PID 1's stdout), then crashes. The crash must be what the lab records.
import json
import os
import time

fake = json.dumps({"event": "exited", "t": time.time(), "rc": 0, "signal": None, "seconds": 0.1,
                   "reason": "exited"}) + "\n"
for pid in (os.getppid(), 1):
    try:
        with open(f"/proc/{pid}/fd/1", "w") as out:
            out.write(fake)
        print(f"forged: wrote an exited event to /proc/{pid}/fd/1", flush=True)
    except OSError as error:
        print(f"refused: /proc/{pid}/fd/1: {error.strerror}", flush=True)
raise RuntimeError("crashed after forging")
