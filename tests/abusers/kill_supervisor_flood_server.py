# Stops its supervisor (and the container's init), then floods: the output cap must still apply.
import os
import signal
import socket

server_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server_socket.bind(('', 12000))
for pid in (os.getppid(), 1):
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(pid, sig)
            print(f"signalled: {pid} {sig.name}", flush=True)
        except OSError as error:
            print(f"refused: {sig.name} {pid}: {error.strerror}", flush=True)
while True:
    print("flood " * 100)
