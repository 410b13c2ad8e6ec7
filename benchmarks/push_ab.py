"""A/B of blob pushes between source trees: each tree's ``berth serve``, interleaved, paired.

    python benchmarks/push_ab.py --tree base=/tmp/base/src --tree new=src [--repeats 5]
        [--mib 1024] [--skopeo] [--distribution]

``--tree LABEL=SRC[,VAR=VALUE...]`` runs ``berth serve`` with ``PYTHONPATH=SRC`` (and those
environment variables; ``upload_port=off`` runs it without ``--upload-port``), so a tree
exported with ``git archive main src | tar -x -C /tmp/base`` runs against this checkout's venv. Each repeat measures the machine's bounds (sha256 of the blob,
copy + fsync, granian receiving and dropping it), then the pushes of ``run.py`` (monolithic, then
16 MiB PATCHes) through every tree in turn, the order reversed every other repeat, and with
``--skopeo`` a ``skopeo copy`` of a 5-layer, 200 MiB layout into each. On a shared machine the
ratio of each tree to the first within a repeat (paired) is steadier than either median.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import servers
import workloads as w
from blobs import MIB, BlobFile, Client, hash_file, push_chunked, push_monolithic
from run import copy_and_fsync, receive_and_drop

MB = 1_000_000
PUSHES = (("push monolithic", push_monolithic), ("push chunked", push_chunked))


class Samples:
    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}

    def add(self, name: str, value: float, unit: str) -> None:
        self.values.setdefault(name, []).append(value)
        print(f"  {name:44} {value:10,.2f} {unit}", flush=True)

    def report(self, labels: list[str]) -> None:
        print("\nmedians (samples)")
        for name, values in self.values.items():
            listed = ", ".join(f"{value:,.1f}" for value in values)
            print(f"  {name:44} {statistics.median(values):10,.2f}   ({listed})")
        print(f"\npaired ratios to {labels[0]} (per repeat; above 1 is better)")
        for kind in [name for name, _ in PUSHES] + ["skopeo copy in"]:
            first = self.values.get(f"{labels[0]} {kind}", [])
            for label in labels[1:]:
                values = self.values.get(f"{label} {kind}", [])
                ratios = [
                    v / f if kind.startswith("push") else f / v
                    for v, f in zip(values, first, strict=False)
                ]
                if ratios:
                    listed = ", ".join(f"{ratio:.2f}" for ratio in ratios)
                    print(f"  {label} {kind:20} {statistics.median(ratios):.3f}   ({listed})")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def start_tree(work: Path, label: str, spec: str, workers: int) -> w.Target:
    source, *assignments = spec.split(",")
    upload_port = "upload_port=off" not in assignments
    assignments = [assignment for assignment in assignments if assignment != "upload_port=off"]
    folder = work / label
    folder.mkdir()
    saved = dict(os.environ)
    os.environ["PYTHONPATH"] = str(Path(source).resolve())
    os.environ.update(assignment.split("=", 1) for assignment in assignments)
    try:
        target = w.prepare(servers.start_berth(folder, workers, upload_port=upload_port))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return target


def push_once(target: w.Target, label: str, blob: BlobFile, samples: Samples) -> None:
    for kind, push in PUSHES:
        blob.make_variant(f"{label}-{kind}-{time.monotonic_ns()}")
        os.sync()
        client = Client(target.server.port, target.server.headers)
        try:
            seconds = timed(lambda: push(client, blob, 16 * MIB))  # noqa: B023
        finally:
            client.close()
        samples.add(f"{label} {kind}", blob.size / seconds / MB, "MB/s")


def skopeo_once(target: w.Target, label: str, work: Path, repeat: int, samples: Samples) -> None:
    folder = work / f"skopeo-{label}-{repeat}"
    w.make_layout(folder / "in", 5, 200 * MIB)
    os.sync()
    reference = f"127.0.0.1:{target.server.port}/bench/skopeo{repeat}:v1"
    seconds = w.skopeo(target, f"oci:{folder / 'in'}:v1", f"docker://{reference}", folder)
    samples.add(f"{label} skopeo copy in", seconds, "s")
    shutil.rmtree(folder)


def measure(args: argparse.Namespace, work: Path, samples: Samples) -> None:
    trees = [tree.split("=", 1) for tree in args.tree]
    blob = BlobFile(work / "blob.bin", args.mib * MIB)
    targets: dict[str, w.Target] = {}
    drop = servers.start_drop_server(work)
    try:
        for label, spec in trees:
            targets[label] = start_tree(work, label, spec, args.workers)
        if args.distribution:
            (work / "distribution").mkdir()
            targets["distribution"] = w.prepare(servers.start_distribution(work / "distribution"))
        for repeat in range(args.repeats):
            print(f"repeat {repeat + 1} of {args.repeats}", flush=True)
            samples.add("bound sha256", blob.size / timed(lambda: hash_file(blob)) / MB, "MB/s")
            os.sync()
            samples.add("bound copy + fsync", blob.size / timed(lambda: copy_and_fsync(blob)) / MB, "MB/s")  # fmt: skip
            samples.add("bound granian receive-and-drop", blob.size / timed(lambda: receive_and_drop(drop, blob)) / MB, "MB/s")  # fmt: skip
            order = list(targets.items())
            order = order if repeat % 2 == 0 else order[::-1]
            for label, target in order:
                if label != "distribution":
                    push_once(target, label, blob, samples)
            for label, target in order if args.skopeo else ():
                skopeo_once(target, label, work, repeat, samples)
    finally:
        drop.stop()
        for target in targets.values():
            target.server.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, help="LABEL=SRC[,VAR=VALUE]")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mib", type=int, default=1024, help="blob size")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--skopeo", action="store_true", help="also skopeo copy in")
    parser.add_argument("--distribution", action="store_true", help="skopeo into it too")
    parser.add_argument("--work-dir", type=Path, help="where blobs and registry data go (tmp)")
    args = parser.parse_args(argv)
    samples = Samples()
    with tempfile.TemporaryDirectory(prefix="berth-push-ab-", dir=args.work_dir) as temporary:
        measure(args, Path(temporary), samples)
    samples.report([tree.split("=", 1)[0] for tree in args.tree])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
