"""Berth against CNCF distribution, side by side in one run: blobs, manifests, listings, skopeo.

    python benchmarks/run.py [--quick] [--repeats 3] [--berth-workers 1] [--only blobs,rates]

See benchmarks/README.md for what each figure means; `make bench` runs it as the docs show it.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import report
import servers
import workloads as w
from blobs import MIB, REPOSITORY, BlobFile, Client, hash_file, pull, push_chunked, push_monolithic
from report import Workload
from seeding import seed_berth, seed_distribution

REPO_ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
GB = 1_000_000_000
GROUPS = ("blobs", "rates", "listings", "skopeo")


@dataclass(frozen=True)
class Sizes:
    blob_mib: int
    chunk_mib: int
    tags: int
    repositories: int
    skopeo_mib: int
    rate_seconds: float


FULL = Sizes(blob_mib=1024, chunk_mib=16, tags=10_000, repositories=10_000, skopeo_mib=200,
             rate_seconds=8.0)  # fmt: skip
QUICK = Sizes(blob_mib=128, chunk_mib=16, tags=1_000, repositories=1_000, skopeo_mib=40,
              rate_seconds=3.0)  # fmt: skip


def workload_list(sizes: Sizes) -> list[Workload]:
    size = f"{sizes.blob_mib} MiB"
    return [
        Workload(f"push {size} monolithic", "MB/s"),
        Workload(f"push {size} chunked ({sizes.chunk_mib} MiB PATCHes)", "MB/s"),
        Workload(f"pull {size}", "MB/s"),
        Workload(f"pull {size}, 8 in parallel", "MB/s"),
        Workload("manifest GET, 32 connections", "req/s"),
        Workload("manifest GET p99", "ms", higher_is_better=False),
        Workload("manifest HEAD, 32 connections", "req/s"),
        Workload("manifest HEAD p99", "ms", higher_is_better=False),
        Workload("manifest PUT, 32 connections", "req/s"),
        Workload(f"tag list, {sizes.tags:,} tags, whole", "s", higher_is_better=False),
        Workload(
            f"tag list, {sizes.tags:,} tags, walked in n=100 pages", "s", higher_is_better=False
        ),
        Workload(f"_catalog, {sizes.repositories:,} repositories", "s", higher_is_better=False),
        Workload(f"skopeo copy in, 5 layers, {sizes.skopeo_mib} MiB", "s", higher_is_better=False),
        Workload(f"skopeo copy out, 5 layers, {sizes.skopeo_mib} MiB", "s", higher_is_better=False),
        Workload("anonymous manifest GET (public repository)", "req/s"),
        Workload(f"DescribeImages, {sizes.tags:,} images (boto3)", "s", higher_is_better=False),
        Workload("GetAuthorizationToken, 32 connections", "req/s"),
        Workload(f"tag list, {sizes.tags:,} tags, one n=100 page", "ms", higher_is_better=False),
        Workload(f"pull {size} on the registry port (no download port)", "MB/s"),
        Workload(f"pull {size}, 8 in parallel, on the registry port", "MB/s"),
    ]


class Run:
    """One benchmark run: its sizes, work folder, blob file and every sample taken."""

    def __init__(self, sizes: Sizes, work: Path) -> None:
        self.sizes, self.work = sizes, work
        self.workloads = workload_list(sizes)
        self.samples: dict[str, dict[str, list[float]]] = {}
        self.bounds: dict[str, list[float]] = {}
        self.blob = BlobFile(work / "blob.bin", sizes.blob_mib * MIB)
        self.notes: dict[str, object] = {}
        self.cpu: dict[str, list[tuple[float, float]]] = {}

    def record(self, index: int, registry: str, value: float) -> None:
        name = self.workloads[index].name
        self.samples.setdefault(name, {}).setdefault(registry, []).append(value)
        unit = self.workloads[index].unit
        print(f"  {registry:12} {name:52} {value:12,.2f} {unit}", flush=True)

    def bound(self, name: str, seconds: float) -> None:
        self.bounds.setdefault(name, []).append(self.blob.size / seconds / MB)

    def pull(
        self, name: str, server: servers.Server, action: Callable[[], object], size: int
    ) -> float:
        """Seconds ``action`` took; notes the server's and this client's CPU seconds per GB."""
        server_before, client_before = server.cpu_seconds(), own_cpu_seconds()
        seconds = w_timed(action)
        server_cpu = (server.cpu_seconds() - server_before) * GB / size
        client_cpu = (own_cpu_seconds() - client_before) * GB / size
        self.cpu.setdefault(name, []).append((server_cpu, client_cpu))
        return seconds


def own_cpu_seconds() -> float:
    """CPU time of this process (every client thread), user + system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_bounds(run: Run, repeats: int) -> None:
    blob = run.blob
    nginx = servers.start_nginx(run.work, run.work, "/blob.bin")
    filled: list[Path] = []
    try:
        for repeat in range(repeats):
            run.bound("sha256 of the blob", w_timed(lambda: hash_file(blob)))
            filled.append(blob.path.with_suffix(f".fill{repeat}"))
            run.bound(PAGE_CACHE_BOUND, w_timed(lambda: fill_page_cache(blob, filled[-1])))
            os.sync()
            run.bound("disk: write a copy + fsync", w_timed(lambda: copy_and_fsync(blob)))
            for parallel in (1, 8):
                name = "nginx sendfile pull" + ("" if parallel == 1 else ", 8 in parallel")
                seconds = run.pull(
                    name,
                    nginx,
                    lambda p=parallel: pull(nginx.port, {}, "/blob.bin", blob.size, p),  # type: ignore[misc]
                    blob.size * parallel,
                )
                run.bounds.setdefault(name, []).append(blob.size * parallel / seconds / MB)
    finally:
        nginx.stop()
        for path in filled:
            path.unlink(missing_ok=True)
    drop = servers.start_drop_server(run.work)
    try:
        for _ in range(repeats):
            run.bound(RECEIVE_BOUND, w_timed(lambda: receive_and_drop(drop, blob)))
    finally:
        drop.stop()
    for name, values in run.bounds.items():
        print(f"  bound {name:40} {report.median(values):10,.0f} MB/s", flush=True)


