#!/usr/bin/env python3
"""The project's Python reference for `mpbench --compare-python`.

Runs the kernels that Python can express the same way (the reference Monte Carlo kernel,
the allocation-heavy kernel and the imbalanced kernel; see Sources/Kernels) serially, with
multiprocessing.Pool and with threads, and prints one JSON object of wall times, so that
mpbench can set them beside its own modes in the same run. Checksums are computed exactly as
the Swift kernels do; a mismatch exits with status 2.

usage: mpbench_reference.py --workers N --repetitions R --units U
           --mc-samples M --alloc-words W --imbalanced-base B
"""
import argparse
import json
import signal
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool

MASK = (1 << 64) - 1


def splitmix64(z):
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def lcg(s):
    return (s * 6364136223846793005 + 1442695040888963407) & MASK


def mc_unit(k, samples):
    s = splitmix64(k)
    hits = 0
    for _ in range(samples):
        s = (s * 6364136223846793005 + 1442695040888963407) & MASK
        x = s >> 33
        s = (s * 6364136223846793005 + 1442695040888963407) & MASK
        y = s >> 33
        if x * x + y * y < (1 << 62):
            hits += 1
    return hits


def alloc_unit(k, words):
    s = splitmix64(k)
    items = []
    for _ in range(words):
        s = lcg(s)
        items.append("w" + format(s >> 40, "x"))
    items.sort()
    counts = {}
    for word in items:
        key = word[:4]
        counts[key] = counts.get(key, 0) + 1
    checksum = 0

    def fold(text):
        nonlocal checksum
        for byte in text.encode():
            checksum = (checksum * 31 + byte) & MASK

    for key in sorted(counts):
        fold(key)
        checksum = (checksum * 31 + counts[key]) & MASK
    if items:
        fold(items[words // 2])
    return checksum


def imbalanced_weight(k):
    return 1 << (splitmix64((k + 0x10000) & MASK) % 6)


def imbalanced_unit(k, base):
    return mc_unit(k, imbalanced_weight(k) * base)


def run_task(task):
    kernel, k, parameter = task
    return KERNELS[kernel](k, parameter)


KERNELS = {"monte-carlo": mc_unit, "allocation": alloc_unit, "imbalanced": imbalanced_unit}


def word_kernel(word):
    """The kernel of `mpbench pool`'s Codable row: a string in, a short list out."""
    return [len(word.encode()), word.encode()[0]]


def codable_overhead(workers, repetitions):
    """Microseconds per task of Pool.map(word_kernel) over 100k strings (median, min, max)."""
    words = [f"word {i}" for i in range(100_000)]
    per_task = []
    with Pool(workers) as pool:
        pool.map(word_kernel, words[:1000])
        for _ in range(repetitions):
            wall, outputs = timed(lambda: pool.map(word_kernel, words))
            if outputs[-1] != [len(words[-1]), ord("w")]:
                sys.exit("wrong Pool.map results")
            per_task.append(wall / len(words) * 1e6)
    return {"median": statistics.median(per_task), "min": min(per_task), "max": max(per_task)}


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main():
    # A launcher's blocked signals are inherited (a program started from a libdispatch worker
    # thread has SIGTERM blocked, for one); Pool.terminate() stops its workers with SIGTERM.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--mc-samples", type=int, default=65536)
    parser.add_argument("--alloc-words", type=int, default=20000)
    parser.add_argument("--imbalanced-base", type=int, default=4096)
    parser.add_argument("--vector", action="store_true", help="print test vectors and exit")
    parser.add_argument("--codable", action="store_true",
                        help="print Pool.map's µs per task on mpbench pool's String -> [Int] kernel and exit")
    options = parser.parse_args()
    if options.codable:
        print(json.dumps(codable_overhead(options.workers, max(options.repetitions, 5))))
        return
    if options.vector:
        print(json.dumps({"alloc_unit_3_1000": alloc_unit(3, 1000), "imbalanced_weights": [imbalanced_weight(k) for k in range(8)]}))
        return
    parameters = {
        "monte-carlo": options.mc_samples,
        "allocation": options.alloc_words,
        "imbalanced": options.imbalanced_base,
    }
    rows = []
    with Pool(options.workers) as pool, ThreadPoolExecutor(options.workers) as threads:
        pool.map(run_task, [("monte-carlo", 0, 1)] * options.workers)  # start the workers
        for kernel, parameter in parameters.items():
            tasks = [(kernel, k, parameter) for k in range(options.units)]
            modes = {
                "serial": lambda: sum(map(run_task, tasks)) & MASK,
                "pool": lambda: sum(pool.map(run_task, tasks)) & MASK,
                "threads": lambda: sum(threads.map(run_task, tasks)) & MASK,
            }
            checksums = set()
            for mode, function in modes.items():
                walls = []
                for _ in range(options.repetitions):
                    wall, checksum = timed(function)
                    walls.append(wall)
                    checksums.add(checksum)
                rows.append({"kernel": kernel, "mode": mode, "workers": 1 if mode == "serial" else options.workers,
                             "median": statistics.median(walls), "min": min(walls), "max": max(walls),
                             "checksum": checksum})
            if len(checksums) != 1:
                print(f"{kernel}: checksums differ between modes: {sorted(checksums)}", file=sys.stderr)
                sys.exit(2)
    print(json.dumps({"python": sys.version.split()[0], "rows": rows}))


if __name__ == "__main__":
    main()
