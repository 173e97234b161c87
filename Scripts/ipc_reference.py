#!/usr/bin/env python3
"""Python's multiprocessing.Queue and Pipe between two processes, for
`mpbench rings --compare-python`.

Queue: one producer process puts N integers, this process gets them (as `mpbench rings` does
with Queue<Int>). Pipe: a child echoes an integer back N times over a duplex Pipe (as with
Connection), and over TCP on the loopback between a Listener with an authkey and a child
that connects with Client (as with Listener and Connection.connect). Manager: sets of a key of
a manager.dict(), each a round trip to the manager's server (as with Manager). Prints
{"itemsPerSecond": ..., "pipeRoundTripMicroseconds": ..., "socketRoundTripMicroseconds": ...,
"managerRoundTripMicroseconds": ...} as JSON, each the median of --repetitions runs.
"""
import argparse
import json
import multiprocessing
import multiprocessing.connection
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


def echo(connection):
    while True:
        value = connection.recv()
        if value < 0:
            return
        connection.send(value + 1)


def pipe_round_trip(count):
    here, there = multiprocessing.Pipe()
    child = multiprocessing.Process(target=echo, args=(there,))
    child.start()
    return round_trips(here, child, count)


def round_trips(here, child, count):
    """The median of count round trips to child, which echoes on here's other end; then ends it."""
    samples = []
    for value in range(count):
        started = time.perf_counter()
        here.send(value)
        if here.recv() != value + 1:
            raise SystemExit("the connection lost its value")
        samples.append(time.perf_counter() - started)
    here.send(-1)
    child.join()
    return statistics.median(samples) * 1e6


def connect_and_echo(address, authkey):
    echo(multiprocessing.connection.Client(address, authkey=authkey))


def socket_round_trip(count):
    listener = multiprocessing.connection.Listener(("127.0.0.1", 0), authkey=b"mpbench")
    child = multiprocessing.Process(target=connect_and_echo, args=(listener.address, b"mpbench"))
    child.start()
    median = round_trips(listener.accept(), child, count)
    listener.close()
    return median


def manager_round_trip(count):
    """The median time of count sets of a key of a manager.dict()."""
    with multiprocessing.Manager() as manager:
        dictionary = manager.dict()
        samples = []
        for value in range(count):
            started = time.perf_counter()
            dictionary[value % 100] = value
            samples.append(time.perf_counter() - started)
        if dictionary[99] != count - 1:
            raise SystemExit("the manager lost a value")
    return statistics.median(samples) * 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--round-trips", type=int, default=10_000)
    arguments = parser.parse_args()
    rates = [run_once(arguments.items) for _ in range(arguments.repetitions)]
    trips = [pipe_round_trip(arguments.round_trips) for _ in range(arguments.repetitions)]
    sockets = [socket_round_trip(arguments.round_trips) for _ in range(arguments.repetitions)]
    managers = [manager_round_trip(arguments.round_trips) for _ in range(arguments.repetitions)]
    print(json.dumps({
        "itemsPerSecond": statistics.median(rates),
        "pipeRoundTripMicroseconds": statistics.median(trips),
        "socketRoundTripMicroseconds": statistics.median(sockets),
        "managerRoundTripMicroseconds": statistics.median(managers),
    }))


if __name__ == "__main__":
    main()
