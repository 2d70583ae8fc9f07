"""fal's request ids, one generator for every answer that carries one (the queue's requests and
the gateway answers scenarios stand in for), so no two parts of the emulator mint different
kinds."""

from __future__ import annotations

import os
import time


def new_request_id() -> str:
    """A UUIDv7 (RFC 9562), as fal's 2026 request ids are: 48 bits of Unix milliseconds, then
    random bits, so ids sort by submission time. Wall-clock milliseconds, not the emulated
    clock, which a test may set back to an earlier run's time."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    digits = f"{value:032x}"  # what str(uuid.UUID(int=value)) writes, without the object
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