RECEIVE_BOUND = "granian receiving the blob into Python and dropping it"
PAGE_CACHE_BOUND = "memory: write the blob into a new file, no fsync"


def fill_page_cache(blob: BlobFile, path: Path) -> None:
    """The cost of the memory a push takes to keep its bytes cached for the pulls after it, with
    no network, hashing or fsync: the blob written into a new file. The file is kept until every
    repeat is measured, so no repeat writes into pages another has just freed (on a VM that
    hands freed memory back to its host, pages taken afresh cost several times more)."""
    piece = memoryview(bytearray(4 * MIB))
    with blob.path.open("rb", buffering=0) as source, path.open("wb", buffering=0) as target:
        while count := source.readinto(piece):
            target.write(piece[:count])


def receive_and_drop(server: servers.Server, blob: BlobFile) -> None:
    """What a push through Berth's HTTP server cannot beat, whatever Berth does with the bytes."""
    client = Client(server.port, {})
    try:
        with blob.path.open("rb") as source:
            client.call("PUT", "/", 200, body=(source, 0, blob.size))
    finally:
        client.close()


def copy_and_fsync(blob: BlobFile) -> None:
    """What a registry that makes a blob durable before acknowledging it cannot beat."""
    copy = blob.path.with_suffix(".copy")
    with blob.path.open("rb") as source, copy.open("wb") as target:
        shutil.copyfileobj(source, target, 4 * MIB)
        target.flush()
        os.fsync(target.fileno())
    copy.unlink()


def w_timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def blob_workloads(run: Run, target: w.Target, repeat: int) -> None:
    blob, server, chunk = run.blob, target.server, run.sizes.chunk_mib * MIB
    for index, push in ((0, push_monolithic), (1, push_chunked)):
        blob.make_variant(f"{server.name}-{index}-{repeat}")
        os.sync()
        client = Client(server.port, server.headers)
        try:
            seconds = w_timed(lambda: push(client, blob, chunk))  # noqa: B023
        finally:
            client.close()
        run.record(index, server.name, blob.size / seconds / MB)
    target_path = f"/v2/{REPOSITORY}/blobs/{blob.digest}"
    for index, parallel in ((2, 1), (3, 8)):
        seconds = run.pull(
            f"{server.name} {run.workloads[index].name}",
            server,
            lambda: pull(server.port, server.headers, target_path, blob.size, parallel),  # noqa: B023
            blob.size * parallel,
        )
        run.record(index, server.name, blob.size * parallel / seconds / MB)
    in_place = registry_port_path(server, target_path)
    for index, parallel in ((18, 1), (19, 8)):
        if in_place is None:
            continue
        seconds = run.pull(
            f"{server.name} {run.workloads[index].name}",
            server,
            lambda: pull(server.port, {}, in_place, blob.size, parallel),  # noqa: B023
            blob.size * parallel,
        )
        run.record(index, server.name, blob.size * parallel / seconds / MB)


