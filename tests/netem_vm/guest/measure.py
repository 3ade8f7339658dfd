"""UDP echo probe, run inside the VM (python3 stdlib only).

    measure.py serve ADDR PORT
        echo every datagram back to its sender; prints READY once bound.
    measure.py client ADDR PORT COUNT INTERVAL_MS DRAIN_S [PAYLOAD]
        send COUNT datagrams of PAYLOAD bytes (default 64: sequence number + send time, then
        zeros), one every INTERVAL_MS, keep listening DRAIN_S after the last, print one JSON
        line: sent, received, duplicates, RTT figures and every RTT (sorted), in milliseconds.
"""
from __future__ import annotations

import json
import socket
import statistics
import struct
import sys
import threading
import time

_PAYLOAD = struct.Struct("!IQ")
_PAD = 64


def serve(addr: str, port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, port))
    print("READY", flush=True)
    while True:
        data, peer = sock.recvfrom(65535)
        sock.sendto(data, peer)


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks; `q` in [0, 100]."""
    if not sorted_values:
        return float("nan")
    pos = (len(sorted_values) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def client(addr: str, port: int, count: int, interval_ms: float, drain_s: float,
           payload: int = _PAD) -> dict:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((addr, port))
    sock.settimeout(0.2)
    rtts: dict[int, float] = {}
    duplicates = 0
    stop = threading.Event()

    def receive() -> None:
        nonlocal duplicates
        while not stop.is_set():
            try:
                data = sock.recv(65535)
            except TimeoutError:
                continue
            now = time.monotonic_ns()
            seq, sent_ns = _PAYLOAD.unpack_from(data)
            if seq in rtts:
                duplicates += 1
            else:
                rtts[seq] = (now - sent_ns) / 1e6

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    start = time.monotonic()
    for seq in range(count):
        # Paced against the start time, so a late send does not shift all later ones.
        delay = start + seq * interval_ms / 1000 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sock.send(_PAYLOAD.pack(seq, time.monotonic_ns()).ljust(payload, b"\0"))
    time.sleep(drain_s)
    stop.set()
    receiver.join()
    values = sorted(rtts.values())
    return {
        "sent": count,
        "received": len(rtts),
        "duplicates": duplicates,
        "out_of_order": sum(1 for a, b in zip(sorted(rtts), list(rtts), strict=True) if a != b),
        "rtt_ms": {
            "min": values[0] if values else None,
            "p5": percentile(values, 5),
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "max": values[-1] if values else None,
            "mean": statistics.fmean(values) if values else None,
        },
        "rtts_ms": [round(v, 3) for v in values],
        "duration_s": round(time.monotonic() - start, 3),
    }


def main(argv: list[str]) -> None:
    if argv[0] == "serve":
        serve(argv[1], int(argv[2]))
    elif argv[0] == "client":
        payload = int(argv[6]) if len(argv) > 6 else _PAD
        result = client(argv[1], int(argv[2]), int(argv[3]), float(argv[4]), float(argv[5]),
                        payload)
        print(json.dumps(result), flush=True)
    else:
        raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
