"""Event parsing throughput, like with like: this project's parser and greenswitch 0.0.19's on the same plain
stream, and this project's json path beside them, one process, by this process's clock (perf_counter).

Every event comes from the real FreeSWITCH captures. Both parsers read the plain stream the switch sent
(``event plain``); ours also reads the json stream FreeSWITCH sends for the same events (``event json``, what the
engine subscribes to). Each frames a whole in-memory stream and parses every event; no sockets.

    pip install -e '.[bench]'
    python bench/esl_parse.py [--captures ../shared/fs-captures] [--seconds 3]

Last line: ``ours_plain_eps=<n> greenswitch_plain_eps=<n> ratio=<ours plain / greenswitch plain> ours_json_eps=<n>``.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path
from typing import Callable

from esl.protocol import EVENT_TYPES, iter_frames, parse_event

DEFAULT_CAPTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fs-captures"


def capture_streams(captures: Path) -> tuple[bytes, bytes, int]:
    """Every event of every capture, as one plain stream and one json stream; and the event count."""
    plain, as_json, count = [], [], 0
    for path in sorted(captures.glob("*_rx.txt")):
        for frame in iter_frames(path.read_bytes()):
            if frame.content_type not in EVENT_TYPES:
                continue
            event = parse_event(frame)
            if frame.content_type == "text/event-plain":
                plain.append(b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(frame.body), frame.body))
            data = dict(event.headers)
            if event.body:
                data["Content-Length"] = str(len(event.body.encode()))
                data["_body"] = event.body
            body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
            as_json.append(b"Content-Length: %d\nContent-Type: text/event-json\n\n%s" % (len(body), body))
            count += 1
    return b"".join(plain), b"".join(as_json), count


def ours(stream: bytes) -> int:
    return sum(1 for frame in iter_frames(stream) if parse_event(frame).headers)


def greenswitch_parser() -> Callable[[bytes], int]:
    """greenswitch's own receive loop (readline framing + ESLEvent parsing), reading from memory."""
    from greenswitch.esl import ESLProtocol

    class Counter:
        def __init__(self) -> None:
            self.n = 0

        def put(self, event: object) -> None:
            self.n += 1

    def parse(stream: bytes) -> int:
        proto = ESLProtocol()
        proto.sock_file = io.BytesIO(stream)
        proto.sock = None
        proto._esl_event_queue = Counter()
        proto.receive_events()
        return proto._esl_event_queue.n

    return parse


def rate(parse: Callable[[bytes], int], stream: bytes, seconds: float) -> tuple[float, int]:
    """Events per second over repeated whole-stream parses lasting at least ``seconds``."""
    parse(stream)
    events, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        events += parse(stream)
    return events / elapsed, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--captures", type=Path, default=DEFAULT_CAPTURES)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    plain, as_json, count = capture_streams(args.captures)
    greenswitch = greenswitch_parser()
    if greenswitch(plain) != sum(1 for _ in iter_frames(plain)):
        raise SystemExit("greenswitch did not see every plain event; the comparison would be meaningless")
    ours_json, n_json = rate(ours, as_json, args.seconds)
    ours_plain, _ = rate(ours, plain, args.seconds)
    theirs, n_plain = rate(greenswitch, plain, args.seconds)
    print(f"events from captures: {count} ({len(as_json)} json bytes, {len(plain)} plain bytes)")
    print(f"ours json:   {ours_json:10.0f} events/s ({n_json} events parsed)")
    print(f"ours plain:  {ours_plain:10.0f} events/s (split first, then decode: injection-safe)")
    print(f"greenswitch: {theirs:10.0f} events/s ({n_plain} events parsed, plain)")
    print(f"ours_plain_eps={ours_plain:.0f} greenswitch_plain_eps={theirs:.0f} ratio={ours_plain / theirs:.2f} "
          f"ours_json_eps={ours_json:.0f}")


if __name__ == "__main__":
    main()
