"""Speech for sipp to play: a WAV turned into a pcap of RTP packets (PCMU, 20 ms each), the form sipp's
``play_pcap_audio`` replays (its own pcaps are the same: Ethernet, IPv4, UDP, RTP)."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

FRAME = 160
"""PCMU samples (and bytes) in 20 ms at 8 kHz."""


def pcmu_pcap(wav: Path, pcap: Path) -> float:
    """Write ``wav`` (any rate) as a PCMU RTP pcap; returns its length in seconds."""
    ulaw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-ar", "8000", "-ac", "1", "-f", "mulaw", "-"],
                          capture_output=True, check=True).stdout
    ulaw += b"\xff" * (-len(ulaw) % FRAME)  # µ-law silence to a whole frame
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # libpcap, Ethernet
    for n in range(len(ulaw) // FRAME):
        rtp = struct.pack("!BBHII", 0x80, 0x80 if n == 0 else 0x00, n, n * FRAME, 0x5EED) + ulaw[n * FRAME:(n + 1) * FRAME]
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0, bytes([127, 0, 0, 1]),
                         bytes([127, 0, 0, 1])) + udp
        frame = b"\0" * 12 + b"\x08\x00" + ip
        usec = n * 20_000
        out.append(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)) + frame)
    pcap.write_bytes(b"".join(out))
    return len(ulaw) / 8000
