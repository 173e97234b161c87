import ArgumentParser
import Foundation
import Multiprocessing
import SystemCalls
import SystemPackage
import ToolSupport

#if canImport(Glibc)
  import Glibc
#endif

/// `mpbench process-start`: what starting and joining one process costs, per start method.
struct ProcessStartCommand: ParsableCommand, RepeatedMeasurement, CFloorMeasurement {
  static let configuration = CommandConfiguration(
    commandName: "process-start",
    abstract: "Time start() + join() of an empty target for each start method.",
    // ArgumentParser does not wrap the usage line it builds: this one fits 80 columns.
    usage: """
      mpbench process-start [--repetitions <repetitions>] [--json]
                            [--methods <methods>] [--c-floor/--no-c-floor]
                            [--c-floor-source <path>]
                            [--c-floor-executable <path>]
                            [--max-fork-ratio <R>] [--max-spawn-ms <ms>]
                            [--max-forkserver-ms <ms>]
      """
  )

  @OptionGroup var measurement: RepetitionOptions<ProcessStartCommand>
  static let defaultRepetitions = 200
  var repetitions: Int { measurement.repetitions }
  @OptionGroup var output: OutputOptions
  var json: Bool { output.json }

  @Option(help: "Comma-separated start methods.", transform: Self.parseMethods)
  var methods: [StartMethod] = StartMethod.allCases

  @OptionGroup var floor: CFloorOptions<ProcessStartCommand>
  static let cFloorSource = "Scripts/fork_floor.c"
  static let cFloorHelp =
    "Measure the C floor (Scripts/fork_floor.c: fork, _exit, waitpid in a small C program) in the same run."

  @Option(
    name: .customLong("max-fork-ratio"),
    help: ArgumentHelp("Fail when fork's median is over R times the C floor's.", valueName: "R"))
  var maxForkRatio: Double?

  @Option(
    name: .customLong("max-spawn-ms"),
    help: ArgumentHelp(
      "Fail when spawn's median is over this many milliseconds (issue 29's target: 2.5, for a program built by Scripts/build-release).",
      valueName: "ms"))
  var maxSpawnMilliseconds: Double?

  @Option(
    name: .customLong("max-forkserver-ms"),
    help: ArgumentHelp(
      "Fail when forkserver's median is over this many milliseconds (issue 29's target: 0.4).", valueName: "ms"))
  var maxForkserverMilliseconds: Double?

  /// How many starts of one kind are timed in a row before the next kind's: the kinds take
  /// turns, so that a noisy spell of the machine reaches them all alike.
  static let block = 25

  static func parseMethods(_ text: String) throws -> [StartMethod] {
    try text.split(separator: ",").map { name in
      guard let method = StartMethod(rawValue: String(name)) else {
        throw ValidationError("unknown start method '\(name)' (fork, spawn or forkserver)")
      }
      return method
    }
  }

  func validate() throws {
    if let maxForkRatio {
      guard maxForkRatio > 0 else { throw ValidationError("--max-fork-ratio must be positive, not \(maxForkRatio)") }
      guard floor.cFloor, methods.contains(.fork) else {
        throw ValidationError("--max-fork-ratio needs the fork method and the C floor")
      }
    }
    for (method, bound) in millisecondBounds {
      guard let bound else { continue }
      guard bound > 0 else { throw ValidationError("--max-\(method)-ms must be positive, not \(bound)") }
      guard methods.contains(method) else {
        throw ValidationError("--max-\(method)-ms needs the \(method) method")
      }
    }
  }

  /// The start methods whose median `--max-spawn-ms` and `--max-forkserver-ms` bound.
  private var millisecondBounds: [(method: StartMethod, bound: Double?)] {
    [(.spawn, maxSpawnMilliseconds), (.forkserver, maxForkserverMilliseconds)]
  }

  func run() throws {
    let floorProgram = try floor.program()
    // One untimed start each: the fork server's own start-up is not a process start.
    for method in methods { try startAndJoin(method) }
    var samples: [String: [Double]] = [:]
    var done = 0
    while done < repetitions {
      let count = min(Self.block, repetitions - done)
      for method in methods {
        for _ in 0..<count {
          let started = ContinuousClock.now
          try startAndJoin(method)
          samples[method.rawValue, default: []].append((ContinuousClock.now - started).microseconds)
        }
      }
      samples["fork-floor", default: []] += try forkFloor(count)
      if methods.contains(.spawn) { samples["spawn-floor", default: []] += try spawnFloor(count) }
      if let floorProgram { samples["c-floor", default: []] += try cFloorSamples(floorProgram, count) }
      done += count
    }
    let results = samples.mapValues(Statistics.init)
    let ratio = results["c-floor"].flatMap { floor in results["fork"].map { $0.median / floor.median } }
    let spawnRatio = results["spawn-floor"].flatMap { floor in results["spawn"].map { $0.median / floor.median } }
    let report = Report(
      starts: results, forkToCFloor: ratio, spawnToSpawnFloor: spawnRatio, threads: SystemCall.threadCount() ?? 0,
      mappings: Self.mappingCount())
    if json {
      print(try prettyJSON(report))
    } else {
      printTable(report)
    }
    if let maxForkRatio, let ratio, ratio > maxForkRatio {
      throw BenchmarkFailure(String(format: "fork / c-floor is %.2fx, over --max-fork-ratio %g", ratio, maxForkRatio))
    }
    for (method, bound) in millisecondBounds {
      guard let bound, let start = results[method.rawValue], start.median / 1000 > bound else { continue }
      throw BenchmarkFailure(
        String(format: "\(method)'s median is %.2f ms, over --max-\(method)-ms %g", start.median / 1000, bound))
    }
  }

