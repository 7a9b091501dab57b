"""What archiving a recording costs the engine: ours (``archive`` in the recorder's threads, ffmpeg started by the
standard library, which uses vfork) against the way before (the same ``archive`` on the hub with gevent's
subprocess, which forks the whole engine), in one process that has imported the engine, as ``hotline serve`` has.

    python bench/archive_spawn.py [--recordings 30] [--seconds 30]

Each side archives the same number of two-channel 8 kHz WAVs (``--seconds`` long) one after another, twice: once
for the engine's CPU a recording (its own threads included, ffmpeg's not), once with a greenlet ticking every
millisecond, which measures the longest time the hub could not run.

Last line: ``recordings=<n> rss_mb=<n> ours_cpu_ms=<f> baseline_cpu_ms=<f> ours_stall_ms=<f> baseline_stall_ms=<f>``.
"""

from __future__ import annotations

import argparse
import math
import resource
import struct
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Callable

import gevent
from gevent import subprocess as gevent_subprocess
from gevent.threadpool import ThreadPool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cli  # noqa: E402
import engine.process  # noqa: E402
from recorder import archive as archiving  # noqa: E402

LOADED = (cli, engine.process)
"""Imported for the size a running engine has: a fork copies it, a vfork does not."""


def write_wav(path: Path, seconds: int) -> None:
    """Two channels of 8 kHz 16-bit tones (the citizen left, the agent right)."""
    frames = bytearray()
    for n in range(8000 * seconds):
        frames += struct.pack("<hh", int(8000 * math.sin(n / 8000 * 2 * math.pi * 440)),
                              int(8000 * math.sin(n / 8000 * 2 * math.pi * 600)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(frames))


def cpu_ms(run: Callable[[Path], object], wavs: list[Path]) -> float:
    """The engine's CPU in ms per recording while ``run`` archives each of ``wavs``."""
    started = time.process_time()
    for wav in wavs:
        run(wav)
    return (time.process_time() - started) / len(wavs) * 1000


def stall_ms(run: Callable[[Path], object], wavs: list[Path]) -> float:
    """The longest time in ms the hub could not run while ``run`` archives each of ``wavs``."""
    worst = 0.0

    def tick() -> None:
        nonlocal worst
        last = time.perf_counter()
        while True:
            gevent.sleep(0.001)
            now = time.perf_counter()
            worst, last = max(worst, now - last), now

    ticker = gevent.spawn(tick)
    gevent.sleep(0.01)
    for wav in wavs:
        run(wav)
    ticker.kill()
    return worst * 1000


def on_the_hub(wav: Path) -> object:
    """The engine before: the same ``archive`` on the hub, ffmpeg started by gevent's subprocess (a fork)."""
    standard = archiving.subprocess
    archiving.subprocess = gevent_subprocess
    try:
        return archiving.archive(wav, wav.stem, "call", None, 0)
    finally:
        archiving.subprocess = standard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recordings", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hotline-archive-"))
    source = work / "source.wav"
    write_wav(source, args.seconds)
    threads = ThreadPool(archiving.ARCHIVERS)
    sides = {}
    for side, run in (("ours", lambda wav: threads.apply(archiving.archive, (wav, wav.stem, "call", None, 0))),
                      ("baseline", on_the_hub)):
        wavs = []
        for n in range(2 * args.recordings):
            wav = work / f"{side}-{n}.wav"
            wav.write_bytes(source.read_bytes())
            wavs.append(wav)
        sides[side] = cpu_ms(run, wavs[:args.recordings]), stall_ms(run, wavs[args.recordings:])
        print(f"{side}: {sides[side][0]:.2f} ms of engine CPU a recording, longest hub stall {sides[side][1]:.1f} ms")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"recordings={args.recordings} rss_mb={rss_mb} ours_cpu_ms={sides['ours'][0]:.2f} "
          f"baseline_cpu_ms={sides['baseline'][0]:.2f} ours_stall_ms={sides['ours'][1]:.1f} "
          f"baseline_stall_ms={sides['baseline'][1]:.1f}")


if __name__ == "__main__":
    main()
