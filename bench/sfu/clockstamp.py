"""A wall-clock time written into the pixels of a frame and read back after decoding.

The top 16 luma rows carry 40 blocks of 16x16 pixels (one VP8 macroblock each): 32 bits
of time in units of 100 µs (CLOCK_REALTIME, modulo 2**32, i.e. it wraps every ~5 days)
followed by a CRC-8 of those bits. White blocks are ones, black blocks zeros; at 1 Mbps
VP8 keeps a flat macroblock's brightness far from the threshold, and the CRC rejects a
frame whose stamp did not survive.
"""

from __future__ import annotations

import time

BLOCK = 16
DATA_BITS = 32
CHECK_BITS = 8
BLOCKS = DATA_BITS + CHECK_BITS
STAMP_WIDTH = BLOCKS * BLOCK  # 640: the whole width of a 640x360 frame
STAMP_HEIGHT = BLOCK
TICKS_PER_SECOND = 10_000  # 100 µs units
_MOD = 1 << DATA_BITS
_WHITE, _BLACK = 235, 16
# sample points inside a block, away from its edges (where ringing lives)
_SAMPLES = ((5, 5), (5, 10), (10, 5), (10, 10))


def now_ticks() -> int:
    """The current wall-clock time in 100 µs units, modulo 2**32."""
    return (time.time_ns() // 100_000) % _MOD


def crc8(value: int) -> int:
    """CRC-8 (polynomial 0x07) of a 32-bit value, big-endian bytes."""
    crc = 0
    for byte in value.to_bytes(4, "big"):
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def stamp_row(ticks: int) -> bytes:
    """One luma row (STAMP_WIDTH bytes) encoding ``ticks``; repeat it STAMP_HEIGHT times."""
    word = ((ticks % _MOD) << CHECK_BITS) | crc8(ticks % _MOD)
    out = bytearray()
    for i in range(BLOCKS):
        bit = (word >> (BLOCKS - 1 - i)) & 1
        out += bytes([_WHITE if bit else _BLACK]) * BLOCK
    return bytes(out)


def read_stamp(luma: memoryview, line_size: int) -> int | None:
    """The ticks stamped into a decoded luma plane, or None if the CRC does not match."""
    word = 0
    for i in range(BLOCKS):
        x0 = i * BLOCK
        total = 0
        for dy, dx in _SAMPLES:
            total += luma[dy * line_size + x0 + dx]
        word = (word << 1) | (1 if total > 4 * 128 else 0)
    ticks = word >> CHECK_BITS
    if crc8(ticks) != word & 0xFF:
        return None
    return ticks


def elapsed_ms(stamp_ticks: int, now: int) -> float:
    """Milliseconds from ``stamp_ticks`` to ``now`` (both from ``now_ticks``), wrap-safe."""
    diff = (now - stamp_ticks) % _MOD
    if diff >= _MOD // 2:  # the stamp is in the future: clock step or a bad read
        diff -= _MOD
    return diff * 1000 / TICKS_PER_SECOND
