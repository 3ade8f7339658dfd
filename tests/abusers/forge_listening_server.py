# Forges the lab's events: tells the lab's log that it listens on port 12000 (through its
# supervisor's stdout and PID 1's), then crashes without ever creating a socket.
import json
import os
import time

fake = json.dumps({"event": "listening", "t": time.time(), "proto": "udp", "port": 12000}) + "\n"
for pid in (os.getppid(), 1):
    try:
        with open(f"/proc/{pid}/fd/1", "w") as out:
            out.write(fake)
        print(f"forged: wrote a listening event to /proc/{pid}/fd/1", flush=True)
    except OSError as error:
        print(f"refused: /proc/{pid}/fd/1: {error.strerror}", flush=True)
time.sleep(1)
raise RuntimeError("crashed after forging")
