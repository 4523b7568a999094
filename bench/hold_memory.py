#!/usr/bin/env python3
"""Holds SIZE of RAM (touched, so really resident) until killed: the "other processes" of a
bigger-than-RAM benchmark, as in the llama.cpp baseline measured with 10 GiB held elsewhere.

    bench/hold_memory.py 10G &   # prints "holding 10.0 GiB" once the memory is resident
"""
import signal
import sys
import time

UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in UNITS:
        return int(float(text[:-1]) * UNITS[text[-1]])
    return int(text)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    size = parse_size(sys.argv[1])
    block = bytearray(size)
    page = 4096
    # bytearray() may get untouched zero pages from the kernel; write one byte per page.
    block[::page] = b"\x01" * len(range(0, size, page))
    print(f"holding {size / (1 << 30):.1f} GiB", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
