#!/usr/bin/env python3
"""The project's mpi4py.futures reference for `Scripts/cluster_compare`.

Run under mpirun like `mpbench cluster`: rank 0 times the reference Monte Carlo kernel
(Scripts/mpbench_reference.py's, checksum verified) serially and through an
MPICommExecutor over every other rank, and trivial tasks at chunk size 1 and in chunks of
tasks ÷ (workers × 4), then prints one JSON object.

usage: mpirun -np N python3 mpi4py_reference.py --size py --repetitions R --single-tasks T --many-tasks M
       python3 mpi4py_reference.py --check   (exits 0 when this interpreter has mpi4py, starting no MPI)
"""
import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

if "--check" in sys.argv[1:]:
    sys.exit(0 if importlib.util.find_spec("mpi4py") else "ModuleNotFoundError: No module named 'mpi4py'")

from mpi4py import MPI  # noqa: E402
from mpi4py.futures import MPICommExecutor  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpbench_reference import mc_unit  # noqa: E402

# name: (units, samples per unit, checksum), as in KERNEL.md.
SIZES = {
    "test": (64, 1_000, 50_200),
    "py": (64, 65_536, 3_295_020),
    "py-long": (64, 262_144, 13_178_741),
    "native": (64, 1 << 23, 421_643_862),
}


def negate(value):
    return -value


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="py", choices=sorted(SIZES))
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--single-tasks", type=int, default=2000)
    parser.add_argument("--many-tasks", type=int, default=100_000)
    arguments = parser.parse_args()
    units, samples, checksum = SIZES[arguments.size]
    ranks = MPI.COMM_WORLD.Get_size()
    with MPICommExecutor(MPI.COMM_WORLD, root=0) as executor:
        if executor is None:
            return
        workers = max(1, ranks - 1)
        serial, cluster, single, chunked, sums = [], [], [], [], []
        many = arguments.many_tasks
        for _ in range(arguments.repetitions):
            seconds, total = timed(lambda: sum(mc_unit(k, samples) for k in range(units)))
            serial.append(seconds)
            sums.append(total)
            seconds, total = timed(lambda: sum(executor.map(mc_unit, range(units), [samples] * units)))
            cluster.append(seconds)
            sums.append(total)
            seconds, _ = timed(lambda: list(executor.map(negate, range(arguments.single_tasks))))
            single.append(seconds / arguments.single_tasks * 1e6)
            chunk = max(1, many // (workers * 4))
            seconds, _ = timed(lambda: list(executor.map(negate, range(many), chunksize=chunk)))
            chunked.append(seconds / many * 1e6)
        serial_median = statistics.median(serial)
        cluster_median = statistics.median(cluster)
        print(json.dumps({
            "ranks": ranks,
            "size": arguments.size,
            "checksumOK": all(total == checksum for total in sums),
            "serialSeconds": serial_median,
            "clusterSeconds": cluster_median,
            "speedup": serial_median / cluster_median,
            "perTaskMicroseconds": {"chunkSize1": statistics.median(single),
                                    "automatic": statistics.median(chunked)},
        }, sort_keys=True))


if __name__ == "__main__":
    main()
