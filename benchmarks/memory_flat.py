"""Berth's memory through many manifest GETs: PSS after every batch, to show it stays flat.

    .venv/bin/python benchmarks/memory_flat.py [--batches 8] [--seconds 6] [--workers 1]

Starts Berth on 127.0.0.1, logs in as the IAM user `make bench` uses, and runs ab (32
keep-alive connections) against one manifest, printing the requests so far, the PSS summed over
Berth's processes and the largest process's RSS after each batch.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import loadgen
import servers
import workloads as w


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="berth-memory-"))
    server = servers.start_berth(work, args.workers)
    try:
        w.prepare(server)
        url = f"{server.url}/v2/{w.APP}/manifests/latest"
        headers = {**server.headers, **w.ACCEPT}
        total = 0
        print(f"{'requests':>10} {'PSS MB':>8} {'largest RSS MB':>15}")
        for batch in range(args.batches + 1):
            if batch:
                total += loadgen.run_ab(url, "GET", headers, seconds=args.seconds).requests
            pss, rss = server.rss_bytes() / 1e6, server.largest_rss_bytes() / 1e6
            print(f"{total:>10,} {pss:>8.1f} {rss:>15.1f}", flush=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
