import Foundation
import Testing

/// `Scripts/child_start_order.py`, which turns callgrind's profiles of forked children into the
/// symbol order `Scripts/build-release` links by, read on profiles written here.
@Suite struct ChildStartOrderScriptTests {
  static let script = repositoryPath("Scripts/child_start_order.py")

  /// A profile part naming, per object, the functions that ran.
  func part(_ functions: [(object: String, names: [String])]) -> String {
    functions.map { object, names in
      (["ob=\(object)"] + names.flatMap { ["fn=\($0)", "0 1"] }).joined(separator: "\n")
    }.joined(separator: "\n") + "\n"
  }

  /// Each process's first part (up to its first fork's return: a child's inheritance) is left
  /// out, and so are the parent (the lowest pid), a process that never forked (a spawned one:
  /// its whole run) and every other object's functions; the rest come as symbols, those that
  /// ran in the most processes first, a recursive frame under its function's name.
  @Test func itListsWhatForkedProcessesRanAfterTheirFork() throws {
    try withTemporaryDirectory("order") { directory in
      let program = "/work/mpbench"
      let parts: [String: String] = [
        // The parent: its start (part 1), then what it ran after forking.
        "callgrind_out.100.1": part([(program, ["parentStart"])]),
        "callgrind_out.100": part([(program, ["shared", "parentAfter"])]),
        // A child: what it inherited, then its own run, partly in the C library.
        "callgrind_out.101.1": part([(program, ["inherited", "parentStart"])]),
        "callgrind_out.101": part([(program, ["shared", "childOnly'2"]), ("/lib/libc.so.6", ["malloc"])]),
        // A child whose run came in two parts (it forked in turn).
        "callgrind_out.102.1": part([(program, ["inherited"])]),
        "callgrind_out.102.2": part([(program, ["childOnly", "shared"])]),
        "callgrind_out.102": part([("/lib/libc.so.6", ["free"])]),
        // A spawned process that never forked.
        "callgrind_out.103": part([(program, ["spawnedOnly"])]),
        // A third forked child.
        "callgrind_out.104.1": part([(program, ["inherited"])]),
        "callgrind_out.104": part([(program, ["shared"])]),
      ]
      for (name, text) in parts { try text.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8) }

      let run = try runExecutable("/usr/bin/env", ["python3", Self.script, directory, program])
      #expect(run.status == 0, "\(run.stderr)")
      #expect(run.stdout.split(separator: "\n") == ["shared", "childOnly"], "\(run.stdout)")
    }
  }
}
