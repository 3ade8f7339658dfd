# Stops every process above it (its tracer strace, its supervisor, the container's init), then
# floods: the output cap must still apply.
import os
import signal
import socket

server_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server_socket.bind(('', 12000))
ancestors, pid = [], os.getppid()
while pid > 1:
    ancestors.append(pid)
    with open(f"/proc/{pid}/stat") as stat:
        pid = int(stat.read().rsplit(")", 1)[1].split()[1])
names = {}
for pid in (*ancestors, 1):   # read first: once its tracer is dead, its close() fails (ENOSYS)
    with open(f"/proc/{pid}/comm") as comm:
        names[pid] = comm.read().strip()
for pid, name in names.items():
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(pid, sig)
            print(f"signalled: {pid} ({name}) {sig.name}", flush=True)
        except OSError as error:
            print(f"refused: {sig.name} {pid} ({name}): {error.strerror}", flush=True)
while True:
    print("flood " * 100)