def registry_port_path(server: servers.Server, target_path: str) -> str | None:
    """The signed download path a 307 names, to fetch from the registry port itself (the ASGI
    server's own file sending), or None when the server does not redirect."""
    client = Client(server.port, server.headers)
    try:
        response = client.send("GET", target_path)
        response.read()
        location = response.getheader("Location")
        if response.status != 307 or location is None:
            return None
        return urlsplit(location).path
    finally:
        client.close()


def rate_workloads(run: Run, target: w.Target) -> None:
    seconds, name = run.sizes.rate_seconds, target.name
    for index, method in ((4, "GET"), (6, "HEAD")):
        w.manifest_rate(target, method, 1.0)
        rate = w.manifest_rate(target, method, seconds)
        check_errors(rate, f"{name} manifest {method}")
        run.record(index, name, rate.requests_per_second)
        run.record(index + 1, name, rate.p99_ms)
        run.notes[f"requests {name}"] = int(run.notes.get(f"requests {name}", 0)) + rate.requests  # type: ignore[call-overload]
    rate = w.put_rate(target, seconds)
    check_errors(rate, f"{name} manifest PUT")
    run.record(8, name, rate.requests_per_second)
    if target.is_berth:
        w.anonymous_rate(target, 1.0)
        rate = w.anonymous_rate(target, seconds)
        check_errors(rate, "anonymous GET")
        run.record(14, name, rate.requests_per_second)
        rate = w.token_rate(target, seconds)
        check_errors(rate, "GetAuthorizationToken")
        run.record(16, name, rate.requests_per_second)


def check_errors(rate: object, what: str) -> None:
    errors = getattr(rate, "errors", 0)
    if errors:
        raise RuntimeError(f"{what}: {errors} failed requests")


