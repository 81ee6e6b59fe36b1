#!/usr/bin/env python3
"""Groups the allocations a daemon run under oomshim.c with OOM_TRACE=DIR left live at exit by call
site: where a leak that test_oom.py's live count shows comes from.

    OOM_TRACE=/tmp/trace OOM_NS=1038 SURVEYD_OOM_SHIM=... SURVEYD_BIN=... python3 tests/api/test_oom.py
    python3 tests/oom/live_sites.py /tmp/trace/live.*

Each file is one daemon (the first is the run without failures). Frames are resolved with
addr2line against the mappings the daemon recorded; a leak shows as a group with surveyd frames
(glibc's time zone data, read once, is expected).
"""

import collections
import subprocess
import sys

SKIP = 2  # the shim's own frames


def load(path):
    entries, maps, in_maps = [], [], False
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.split()
            if line.startswith("--maps--"):
                in_maps = True
            elif in_maps:
                if len(parts) >= 6 and "x" in parts[1]:
                    start, end = (int(x, 16) for x in parts[0].split("-"))
                    maps.append((start, end, int(parts[2], 16), parts[5]))
            elif parts:
                entries.append((int(parts[0]), [int(x, 16) for x in parts[1:]]))
    return entries, maps


def resolve(addrs, maps):
    where, by_module = {}, collections.defaultdict(set)
    for a in addrs:
        for start, end, offset, path in maps:
            if start <= a < end:
                where[a] = (path, a - start + offset - 1)  # a return address: the call is before it
                by_module[path].add(where[a][1])
                break
    names = {}
    for path, offsets in by_module.items():
        offsets = sorted(offsets)
        out = subprocess.run(["addr2line", "-f", "-e", path] + [hex(o) for o in offsets],
                             capture_output=True, text=True).stdout.split("\n")
        for i, o in enumerate(offsets):
            fn = out[2 * i] if 2 * i < len(out) else "??"
            loc = out[2 * i + 1].rsplit("/", 1)[-1] if 2 * i + 1 < len(out) else "??"
            names[(path, o)] = "%s (%s %s)" % (fn, path.rsplit("/", 1)[-1], loc)
    return {a: names.get(where.get(a), hex(a)) for a in addrs}


def main(paths):
    for path in paths:
        entries, maps = load(path)
        names = resolve({a for _, frames in entries for a in frames}, maps)
        groups, sizes = collections.Counter(), collections.Counter()
        for size, frames in entries:
            key = tuple(names[a] for a in frames[SKIP:])
            groups[key] += 1
            sizes[key] += size
        print("%s: %d allocations live" % (path, len(entries)))
        for key, count in groups.most_common():
            print("  %d allocations, %d bytes" % (count, sizes[key]))
            for frame in key:
                print("      " + frame)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
