"""A small pure-Python pcap reader: enough of Ethernet/IPv4/TCP/UDP to tell a lesson's story.

Captures are read back here rather than with a packet library so that the lab needs no heavy
dependency and every field the report uses is visible in a few lines: addresses, ports, TTL, TCP
flags, sequence and acknowledgement numbers, payload length and the capture timestamp (the
kernel's real-time clock, the same clock ``time.time()`` reads in every container of one host, so
packets and the programs' events can be put on one time line).

Link types read: Ethernet, Linux cooked (SLL and SLL2), raw IP, and NFLOG (what tcpdump writes
for ``-i nflog:N``: the packets netfilter saw, used for what a host sent before an egress
impairment could drop it). Anything else (ARP, IPv6, a truncated frame) is skipped, never an error:
a capture holds what the wire held.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_NFLOG = 239
LINKTYPE_LINUX_SLL2 = 276

MAGIC_MICRO = 0xA1B2C3D4
MAGIC_NANO = 0xA1B23C4D
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_VLAN = 0x8100
NFULA_PAYLOAD = 9
NFULA_PREFIX = 10
NFULA_TIMESTAMP = 3

TCP_FLAG_NAMES = (("FIN", 0x01), ("SYN", 0x02), ("RST", 0x04), ("PSH", 0x08), ("ACK", 0x10),
                  ("URG", 0x20), ("ECE", 0x40), ("CWR", 0x80))
PAYLOAD_KEPT = 256  # bytes of payload kept per packet (enough for a sentence and a seq= prefix)


class PcapError(LabError):
    """A file that is not a pcap capture (pcapng and other formats are not read)."""

    exit_code = 3


@dataclass(frozen=True)
class Packet:
    """One IPv4 packet of a capture, decoded.

    ``time`` is seconds since the epoch (the pcap record's timestamp, or netfilter's own for
    NFLOG records that carry one). ``flags`` is a tuple of names in wire order of bits, e.g.
    ``("SYN", "ACK")``; empty for UDP. ``payload`` keeps the first PAYLOAD_KEPT bytes,
    ``payload_len`` counts them all (as the IP header says, even if the snapshot cut them).
    """

    index: int
    time: float
    src: str
    dst: str
    proto: str                # "tcp" | "udp" | "icmp" | "ip/<n>"
    ttl: int
    ip_id: int
    length: int               # IP total length
    sport: int | None = None
    dport: int | None = None
    flags: tuple[str, ...] = ()
    seq: int | None = None
    ack: int | None = None
    payload_len: int = 0
    payload: bytes = b""

    def has(self, *flags: str) -> bool:
        """True when every named TCP flag is set.

        >>> Packet(0, 0.0, "a", "b", "tcp", 64, 1, 40, flags=("SYN", "ACK")).has("SYN")
        True
        """
        return all(f in self.flags for f in flags)

    @property
    def flag_text(self) -> str:
        """Flags as textbooks write them: ``SYN``, ``SYN/ACK``, ``FIN/ACK``, ``ACK``.

        >>> Packet(0, 0.0, "a", "b", "tcp", 64, 1, 40, flags=("SYN", "ACK")).flag_text
        'SYN/ACK'
        """
        shown = [f for f in ("SYN", "FIN", "RST", "PSH", "ACK") if f in self.flags]
        return "/".join(shown)

    def key(self) -> tuple[object, ...]:
        """What identifies the same packet in two captures (sender's and receiver's).

        The IP id, addresses, ports, sequence numbers and payload survive a bridge unchanged;
        the TTL and the timestamp do not (a router lowers one, each host stamps its own).
        """
        return (self.src, self.dst, self.proto, self.ip_id, self.sport, self.dport, self.seq,
                self.ack, self.flags, self.payload_len, self.payload[:64])

    def describe(self) -> str:
        """One line, tcpdump-like, for logs and reports."""
        ends = f"{self.src}:{self.sport} > {self.dst}:{self.dport}" if self.sport is not None \
            else f"{self.src} > {self.dst}"
        if self.proto == "tcp":
            return (f"{ends} TCP {self.flag_text or '-'} seq={self.seq} ack={self.ack} "
                    f"len={self.payload_len} ttl={self.ttl}")
        return f"{ends} {self.proto.upper()} len={self.payload_len} ttl={self.ttl}"


@dataclass(frozen=True)
class Capture:
    """A decoded capture file: its link type, packets, and records it skipped (non-IPv4)."""

    linktype: int
    packets: tuple[Packet, ...]
    records: int


def read_pcap_file(path: Path) -> Capture:
    return read_pcap(path.read_bytes())


def read_pcap(data: bytes) -> Capture:
    """Decode a classic pcap file (micro- or nanosecond, either byte order)."""
    if len(data) < 24:
        raise PcapError(f"not a pcap file: {len(data)} bytes, a pcap header alone has 24")
    for endian in ("<", ">"):
        magic = struct.unpack(endian + "I", data[:4])[0]
        if magic in (MAGIC_MICRO, MAGIC_NANO):
            break
    else:
        raise PcapError(f"not a pcap file (magic {data[:4].hex()}; pcapng is not read: "
                        "write captures with tcpdump -w)")
    scale = 1e-9 if magic == MAGIC_NANO else 1e-6
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    offset, records = 24, 0
    packets: list[Packet] = []
    while offset + 16 <= len(data):
        seconds, fraction, captured, _original = struct.unpack(endian + "IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + captured]
        offset += 16 + captured
        records += 1
        stamp = seconds + fraction * scale
        packet = _decode_link(linktype, frame, stamp, records - 1)
        if packet is not None:
            packets.append(packet)
    return Capture(linktype, tuple(packets), records)


def _decode_link(linktype: int, frame: bytes, stamp: float, index: int) -> Packet | None:
    """The IPv4 packet inside one link-layer record, or None for anything else."""
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        ethertype, offset = struct.unpack("!H", frame[12:14])[0], 14
        while ethertype == ETHERTYPE_VLAN and len(frame) >= offset + 4:
            ethertype, offset = struct.unpack("!H", frame[offset + 2:offset + 4])[0], offset + 4
        return decode_ipv4(frame[offset:], stamp, index) if ethertype == ETHERTYPE_IPV4 else None
    if linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16 or struct.unpack("!H", frame[14:16])[0] != ETHERTYPE_IPV4:
            return None
        return decode_ipv4(frame[16:], stamp, index)
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20 or struct.unpack("!H", frame[0:2])[0] != ETHERTYPE_IPV4:
            return None
        return decode_ipv4(frame[20:], stamp, index)
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4):
        return decode_ipv4(frame, stamp, index)
    if linktype == LINKTYPE_NFLOG:
        return _decode_nflog(frame, stamp, index)
    return None


def _decode_nflog(frame: bytes, stamp: float, index: int) -> Packet | None:
    """NFLOG: a 4-byte header (family, version, resource id), then TLVs in host byte order.

    The packet is the NFULA_PAYLOAD TLV; NFULA_TIMESTAMP, when netfilter attached one, is the
    time the hook saw the packet (tcpdump's own record time is when it read the batch).
    """
    if len(frame) < 4 or frame[0] != 2:  # AF_INET
        return None
    offset, payload, when = 4, None, stamp
    while offset + 4 <= len(frame):
        length, kind = struct.unpack("<HH", frame[offset:offset + 4])
        if length < 4:
            break
        value = frame[offset + 4:offset + length]
        kind &= 0x7FFF
        if kind == NFULA_PAYLOAD:
            payload = value
        elif kind == NFULA_TIMESTAMP and len(value) == 16:
            seconds, micros = struct.unpack("!QQ", value)
            if seconds:
                when = seconds + micros * 1e-6
        offset += (length + 3) & ~3
    return decode_ipv4(payload, when, index) if payload is not None else None


def decode_ipv4(data: bytes, stamp: float, index: int = 0) -> Packet | None:
    """An IPv4 packet with its TCP or UDP header decoded; None if it is not IPv4 or is cut short."""
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    header_len = (data[0] & 0x0F) * 4
    total, ip_id = struct.unpack("!HH", data[2:6])
    ttl, protocol = data[8], data[9]
    src, dst = _ip(data[12:16]), _ip(data[16:20])
    body = data[header_len:total] if total >= header_len else data[header_len:]
    body_len = max(0, total - header_len)
    common = dict(index=index, time=stamp, src=src, dst=dst, ttl=ttl, ip_id=ip_id, length=total)
    if protocol == 6 and len(body) >= 20:
        sport, dport, seq, ack, offset_byte, flag_byte = struct.unpack("!HHIIBB", body[:14])
        tcp_len = (offset_byte >> 4) * 4
        flags = tuple(name for name, bit in TCP_FLAG_NAMES if flag_byte & bit)
        return Packet(proto="tcp", sport=sport, dport=dport, flags=flags, seq=seq, ack=ack,
                      payload_len=max(0, body_len - tcp_len),
                      payload=body[tcp_len:tcp_len + PAYLOAD_KEPT], **common)  # type: ignore[arg-type]
    if protocol == 17 and len(body) >= 8:
        sport, dport, udp_len = struct.unpack("!HHH", body[:6])
        return Packet(proto="udp", sport=sport, dport=dport, payload_len=max(0, udp_len - 8),
                      payload=body[8:8 + PAYLOAD_KEPT], **common)  # type: ignore[arg-type]
    name = "icmp" if protocol == 1 else f"ip/{protocol}"
    return Packet(proto=name, payload_len=body_len, payload=body[:PAYLOAD_KEPT], **common)  # type: ignore[arg-type]


def _ip(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


# ----- writing: used by tests and by anyone who wants a pcap of hand-made packets -----------------
def pcap_header(linktype: int = LINKTYPE_ETHERNET, nano: bool = False) -> bytes:
    return struct.pack("<IHHiIII", MAGIC_NANO if nano else MAGIC_MICRO, 2, 4, 0, 0, 262144, linktype)


def pcap_record(frame: bytes, stamp: float, nano: bool = False) -> bytes:
    seconds = int(stamp)
    fraction = round((stamp - seconds) * (1e9 if nano else 1e6))
    return struct.pack("<IIII", seconds, fraction, len(frame), len(frame)) + frame


def ipv4_packet(src: str, dst: str, proto: int, body: bytes, ttl: int = 64, ip_id: int = 1) -> bytes:
    """An IPv4 header (with its checksum) in front of `body`."""
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ip_id, 0x4000, ttl, proto, 0,
                         bytes(int(p) for p in src.split(".")), bytes(int(p) for p in dst.split(".")))
    checksum = _checksum(header)
    return header[:10] + struct.pack("!H", checksum) + header[12:] + body


def tcp_segment(sport: int, dport: int, seq: int, ack: int, flags: tuple[str, ...],
                payload: bytes = b"", window: int = 64240) -> bytes:
    bits = sum(bit for name, bit in TCP_FLAG_NAMES if name in flags)
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, bits, window, 0, 0) + payload


def udp_datagram(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def ethernet_frame(ip_packet: bytes, src_mac: bytes = b"\x02\x42\xac\x11\x00\x02",
                   dst_mac: bytes = b"\x02\x42\xac\x11\x00\x03") -> bytes:
    return dst_mac + src_mac + struct.pack("!H", ETHERTYPE_IPV4) + ip_packet


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
