"""How dear this machine makes work done after a pause: the same read of memory, warm and after sleeping.

    python bench/cold_memory.py [--mib 2] [--pauses 0.01,0.1,0.5,2]

Reads one byte of every 64 (each cache line once) of a buffer of ``--mib`` MiB, first back to back (the baseline,
warm), then after sleeping each pause. Clock: this process's ``time.perf_counter`` around each read; no switch is
involved. On a machine whose memory stays warm the ratios stay near 1; on the benchmark VM (Firecracker) they grow
with the pause, which is why the engine's CPU per call there depends on how often it is woken (README, Benchmarks).
Last line: ``warm_ms=<x> after_<pause>s_ms=<x> ... ratio_<longest pause>s=<x>``.
"""

from __future__ import annotations

import argparse
import statistics
import time


def read(buffer: bytearray) -> float:
    """Milliseconds to touch every cache line of ``buffer`` once."""
    started = time.perf_counter()
    sum(buffer[::64])
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=2)
    parser.add_argument("--pauses", default="0.01,0.1,0.5,2")
    parser.add_argument("--repeat", type=int, default=3, help="reads per pause (the median is shown)")
    args = parser.parse_args()
    buffer = bytearray(args.mib << 20)
    read(buffer)
    warm = statistics.median(read(buffer) for _ in range(args.repeat))
    figures = [f"warm_ms={warm:.2f}"]
    print(f"{args.mib} MiB, warm: {warm:.2f} ms")
    after = warm
    pauses = [float(p) for p in args.pauses.split(",")]
    for pause in pauses:
        reads = []
        for _ in range(args.repeat):
            time.sleep(pause)
            reads.append(read(buffer))
        after = statistics.median(reads)
        print(f"{args.mib} MiB, after {pause:g} s asleep: {after:.2f} ms ({after / warm:.1f} x warm)")
        figures.append(f"after_{pause:g}s_ms={after:.2f}")
    print(" ".join([*figures, f"ratio_{pauses[-1]:g}s={after / warm:.1f}"]))


if __name__ == "__main__":
    main()
