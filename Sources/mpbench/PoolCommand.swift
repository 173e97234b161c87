import ArgumentParser
import ComputeEngine
import Foundation
import Kernels
import Multiprocessing
import Scheduler
import SystemCalls
import ToolSupport

#if canImport(Glibc)
  import Glibc
#endif

/// `mpbench pool`: what the process pool costs per task, how it scales the reference
/// kernel, and how fast it starts.
struct PoolCommand: ParsableCommand, RepeatedMeasurement {
  static let configuration = CommandConfiguration(
    commandName: "pool",
    abstract: "Time the pool's per-task overhead, reference-kernel speedup and cold start.",
    // ArgumentParser does not wrap the usage line it builds: this one fits 80 columns.
    usage: """
      mpbench pool [--repetitions <repetitions>] [--json] [--size <size>]
                   [--max-byte-array-ratio <R>] [--max <NAME=VALUE> ...]
                   [--min <NAME=VALUE> ...]
      """
  )

  @OptionGroup var measurement: RepetitionOptions<PoolCommand>
  static let defaultRepetitions = 5
  var repetitions: Int { measurement.repetitions }
  @OptionGroup var output: OutputOptions
  var json: Bool { output.json }

  @Option(help: "Reference kernel size for the speedup.")
  var size: MonteCarloPi.Size = .native

  @Option(
    help: ArgumentHelp(
      "Fail when rows of bytes as [UInt8] take over R times as long as rows as Data.",
      valueName: "R"))
  var maxByteArrayRatio: Double?

  @OptionGroup var bounds: FigureBoundOptions

  func validate() throws {
    if let maxByteArrayRatio, maxByteArrayRatio <= 0 {
      throw ValidationError("--max-byte-array-ratio must be positive, not \(maxByteArrayRatio)")
    }
  }

  /// The argument with which this binary times its first pool and exits (see
  /// ``timeFirstPool()``).
  static let firstPoolProbe = "--time-the-first-pool-of-this-process"

  /// A fresh process's first pool, from its making to its first result: the topology's load
  /// and every first-time cost of the runtime and the library included. Prints milliseconds.
  static func timeFirstPool() throws {
    let started = ContinuousClock.now
    let pool = try ProcessPool<Int, Int> { $0 }
    guard try pool.map([1]) == [1] else { throw BenchmarkFailure("the first pool's map gave a wrong result") }
    print((ContinuousClock.now - started).microseconds / 1000)
    pool.terminate()
    try pool.join()
  }

  /// The argument with which this binary runs the pools that `Scripts/child-start-order`
  /// profiles, and exits (see ``runChildStartsToProfile()``).
  static let childStartsToProfile = "--run-the-child-starts-to-profile"

  /// Pools whose templates and workers `Scripts/child-start-order` profiles under valgrind
  /// (where this binary cannot run itself through `/proc/self/exe`, nor start a child with the
  /// fork method, for want of `pidfd_open`), each to its first result: a process's first pool
  /// and a second one of `BitwiseCopyable` values, then one of `Codable` values, whose workers
  /// run the byte channels and the binary coder.
  static func runChildStartsToProfile() throws {
    for _ in 0..<2 {
      let pool = try ProcessPool<Int, Int> { $0 &* 2 }
      guard try pool.map([1, 2]) == [2, 4] else { throw BenchmarkFailure("a profiled pool's map gave a wrong result") }
      pool.terminate()
      try pool.join()
    }
    let codable = try ProcessPool<String, [Int]> { [$0.utf8.count] }
    guard try codable.map(["ab", "c"]) == [[2], [1]] else {
      throw BenchmarkFailure("a profiled Codable pool's map gave a wrong result")
    }
    codable.terminate()
    try codable.join()
  }