def listing_workloads(run: Run, target: w.Target) -> None:
    """Each listing 5 times in a row; the median of the 5 is this repeat's sample."""
    sizes, name = run.sizes, target.name
    for index, page in ((9, None), (10, 100)):
        seconds, items, pages = median_of(5, lambda p=page: w.list_tags(target, p))  # type: ignore[misc]
        expect(items, sizes.tags, f"{name} tags")
        run.notes[f"{name} pages: {run.workloads[index].name}"] = pages
        if target.is_berth or index == 9:  # distribution 2.8 ignores n: it walks no pages
            run.record(index, name, seconds)
    run.record(17, name, w.tag_page_ms(target, 100, sizes.tags // 2))
    seconds, items, pages = median_of(5, lambda: w.catalog(target, 1000))
    expect(items, sizes.repositories, f"{name} catalog")
    run.record(11, name, seconds)
    run.notes[f"{name} pages: {run.workloads[11].name}"] = pages
    if target.is_berth:
        seconds, count, _ = median_of(3, lambda: (*w.describe_images(target), 0))
        expect(count, sizes.tags, "DescribeImages")
        run.record(15, name, seconds)


def median_of(times: int, listing: Callable[[], tuple[float, int, int]]) -> tuple[float, int, int]:
    samples = sorted((listing() for _ in range(times)), key=lambda sample: sample[0])
    return samples[len(samples) // 2]


def expect(found: int, wanted: int, what: str) -> None:
    """At least ``wanted`` (the seeded items; the workloads add a few of their own)."""
    if not wanted <= found <= wanted + 20:
        raise RuntimeError(f"{what}: {found} items, expected {wanted}")


def skopeo_workloads(run: Run, target: w.Target, repeat: int) -> None:
    folder = run.work / f"skopeo-{target.name}-{repeat}"
    w.make_layout(folder / "in", 5, run.sizes.skopeo_mib * MIB)
    reference = f"127.0.0.1:{target.server.port}/bench/skopeo{repeat}:v1"
    seconds = w.skopeo(target, f"oci:{folder / 'in'}:v1", f"docker://{reference}", folder)
    run.record(12, target.name, seconds)
    seconds = w.skopeo(target, f"docker://{reference}", f"oci:{folder / 'out'}:v1", folder)
    run.record(13, target.name, seconds)
    shutil.rmtree(folder)


def measure(run: Run, targets: list[w.Target], repeats: int, groups: set[str]) -> None:
    for repeat in range(repeats):
        print(f"repeat {repeat + 1} of {repeats}", flush=True)
        for target in targets if "blobs" in groups else ():
            blob_workloads(run, target, repeat)
        if repeat == 0:
            run.notes["berth RSS before rates MB"] = targets[0].server.rss_bytes() / 1e6
        for target in targets if "rates" in groups else ():
            rate_workloads(run, target)
        if repeat == repeats - 1:
            run.notes["berth RSS after rates MB"] = targets[0].server.rss_bytes() / 1e6
        for target in targets if "listings" in groups else ():
            listing_workloads(run, target)
        for target in targets if "skopeo" in groups else ():
            skopeo_workloads(run, target, repeat)


def start(
    run: Run, berth_workers: int, seed: bool, download_port: bool, upload_port: bool
) -> list[w.Target]:
    """Berth (as users get it: ``berth serve``, defaults but ``--download-port`` and
    ``--upload-port``) and distribution, seeded for the listings when ``seed``."""
    sizes, work = run.sizes, run.work
    if seed:
        print(
            f"seeding Berth: {sizes.tags:,} images, {sizes.repositories:,} repositories", flush=True
        )
        seed_berth(work / "berth-data", sizes.tags, sizes.repositories)
    berth = servers.start_berth(work, berth_workers, download_port, upload_port)
    targets = [w.prepare(berth)]
    distribution = servers.start_distribution(work)
    targets.append(w.prepare(distribution))
    if seed:
        digest = targets[1].many_digest
        seed_distribution(work / "distribution-data", digest, sizes.tags, sizes.repositories)
    return targets


def targets_met(run: Run) -> list[tuple[str, str, float | None, bool | None]]:
    def med(index: int, registry: str = "berth") -> float | None:
        return report.median(run.samples.get(run.workloads[index].name, {}).get(registry, []))

    def ratio(index: int) -> float | None:
        return report.ratio(run.workloads[index], med(index), med(index, "distribution"))

    def over(value: float | None, bound: str) -> float | None:
        limit = report.median(run.bounds.get(bound, []))
        return None if value is None or not limit else value / limit

    rows: list[tuple[str, str, float | None, bool | None]] = []

    def add(name: str, goal: str, value: float | None, floor: float, below: bool = False) -> None:
        met = None if value is None else (value < floor if below else value >= floor)
        rows.append((name, goal, value, met))

    for index in range(len(run.workloads)):
        add(f"{run.workloads[index].name} / distribution", ">= 1.0", ratio(index), 1.0)
    add("push monolithic / sha256", ">= 0.6", over(med(0), "sha256 of the blob"), 0.6)
    add("push chunked / sha256", ">= 0.6", over(med(1), "sha256 of the blob"), 0.6)
    disk = "disk: write a copy + fsync"
    rows.append(("push monolithic / disk write + fsync", "(context)", over(med(0), disk), None))
    rows.append(("push chunked / disk write + fsync", "(context)", over(med(1), disk), None))
    cached = PAGE_CACHE_BOUND
    rows.append(("push monolithic / new file in memory", "(context)", over(med(0), cached), None))
    fill = over(report.median(run.bounds.get(cached, [])), "sha256 of the blob")
    rows.append(("new file in memory / sha256", "(context)", fill, None))
    receive = over(med(0), RECEIVE_BOUND)
    rows.append(("push monolithic / granian receive-and-drop", "(context)", receive, None))
    add("pull / nginx sendfile", ">= 0.9", over(med(2), "nginx sendfile pull"), 0.9)
    add(
        "pull x8 / nginx sendfile x8",
        ">= 0.9",
        over(med(3), "nginx sendfile pull, 8 in parallel"),
        0.9,
    )
    add("manifest GET (token + IAM) / distribution", ">= 3", ratio(4), 3.0)
    add("manifest HEAD (token + IAM) / distribution", ">= 3", ratio(6), 3.0)
    add("manifest GET p99 (ms)", "< 20", med(5), 20.0, below=True)
    add("manifest HEAD p99 (ms)", "< 20", med(7), 20.0, below=True)
    add("manifest PUT / distribution", ">= 2", ratio(8), 2.0)
    token_get, anonymous = med(4), med(14)
    auth_cost = token_get / anonymous if token_get and anonymous else None
    add("token GET / anonymous public GET", ">= 0.8", auth_cost, 0.8)
    peak = run.notes.get("berth peak RSS MB")
    add(
        "Berth peak memory, PSS (MB)", "< 200", peak if isinstance(peak, float) else None, 200, True
    )
    return rows


def render(run: Run, command: str, args: argparse.Namespace, chart: Path) -> str:
    notes = run.notes
    return "\n".join(
        [
            f"Measured {notes['date']} on {notes['machine']}; Berth with "
            f"{args.berth_workers} worker(s)"
            f"{'' if args.no_download_port else ' and --download-port'}"
            f"{'' if args.no_upload_port else ' and --upload-port'}; "
            f"medians of {args.repeats} repeats.",
            "",
            "```",
            command,
            "```",
            "",
            report.results_table(run.workloads, run.samples),
            "",
            "Bounds of this machine, measured in the same run on the same blob:",
            "",
            report.bounds_table(run.bounds),
            "",
            "CPU each pull cost, in seconds per GB pulled: the server's processes, and the client"
            " (this benchmark's threads reading the responses):",
            "",
            report.cpu_table(run.cpu),
            "",
            f"Berth's memory (PSS summed over its processes, so pages the workers share with the "
            f"main process count once): {notes['berth RSS before rates MB']:.0f} MB before and "
            f"{notes['berth RSS after rates MB']:.0f} MB after "
            f"{notes.get('requests berth', 0):,} manifest requests; peak "
            f"{notes['berth peak RSS MB']:.0f} MB over the whole run (largest single process: "
            f"{notes['berth peak single-process RSS MB']:.0f} MB RSS).",
            "",
            "Requests each listing took (a registry that ignores `n` answers in one page): "
            + "; ".join(
                f"{k.replace(' pages: ', ': ')} = {v}" for k, v in notes.items() if " pages: " in k
            )
            + ".",
            "",
            f"![Berth / distribution]({chart.name})",
            "",
            report.targets_table(targets_met(run)),
            "",
            f"Raw samples: `{display(args.json)}`.",
        ]
    )


def display(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(path)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short rate runs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--berth-workers", type=int, default=1)
    parser.add_argument(
        "--no-download-port",
        action="store_true",
        help="run Berth without --download-port: blobs are sent by the registry port itself",
    )
    parser.add_argument(
        "--no-upload-port",
        action="store_true",
        help="run Berth without --upload-port: upload bodies go to the registry port itself",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "performance.md")
    parser.add_argument("--chart", type=Path, default=REPO_ROOT / "docs" / "performance.png")
    parser.add_argument(
        "--json", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "bench.json"
    )
    parser.add_argument("--work-dir", type=Path, help="where blobs and registry data go (tmp)")
    parser.add_argument(
        "--only",
        default=",".join(GROUPS),
        help=f"comma-separated workload groups to run, of {', '.join(GROUPS)} (default: all)",
    )
    args = parser.parse_args(argv)
    args.groups = set(args.only.split(","))
    if unknown := args.groups - set(GROUPS):
        parser.error(f"unknown workload groups: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/run.py", *argv])
    sizes = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="berth-bench-", dir=args.work_dir) as temporary:
        Path(temporary).chmod(0o755)  # nginx's workers (user nobody) read the blob in it
        run = Run(sizes, Path(temporary))
        run.notes["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        run.notes["machine"] = report.machine()
        if "blobs" in args.groups:
            print("measuring this machine's bounds", flush=True)
            measure_bounds(run, args.repeats)
        seed = "listings" in args.groups
        targets = start(
            run, args.berth_workers, seed, not args.no_download_port, not args.no_upload_port
        )
        sampler = servers.RssSampler(targets[0].server)
        try:
            measure(run, targets, args.repeats, args.groups)
        finally:
            run.notes["berth peak RSS MB"] = sampler.close() / 1e6
            run.notes["berth peak single-process RSS MB"] = sampler.peak_rss / 1e6
            for target in targets:
                target.server.stop()
    results = {"command": command, "notes": run.notes, "bounds": run.bounds, "cpu": run.cpu}
    results |= {"sizes": sizes.__dict__, "samples": run.samples}
    report.write_json(args.json, results)
    report.chart(args.chart, run.workloads, run.samples)
    section = render(run, command, args, args.chart)
    report.write_section(args.out, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
