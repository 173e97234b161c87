#!/usr/bin/env python3
"""Writes a linker's symbol-ordering file from callgrind profiles of forked children.

Reads the files `callgrind_out.*` that Scripts/child-start-order's valgrind runs wrote in the
folder given as the first argument (run with --dump-after=_Fork, --compress-strings=no,
--demangle=no): a process's first part ends where its first fork returned, so in a forked
child it is the parent's history, inherited; every later part is what the child ran (in a
parent, what it ran after a fork). Prints the symbol of each function of the program
(the object named by the second argument) that a forked child ran in those later parts, the
functions that ran in the most processes first, so that the code every forked child runs
shares the fewest pages.
"""

import collections
import pathlib
import re
import sys


def functions_by_process(folder: pathlib.Path, program: str) -> dict[str, set[str]]:
    """The program's functions each process ran after its first fork, by pid."""
    ran: dict[str, set[str]] = collections.defaultdict(set)
    part_name = re.compile(r"callgrind_out\.(\d+)(?:\.(\d+))?$")
    for path in folder.iterdir():
        match = part_name.match(path.name)
        if not match:
            continue
        pid, part = match.group(1), match.group(2)
        if part == "1":
            continue  # up to the first fork's return: inherited, in a forked child
        in_program = False
        with path.open(errors="replace") as lines:
            for line in lines:
                if line.startswith("ob="):
                    in_program = line[3:].strip() == program
                elif line.startswith("fn=") and in_program:
                    # A recursive call's frames are named `f'2`, `f'3`...
                    ran[pid].add(line[3:].strip().split("'")[0])
        # A process that never forked has only its final part: its whole run, not a child's.
        if part is None and not (folder / f"callgrind_out.{pid}.1").exists():
            ran.pop(pid, None)
    return ran


def main() -> None:
    folder, program = pathlib.Path(sys.argv[1]), sys.argv[2]
    ran = functions_by_process(folder, program)
    # The process valgrind started has the lowest pid (its children's came after it): what it
    # ran is the parent's side, whose code is mapped in the parent already; left out, so that
    # the children's functions lie closer together.
    parent = min(ran, key=int, default=None)
    counts: collections.Counter[str] = collections.Counter()
    for pid, functions in ran.items():
        if pid != parent:
            counts.update(functions)
    # Most processes first; then by name, so that the file changes only where the code did.
    for name, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        print(name)


if __name__ == "__main__":
    main()
