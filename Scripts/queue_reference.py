#!/usr/bin/env python3
"""Python's multiprocessing.Queue between two processes, for `mpbench rings --compare-python`.

One producer process puts N integers, this process gets them (as `mpbench rings` does with
Queue<Int>); prints {"itemsPerSecond": ...} (the median of --repetitions runs) as JSON.
"""
import argparse
import json
import multiprocessing
import statistics
import time


def produce(queue, count):
    for value in range(count):
        queue.put(value)


def run_once(count):
    queue = multiprocessing.Queue()
    producer = multiprocessing.Process(target=produce, args=(queue, count))
    producer.start()
    started = time.perf_counter()
    total = 0
    for _ in range(count):
        total += queue.get()
    elapsed = time.perf_counter() - started
    producer.join()
    if total != count * (count - 1) // 2:
        raise SystemExit(f"lost items: sum {total}")
    return count / elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repetitions", type=int, default=3)
    arguments = parser.parse_args()
    rates = [run_once(arguments.items) for _ in range(arguments.repetitions)]
    print(json.dumps({"itemsPerSecond": statistics.median(rates), "min": min(rates), "max": max(rates)}))


if __name__ == "__main__":
    main()
