import ArgumentParser
import Foundation
import Multiprocessing

#if canImport(Glibc)
  import Glibc
#endif

/// `mpbench process-start`: what starting and joining one process costs, per start method.
struct ProcessStartCommand: ParsableCommand, RepeatedMeasurement {
  static let configuration = CommandConfiguration(
    commandName: "process-start",
    abstract: "Time start() + join() of an empty target for each start method.",
    // ArgumentParser does not wrap the usage line it builds: this one fits 80 columns.
    usage: """
      mpbench process-start [--repetitions <repetitions>] [--json]
                            [--methods <methods>]
      """
  )

  @OptionGroup var measurement: RepetitionOptions<ProcessStartCommand>
  static let defaultRepetitions = 200
  var repetitions: Int { measurement.repetitions }
  @OptionGroup var output: OutputOptions
  var json: Bool { output.json }

  @Option(help: "Comma-separated start methods.", transform: Self.parseMethods)
  var methods: [StartMethod] = StartMethod.allCases

  static func parseMethods(_ text: String) throws -> [StartMethod] {
    try text.split(separator: ",").map { name in
      guard let method = StartMethod(rawValue: String(name)) else {
        throw ValidationError("unknown start method '\(name)' (fork, spawn or forkserver)")
      }
      return method
    }
  }

  func validate() throws {
  }

  func run() throws {
    var results: [String: Statistics] = [:]
    for method in methods {
      // One untimed start: the fork server's own start-up is not a process start.
      try startAndJoin(method)
      var samples: [Double] = []
      for _ in 0..<repetitions {
        let started = ContinuousClock.now
        try startAndJoin(method)
        samples.append((ContinuousClock.now - started).microseconds)
      }
      results[method.rawValue] = Statistics(samples)
    }
    // The floor a start of this process cannot go under: a bare fork of this same process
    // (its mappings, its size), _exit and waitpid, without the library.
    var floor: [Double] = []
    for _ in 0..<repetitions {
      let started = ContinuousClock.now
      let child = fork()
      if child == 0 { _exit(0) }
      guard child > 0 else { throw BenchmarkFailure("fork failed: \(errno)") }
      var status: Int32 = 0
      while waitpid(child, &status, 0) < 0, errno == EINTR {}
      floor.append((ContinuousClock.now - started).microseconds)
    }
    results["fork-floor"] = Statistics(floor)
    if json {
      print(try prettyJSON(results))
      return
    }
    print("start + join of an empty target, \(repetitions) times per method (µs)")
    print("method        median       min       p90       max")
    for name in methods.map(\.rawValue) + ["fork-floor"] {
      let stats = results[name]!
      print(
        name.padding(toLength: 10, withPad: " ", startingAt: 0)
          + [stats.median, stats.min, stats.p90, stats.max].map { String(format: "%10.0f", $0) }.joined())
    }
    print("fork-floor: fork() + _exit(0) + waitpid of this same process, without the library")
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
