"""Speech for sipp to play: a WAV turned into a pcap of RTP packets, 20 ms each, the form sipp's
``play_pcap_audio`` replays (its own pcaps are the same: Ethernet, IPv4, UDP, RTP). PCMU (8 kHz) or G.722
(16 kHz audio; 64 kb/s and an 8 kHz RTP clock, as RFC 3551 keeps for it: 160 bytes and 160 ticks a packet)."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

FRAME = 160
"""Bytes and RTP ticks in 20 ms, for both codecs."""
CODECS = {"PCMU": (0, ["-ar", "8000", "-f", "mulaw"]), "G722": (9, ["-ar", "16000", "-c:a", "g722", "-f", "g722"])}
"""Codec -> RTP payload type and ffmpeg's output options."""


def rtp_pcap(wav: Path, pcap: Path, codec: str = "PCMU") -> float:
    """Write ``wav`` (any rate) as an RTP pcap in ``codec``; returns its length in seconds."""
    payload_type, options = CODECS[codec]
    padded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-af", "apad=pad_dur=0.02", "-ac", "1", *options,
                             "-"], capture_output=True, check=True).stdout
    coded = padded[: len(padded) - len(padded) % FRAME]  # whole packets (apad made sure the speech fits)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # libpcap, Ethernet
    for n in range(len(coded) // FRAME):
        rtp = struct.pack("!BBHII", 0x80, payload_type | (0x80 if n == 0 else 0), n, n * FRAME, 0x5EED)
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp) + FRAME, 0) + rtp + coded[n * FRAME:(n + 1) * FRAME]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0, bytes([127, 0, 0, 1]),
                         bytes([127, 0, 0, 1])) + udp
        frame = b"\0" * 12 + b"\x08\x00" + ip
        usec = n * 20_000
        out.append(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)) + frame)
    pcap.write_bytes(b"".join(out))
    return len(coded) / FRAME * 0.02