  func run() throws {
    var figures = Figures()
    func record(_ name: String, _ unit: String, _ samples: [Double]) {
      figures.record(name, unit, samples: samples)
    }

    // First: a fresh run of this binary times its first pool (the issue's "first pool of a
    // process", which a process measures once only).
    record(
      "first pool of a process to its first result", "ms",
      try (0..<repetitions).map { _ in
        let run = try ExternalCommand.run(["/proc/self/exe", Self.firstPoolProbe])
        guard run.status == 0, let milliseconds = Double(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw BenchmarkFailure("the first-pool probe failed (status \(run.status)): \(run.stderr)") }
        return milliseconds
      })
    // A cold start forks a process that has not yet grown. The machine's topology is loaded
    // once per process (Topology.current()); what that first load costs is shown apart.
    record(
      "hwloc topology load (first pool of a process)", "ms",
      try (0..<repetitions).map { _ in
        let started = ContinuousClock.now
        _ = try Topology()
        return (ContinuousClock.now - started).microseconds / 1000
      })
    // Loaded here, untimed: the pools below find it cached, as every pool after a process's
    // first does, so that the cold start does not count the load reported above.
    _ = try Topology.current()
    var workerFaults: [Double] = []
    record(
      "cold start to first result (new pool, 1 task)", "ms",
      try (0..<repetitions).map { _ in
        let started = ContinuousClock.now
        let pool = try ProcessPool<Int, Int> { $0 }
        _ = try pool.map([1])
        let elapsed = (ContinuousClock.now - started).microseconds / 1000
        // Each worker's, from its fork to its loop (its count starts at the fork; a worker
        // may still be on its way when the first result comes), the first task's included:
        // a count the host's speed does not move, where the time swings.
        pool.waitUntilReady()
        workerFaults += pool.workerPIDs.compactMap { SystemCall.minorPageFaults(of: $0).map(Double.init) }
        // Ended before the next starts (as Python's terminate() does): on a small machine a
        // pool still exiting (its workers and template unmapping themselves) slowed the next
        // one's start (3.1-3.5 ms against 2.7-3.0 joined, on 2 vCPUs).
        pool.terminate()
        try pool.join()
        return elapsed
      })
    if !workerFaults.isEmpty {
      record("page faults of a worker, from its fork to its loop", "faults", workerFaults)
    }

    let trivial = try ProcessPool<Int, Int> { $0 &+ 1 }
    let chunkedInputs = Array(0..<1_000_000)
    let singleInputs = Array(0..<20_000)
    _ = try trivial.map(Array(0..<10_000))
    record(
      "map, trivial kernel, automatic chunks (1M tasks)", "µs/task",
      try (0..<repetitions).map { _ in try perTask(trivial, chunkedInputs, chunkSize: nil, last: 1_000_000) })
    record(
      "map, trivial kernel, chunk size 1 (20k tasks)", "µs/task",
      try (0..<repetitions).map { _ in try perTask(trivial, singleInputs, chunkSize: 1, last: 20_000) })
    // A map in an inner loop: two tasks, one per worker, then the next map at once.
    record(
      "warm map of 2 trivial tasks, round trip (median of 1000)", "µs",
      try (0..<repetitions).map { _ in
        var walls: [Double] = []
        for round in 0..<1000 {
          let started = ContinuousClock.now
          let outputs = try trivial.map([round, round + 1], chunkSize: 1)
          walls.append((ContinuousClock.now - started).microseconds)
          guard outputs == [round + 1, round + 2] else { throw BenchmarkFailure("a warm map gave \(outputs)") }
        }
        return Statistics(walls).median
      })
    trivial.terminate()

    // Codable inputs and outputs travel through byte rings in BinaryEncoder's form.
    let words = try ProcessPool<String, [Int]> { word in [word.utf8.count, Int(word.utf8.first ?? 0)] }
    let wordInputs = (0..<100_000).map { "word \($0)" }
    let singleWords = Array(wordInputs[0..<20_000])
    _ = try words.map(Array(wordInputs[0..<1000]))
    let lastWord = { (inputs: [String]) in [inputs.last!.utf8.count, Int(UInt8(ascii: "w"))] }
    record(
      "map, Codable String -> [Int] kernel (100k tasks)", "µs/task",
      try (0..<repetitions).map { _ in
        try perTask(words, wordInputs, chunkSize: nil, last: lastWord(wordInputs))
      })
    record(
      "map, Codable kernel, chunk size 1 (20k tasks)", "µs/task",
      try (0..<repetitions).map { _ in
        try perTask(words, singleWords, chunkSize: 1, last: lastWord(singleWords))
      })
    words.terminate()

    // Rows of bytes (an image's, say) as [UInt8] and as Data: both travel as one counted run.
    let rowCount = 2000
    let rowBytes = 2000
    let byteArrays = try ProcessPool<Int, [UInt8]> { row in
      (0..<rowBytes).map { UInt8(truncatingIfNeeded: row &+ $0) }
    }
    let dataRows = try ProcessPool<Int, Data> { row in
      Data((0..<rowBytes).map { UInt8(truncatingIfNeeded: row &+ $0) })
    }
    let rows = Array(0..<rowCount)
    _ = try byteArrays.map(rows)
    _ = try dataRows.map(rows)
    var arrayWalls: [Double] = []
    var dataWalls: [Double] = []
    var ratios: [Double] = []
    for _ in 0..<max(repetitions, 5) {
      // Alternated, so that both see the same spells of this host.
      let arrayStart = ContinuousClock.now
      let arrays = try byteArrays.map(rows)
      let arrayWall = (ContinuousClock.now - arrayStart).microseconds / 1000
      let dataStart = ContinuousClock.now
      let datas = try dataRows.map(rows)
      let dataWall = (ContinuousClock.now - dataStart).microseconds / 1000
      guard arrays.count == rowCount, arrays[rowCount - 1] == [UInt8](datas[rowCount - 1]) else {
        throw BenchmarkFailure("rows of bytes came back wrong")
      }
      arrayWalls.append(arrayWall)
      dataWalls.append(dataWall)
      ratios.append(arrayWall / dataWall)
    }
    byteArrays.terminate()
    dataRows.terminate()
    record("map, \(rowCount) rows of \(rowBytes) bytes as [UInt8]", "ms", arrayWalls)
    record("map, \(rowCount) rows of \(rowBytes) bytes as Data", "ms", dataWalls)
    record("  [UInt8] rows / Data rows", "×", ratios)
    let byteRatio = Statistics(ratios).median

    // Supervision: the time from handing out a task whose worker is SIGKILLed to its failure.
    let doomed = try ProcessPool<Int, Int> { value in
      if value < 0 { kill(getpid(), SIGKILL) }
      return value
    }
    _ = try doomed.map([1, 2])
    record(
      "a SIGKILLed worker's task reported failed after", "ms",
      try (0..<repetitions).map { _ in
        let started = ContinuousClock.now
        let result = try doomed.mapResults([-1])[0]
        guard case .failure(PoolError.workerDied(_, .signaled(SIGKILL))) = result else {
          throw BenchmarkFailure("the killed worker's task gave \(result)")
        }
        return (ContinuousClock.now - started).microseconds / 1000
      })
    // Replacement: from handing out the fatal task to the first result of the worker forked
    // (by the pool's fork template) in its place.
    record(
      "a SIGKILLed worker replaced, serving again after", "ms",
      try (0..<repetitions).map { _ in
        let before = Set(doomed.workerPIDs)
        let started = ContinuousClock.now
        _ = try doomed.mapResults([-1])
        // The dispatcher starts the replacement before it lets the next call in.
        guard Set(doomed.workerPIDs) != before, try doomed.map([1, 2], chunkSize: 1) == [1, 2] else {
          throw BenchmarkFailure("the killed worker was not replaced")
        }
        return (ContinuousClock.now - started).microseconds / 1000
      })
    doomed.terminate()

    let units = Array(0..<size.units)
    let samples = size.samples
    let pool = try ProcessPool<Int, UInt64> { MonteCarloPi.unit(UInt64($0), samples: samples) }
    var speedups: [Double] = []
    var serials: [Double] = []
    for _ in 0..<repetitions {
      let serialStart = ContinuousClock.now
      let serial = MonteCarloPi.kernel(size)
      let serialTime = (ContinuousClock.now - serialStart).microseconds
      let poolStart = ContinuousClock.now
      let parallel = try pool.map(units).reduce(0, &+)
      let poolTime = (ContinuousClock.now - poolStart).microseconds
      guard serial == size.checksum, parallel == size.checksum else {
        throw BenchmarkFailure("checksum mismatch: serial \(serial), pool \(parallel), expected \(size.checksum)")
      }
      serials.append(serialTime / 1e6)
      speedups.append(serialTime / poolTime)
    }
    pool.terminate()
    record("reference kernel (\(size.name)), serial wall", "s", serials)
    record("reference kernel (\(size.name)), speedup with \(pool.workerCount) workers", "×", speedups)

    try figures.print(json: json, header: "median of \(repetitions) runs", width: 56, precision: 3)
    if let maxByteArrayRatio, byteRatio > maxByteArrayRatio {
      throw BenchmarkFailure(
        "rows of bytes as [UInt8] took \(String(format: "%.2f", byteRatio))× as long as Data, over --max-byte-array-ratio \(maxByteArrayRatio)"
      )
    }
    try bounds.check(figures)
  }

  /// Microseconds per task of `pool.map(inputs)`, whose last output must be `last`.
  private func perTask<Input, Output: Equatable>(
    _ pool: ProcessPool<Input, Output>, _ inputs: [Input], chunkSize: Int?, last: Output
  ) throws -> Double {
    let started = ContinuousClock.now
    let outputs = try pool.map(inputs, chunkSize: chunkSize)
    let elapsed = (ContinuousClock.now - started).microseconds
    guard outputs.last == last else { throw BenchmarkFailure("wrong pool results") }
    return elapsed / Double(inputs.count)
  }
}
