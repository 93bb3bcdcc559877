"""A UDP sink for `bench.jams`, in a process of its own so it costs the bot nothing: records
each RTP packet's arrival (the kernel's clock) and reports, per SSRC, how many packets came
and how many were late: more than one 20 ms frame behind the schedule their RTP timestamps
set, anchored at the stream's most punctual packet.

    python -m bench._voice_sink   (prints its port; stats as JSON once stdin closes)
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time

_SO_TIMESTAMPNS = 35
RATE = 48_000
# Opus' 3-byte silent frame, in a 12-byte RTP header, with a 16-byte tag and 4-byte nonce.
SILENCE_PACKET_BYTES = 12 + 3 + 16 + 4


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    print(sock.getsockname()[1], flush=True)
    # Per SSRC: arrival minus RTP time (seconds), one per packet.
    offsets: dict[int, list[float]] = {}
    first: dict[int, int] = {}
    stop = threading.Event()

    def receive() -> None:
        while not stop.is_set():
            try:
                data, ancillary, _, _ = sock.recvmsg(2048, socket.CMSG_SPACE(16))
            except TimeoutError:
                continue
            arrived = time.time()
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                    seconds, nanoseconds = struct.unpack("qq", value[:16])
                    arrived = seconds + nanoseconds / 1e9
            if len(data) <= SILENCE_PACKET_BYTES:
                # The player's closing silence, sent in a burst: not paced, not music.
                continue
            timestamp, ssrc = struct.unpack_from(">II", data, 4)
            start = first.setdefault(ssrc, timestamp)
            rtp_time = ((timestamp - start) % 2**32) / RATE
            offsets.setdefault(ssrc, []).append(arrived - rtp_time)

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    sys.stdin.read()
    stop.set()
    thread.join()
    stats = {}
    for ssrc, all_values in offsets.items():
        # discord.py's player sends its first frame a frame ahead of its pace: not counted.
        values = all_values[1:] or all_values
        best = min(values)
        behind = [v - best for v in values]
        stats[ssrc] = {
            "packets": len(values),
            "late": sum(1 for b in behind if b > 0.02),
            "worst_ms": 1000 * max(behind),
        }
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