  private func printTable(_ report: Report) {
    let (results, ratio, spawnRatio) = (report.starts, report.forkToCFloor, report.spawnToSpawnFloor)
    print("start + join of an empty target, \(repetitions) times per method, in turns of \(Self.block) (µs)")
    print("method          median       min       p90       max")
    for name in methods.map(\.rawValue) + ["fork-floor", "c-floor", "spawn-floor"] {
      guard let stats = results[name] else { continue }
      print(
        name.padding(toLength: 12, withPad: " ", startingAt: 0)
          + [stats.median, stats.min, stats.p90, stats.max].map { String(format: "%10.0f", $0) }.joined())
    }
    print("fork-floor: fork() + _exit(0) + waitpid of this same process, without the library")
    if results["c-floor"] != nil { print("c-floor: the same three calls in a small C program (Scripts/fork_floor.c)") }
    if results["spawn-floor"] != nil {
      print("spawn-floor: posix_spawn of this same binary, which exits at the top of main, + waitpid")
    }
    if let ratio { print(String(format: "fork / c-floor: %.2fx (medians; target: at most 2x)", ratio)) }
    if let spawnRatio { print(String(format: "spawn / spawn-floor: %.2fx (medians)", spawnRatio)) }
    print(
      "this process, after the runs: \(report.threads) thread(s), \(report.mappings) mappings"
        + " (a fork copies every mapping; a thread leaves its stack and malloc arena mapped)")
  }

  /// How many mappings this process has (lines of `/proc/self/maps`), 0 when they cannot be read.
  /// (Read to its end by `read` calls: procfs files report no size.)
  static func mappingCount() -> Int {
    guard let maps = try? FileDescriptor.openClosingOnExec("/proc/self/maps", flags: O_RDONLY) else { return 0 }
    defer { maps.release() }
    return ((try? maps.readToEnd()) ?? Data()).reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
  }

  /// What `--json` prints: each kind's statistics, the library's fork over the C floor and
  /// its spawn over the spawn floor (medians), when both of a pair were measured, and what
  /// this process's forks had to copy: its threads and mappings after the runs (mpbench runs
  /// the C floor and the compiler without starting a thread, so that it forks as lean as a
  /// program that starts none).
  struct Report: Encodable {
    let starts: [String: Statistics]
    let forkToCFloor: Double?
    let spawnToSpawnFloor: Double?
    let threads: Int
    let mappings: Int
  }

  /// `count` bare forks of this same process (its mappings, its size), each `_exit`ing at
  /// once and reaped with `waitpid`, without the library: the floor this process cannot go
  /// under.
  private func forkFloor(_ count: Int) throws -> [Double] {
    try (0..<count).map { _ in
      let started = ContinuousClock.now
      let child = fork()
      if child == 0 { _exit(0) }
      guard child > 0 else { throw BenchmarkFailure("fork failed: \(errno)") }
      var status: Int32 = 0
      while waitpid(child, &status, 0) < 0, errno == EINTR {}
      return (ContinuousClock.now - started).microseconds
    }
  }

  /// The argument with which this binary exits at the top of `main`: the spawn floor's run.
  static let bareStart = "--bare-start-for-the-spawn-floor"

  /// `count` bare starts of this same binary (`posix_spawn` of `/proc/self/exe` with
  /// ``bareStart``, then `waitpid`): what any spawned child of it costs before the library
  /// does anything — the program's loading, the Swift runtime's start, its exit — the floor
  /// the spawn start method cannot go under.
  private func spawnFloor(_ count: Int) throws -> [Double] {
    let executable = "/proc/self/exe"
    let arguments = [strdup(executable), strdup(Self.bareStart), nil]
    defer { for argument in arguments { free(argument) } }
    return try (0..<count).map { _ in
      let started = ContinuousClock.now
      var child: pid_t = 0
      let failed = posix_spawn(&child, executable, nil, nil, arguments, environ)
      guard failed == 0 else { throw BenchmarkFailure("posix_spawn of this binary failed: \(failed)") }
      var status: Int32 = 0
      while waitpid(child, &status, 0) < 0, errno == EINTR {}
      guard status == 0 else { throw BenchmarkFailure("this binary's bare start exited with status \(status)") }
      return (ContinuousClock.now - started).microseconds
    }
  }

  /// `count` starts of the C floor program, timed inside it.
  private func cFloorSamples(_ program: CReferenceProgram, _ count: Int) throws -> [Double] {
    let run = try ExternalCommand.run([program.executable, "\(count)"])
    let samples = run.stdout.split(separator: "\n").compactMap { Double($0) }
    guard run.status == 0, samples.count == count else {
      throw BenchmarkFailure(
        "the C floor failed (status \(run.status), \(samples.count) of \(count) samples): \(run.stderr)")
    }
    return samples
  }

  private func startAndJoin(_ method: StartMethod) throws {
    let process = Process(startMethod: method, entryPoint: BenchEntryPoints.empty, arguments: 0)
    try process.start()
    try process.join()
    guard try process.exitCode == 0 else {
      throw BenchmarkFailure("a \(method) child exited with \(String(describing: try process.exitCode))")
    }
  }
}
