#!/usr/bin/env python3
"""Draws favicon.ico: a 32x32 PNG inside an ICO container, from the standard library alone.

An indigo rounded square (the dashboard's accent, #4f46e5) holding three white bars of rising
height: a chart. Run it again only to change the drawing; the .ico it writes is committed.
Usage: make_favicon.py OUTPUT.ico
"""
import struct
import sys
import zlib

SIZE = 32
ACCENT = (0x4F, 0x46, 0xE5)
WHITE = (0xFF, 0xFF, 0xFF)
BARS = [(7, 18), (14, 12), (21, 6)]   # (left x, top y); each 5 px wide, down to y 25


def pixel(x, y):
    """RGBA of one pixel: rounded corners of radius 6 are transparent."""
    r = 6
    cx = min(max(x, r), SIZE - 1 - r)
    cy = min(max(y, r), SIZE - 1 - r)
    if (x - cx) ** 2 + (y - cy) ** 2 > r * r:
        return (0, 0, 0, 0)
    for left, top in BARS:
        if left <= x < left + 5 and top <= y <= 25:
            return WHITE + (255,)
    return ACCENT + (255,)


def png():
    rows = b''.join(b'\0' + b''.join(bytes(pixel(x, y)) for x in range(SIZE)) for y in range(SIZE))

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', SIZE, SIZE, 8, 6, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(rows, 9)) + chunk(b'IEND', b''))


def main():
    image = png()
    header = struct.pack('<HHH', 0, 1, 1)
    entry = struct.pack('<BBBBHHII', SIZE, SIZE, 0, 0, 1, 32, len(image), 6 + 16)
    with open(sys.argv[1], 'wb') as out:
        out.write(header + entry + image)


if __name__ == '__main__':
    main()
