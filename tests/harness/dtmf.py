"""RFC 2833 DTMF pcaps for SIPp, one per key press, each with its own RTP timestamp and sequence.

SIPp replays ``/usr/share/sip-tester/dtmf_2833_<key>.pcap`` as is, and each carries RTP
timestamps and sequence numbers of its own, unrelated from key to key: Asterisk takes a press
whose numbers are older than the previous press's for a late packet and drops it. Menus with one
key never notice; collecting a work-order number does. We copy the shipped pcaps with timestamps
and sequence numbers that grow with ``index`` (UDP checksums cleared, which IPv4 allows).
"""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

SHIPPED = "/usr/share/sip-tester/dtmf_2833_{}.pcap"
NAMES = {"*": "star", "#": "pound"}
ETH_IP_UDP = 14 + 20 + 8


def pcap_for(key: str, index: int) -> str:
    """Path of a pcap pressing ``key`` as the ``index``-th press of a call (made once, cached)."""
    name = NAMES.get(key, key)
    out_dir = Path(tempfile.gettempdir()) / "callcenter-dtmf"
    out = out_dir / f"dtmf_{name}_{index}.pcap"
    if out.exists():
        return str(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = bytearray(Path(SHIPPED.format(name)).read_bytes())
    offset = 24  # pcap global header
    first: tuple[int, int] | None = None
    while offset + 16 <= len(data):
        incl = struct.unpack_from("<I", data, offset + 8)[0]
        pkt = offset + 16
        rtp = pkt + ETH_IP_UDP
        seq, ts = struct.unpack_from("!HI", data, rtp + 2)
        first = first or (seq, ts)
        # shipped pcaps start at different numbers: make press N later than press N-1, whatever the key
        struct.pack_into("!HI", data, rtp + 2, (1000 + 30 * (index + 1) + seq - first[0]) & 0xFFFF,
                         (100000 + 4800 * (index + 1) + ts - first[1]) & 0xFFFFFFFF)
        struct.pack_into("!H", data, pkt + 14 + 20 + 6, 0)  # no UDP checksum
        offset = pkt + incl
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(bytes(data))
    tmp.replace(out)
    return str(out)
