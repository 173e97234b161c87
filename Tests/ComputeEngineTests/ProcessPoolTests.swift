import CSystemShims
import ComputeEngine
import Foundation
import Kernels
import Multiprocessing
import Scheduler
import Synchronization
import TestEntryPoints
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The pool's results: the reference kernel's checksum for any worker count, order and
/// start method; pinning; the Codable path; the API's rules.
@Suite(.timeLimit(.minutes(3))) struct ProcessPoolTests {
  static let size = MonteCarloPi.Size.test
  static let units = Array(0..<size.units)

  @Test(arguments: StartMethod.allCases, [1, 2])
  func theChecksumIsTheSameOrderedAndUnordered(method: StartMethod, workers: Int) async throws {
    _ = Fixture.ready
    let cores = try Topology().cores.count
    let pool = try ProcessPool(placement: .cores(min(workers, cores)), startMethod: method, kernel: PoolKernels.unit)
    #expect(pool.workerCount == min(workers, cores))
    let ordered = try await pool.map(Self.units)
    #expect(ordered.count == 64)
    #expect(ordered.reduce(0, &+) == Self.size.checksum)
    #expect(ordered[0] == 800 && ordered[1] == 796 && ordered[2] == 790 && ordered[3] == 795)
    var unordered: [Int: UInt64] = [:]
    for try await (index, hits) in pool.mapUnordered(Self.units, chunkSize: 3) { unordered[index] = hits }
    #expect(unordered.count == 64)
    #expect(unordered.values.reduce(0, &+) == Self.size.checksum)
    #expect(try await pool.map(Self.units, chunkSize: 1) == ordered)
    #expect(try await pool.submit(1) == 796)
    pool.close()
    try pool.join()
  }

  /// A local pool passes the interface tests every `ParallelPool` passes (a cluster pool's
  /// driver runs the same `exerciseParallelPool` in `ClusterPoolTests`).
  @Test func theLocalPoolKeepsTheParallelPoolInterface() throws {
    struct Negative: Error {}
    let pool = try ProcessPool<Int, Int>(placement: .cores(2)) { input in
      guard input >= 0 else { throw Negative() }
      return input * 2
    }
    #expect(exerciseParallelPool(pool) == [])
    pool.close()
    try pool.join()
  }

  /// The pool's thread carries a name the kernel keeps (at most 15 bytes: a longer one is
  /// refused, and the thread stays nameless), for `top -H`, `ps -L` and debuggers.
  @Test func thePoolsThreadIsNamed() throws {
    let pool = try ProcessPool<Int, Int>(placement: .cores(1)) { $0 }
    defer { pool.terminate() }
    _ = try pool.map([1])
    func names() -> [String] {
      let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
      return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
    }
    // The thread names itself once it runs, which a loaded machine may delay.
    #expect(eventually { names().contains("mp-dispatcher\n") }, "\(Set(names()))")
    // Its workers, under their names.
    let worker = try String(contentsOfFile: "/proc/\(pool.workerPIDs[0])/comm", encoding: .utf8)
    #expect(worker == "PoolWorker-0\n")
  }

  @Test func everyPhysicalCoreByDefault() throws {
    let pool = try ProcessPool<Int, UInt64> { MonteCarloPi.unit(UInt64($0), samples: Self.size.samples) }
    #expect(pool.workerCount == (try Topology().cores.count))
    #expect(try pool.map(Self.units).reduce(0, &+) == Self.size.checksum)
    pool.terminate()
    try pool.join()
  }

  @Test func workersRunOnTheirSlots() throws {
    let machine = try Topology()
    let pool = try ProcessPool<Int, Int32>(placement: .physicalCores) { _ in cs_sched_getcpu() }
    let cpus = Set(try pool.map(Array(0..<2000), chunkSize: 10))
    #expect(cpus.isSubset(of: Set(try machine.placement().slots.flatMap(\.cpus).map(Int32.init))))
    let last = machine.allowedCPUs.indices.last!
    let pinned = try ProcessPool(placement: .cpus([last]), kernel: PoolKernels.cpu)
    #expect(Set(try pinned.map(Array(0..<100))) == [Int32(last)])
  }

  @Test func longTasksAreSpreadOverEveryWorker() throws {
    // Eight 30 ms tasks on two workers: each worker must run about half, not hoard them.
    guard try Topology().cores.count >= 2 else { return }
    let pool = try ProcessPool<Int, Int32>(placement: .cores(2)) { _ in
      usleep(30_000)
      return getpid()
    }
    let counts = Dictionary(grouping: try pool.map(Array(0..<8)), by: { $0 }).mapValues(\.count)
    #expect(counts.count == 2)
    #expect(counts.values.allSatisfy { $0 >= 3 })
  }

  @Test func unpinnedWorkersKeepTheParentsAffinity() throws {
    let allowed = try Topology().allowedCPUs.count
    // One slot, but not bound to it: the worker may run on every CPU the parent may.
    let pool = try ProcessPool<Int, Int32>(placement: .cpus([0]), pinned: false) { _ in
      var cpus = [Int32](repeating: 0, count: 1024)
      return cs_sched_getaffinity(0, &cpus, 1024)
    }
    #expect(!pool.isPinned)
    #expect(try pool.map([1, 2]) == [Int32(allowed), Int32(allowed)])
    let pinned = try ProcessPool<Int, Int32>(placement: .cpus([0])) { _ in
      var cpus = [Int32](repeating: 0, count: 1024)
      return cs_sched_getaffinity(0, &cpus, 1024)
    }
    #expect(try pinned.map([1]) == [1])
  }

  @Test(arguments: [StartMethod.spawn, .forkserver])
  func spawnedWorkersArePinnedToo(method: StartMethod) throws {
    _ = Fixture.ready
    let last = try Topology().allowedCPUs.indices.last!
    let pool = try ProcessPool(placement: .cpus([last]), startMethod: method, kernel: PoolKernels.cpu)
    #expect(Set(try pool.map(Array(0..<50))) == [Int32(last)])
  }

  @Test(arguments: StartMethod.allCases)
  func codableInputsAndOutputs(method: StartMethod) throws {
    _ = Fixture.ready
    let pool = try ProcessPool(startMethod: method, kernel: PoolKernels.text)
    let words = (0..<300).map { "word \($0) " + String(repeating: "é", count: $0 % 7) }
    #expect(try pool.map(words, chunkSize: 7) == words.map { $0.uppercased() })
    let big = String(repeating: "x", count: 9_000_000)
    #expect(try pool.map([big]) == [big.uppercased()], "larger than the 4 MiB ring")
  }

  @Test func aClosurePoolOverCodableValues() throws {
    let suffix = "!"
    let pool = try ProcessPool<[Int], String> { numbers in numbers.map(String.init).joined(separator: ",") + suffix }
    #expect(try pool.map([[1, 2], [], [3]]) == ["1,2!", "!", "3!"])
  }

  /// A chunk's results travel as its outputs plus its failures: each lands on its own task.
  @Test func codableKernelErrorsLandOnTheirTasks() throws {
    struct Refused: Error, CustomStringConvertible {
      let word: String
      var description: String { "refused \(word)" }
    }
    let pool = try ProcessPool<String, [Int]> { word in
      if word.hasSuffix("3") { throw Refused(word: word) }
      return [word.count]
    }
    let words = (0..<40).map { "w\($0)" }
    let results = try pool.mapResults(words, chunkSize: 6)
    for (word, result) in zip(words, results) {
      switch result {
      case .success(let output): #expect(!word.hasSuffix("3") && output == [word.count], "\(word)")
      case .failure(let error): #expect(error == .kernelFailed("refused \(word)"))
      }
    }
    #expect(results.filter { (try? $0.get()) == nil }.count == 4)
    pool.terminate()
  }

  /// An input or an output that cannot be encoded fails its own task with the reason; the
  /// others run (the map does not wait forever on a chunk it cannot send).
  @Test func valuesThatCannotBeEncodedFailTheirTasks() throws {
    struct Picky: Codable, Equatable {
      var value: Int
      var label = ""
      init(_ value: Int) { self.value = value }
      init(from decoder: any Decoder) throws { value = try decoder.singleValueContainer().decode(Int.self) }
      func encode(to encoder: any Encoder) throws {
        guard value % 7 != 3 else {
          throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "no \(value)"))
        }
        var container = encoder.singleValueContainer()
        try container.encode(value)
      }
    }
    let pool = try ProcessPool<Picky, Picky> { Picky($0.value + 1) }
    let results = try pool.mapResults((0..<30).map(Picky.init), chunkSize: 4)
    for (value, result) in results.enumerated() {
      switch (value % 7, result) {
      case (3, .failure(.codingFailed(let reason))): #expect(reason.contains("no \(value)"))
      case (2, .failure(.codingFailed(let reason))): #expect(reason.contains("no \(value + 1)"), "the output")
      case (_, .success(let output)): #expect(value % 7 != 2 && value % 7 != 3 && output == Picky(value + 1))
      default: Issue.record("task \(value) gave \(result)")
      }
    }
    #expect(try pool.map([Picky(0)]) == [Picky(1)], "the pool carries on")
    pool.terminate()
  }

  /// Likewise a value that encodes but refuses to decode, on either side of the channel.
  @Test func valuesThatCannotBeDecodedFailTheirTasks() throws {
    struct Strict: Codable, Equatable {
      var value: Int
      var label = ""
      init(_ value: Int) { self.value = value }
      init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        value = try container.decode(Int.self)
        guard value % 7 != 5 else {
          throw DecodingError.dataCorruptedError(in: container, debugDescription: "refuse \(value)")
        }
      }
      func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
      }
    }
    let pool = try ProcessPool<Strict, Strict> { Strict($0.value + 1) }
    let results = try pool.mapResults((0..<30).map(Strict.init), chunkSize: 3)
    for (value, result) in results.enumerated() {
      switch (value % 7, result) {
      case (5, .failure(.codingFailed(let reason))):
        #expect(reason.contains("input could not be decoded") && reason.contains("refuse \(value)"))
      case (4, .failure(.codingFailed(let reason))):
        #expect(reason.contains("output could not be decoded") && reason.contains("refuse \(value + 1)"))
      case (_, .success(let output)): #expect(value % 7 != 4 && value % 7 != 5 && output == Strict(value + 1))
      default: Issue.record("task \(value) gave \(result)")
      }
    }
    #expect(try pool.map([Strict(0)]) == [Strict(1)], "the pool carries on")
    pool.terminate()
  }

  @Test func parallelMapReadsTheSnapshotAndReturnsInOrder() throws {
    let table = (0..<10_000).map { $0 * 3 }
    let outputs = try parallelMap(Array(0..<10_000), chunkSize: 100) { table[$0] + 1 }
    #expect(outputs == table.map { $0 + 1 })
    #expect(try parallelMap([Int](), { $0 }) == [])
    let hits = try parallelMap(Self.units) { MonteCarloPi.unit(UInt64($0), samples: Self.size.samples) }
    #expect(hits.reduce(0, &+) == Self.size.checksum)
  }

  @Test func parallelMapReportsFailures() throws {
    struct Odd: Error, CustomStringConvertible { var description: String { "odd input" } }
    // Described here first: a child forked from this runner's busy threads must not be the
    // first to look its conformances up (fork safety, in ProcessesAndStartMethods.md).
    _ = "\(Odd() as any Error)"
    #expect(throws: PoolError.kernelFailed("odd input")) {
      try parallelMap(Array(0..<100)) { value -> Int in
        if value == 51 { throw Odd() }
        return value
      }
    }
    #expect(throws: PoolError.self) {
      try parallelMap(Array(0..<100)) { value -> Int in
        if value == 7 { kill(getpid(), SIGKILL) }
        return value
      }
    }
  }

  @Test func closeJoinAndTerminate() async throws {
    let pool = try ProcessPool<Int, Int> { $0 + 1 }
    #expect(throws: PoolError.invalidArgument("join() needs close() or terminate() first")) { try pool.join() }
    #expect(throws: PoolError.invalidArgument("chunkSize must be at least 1, not 0")) {
      try pool.map([1], chunkSize: 0)
    }
    let pids = pool.workerPIDs
    pool.close()
    #expect(throws: PoolError.closed) { try pool.map([1]) }
    try pool.join()
    #expect(pids.allSatisfy { !processExists($0) })

    // Terminated once a task runs, not after a fixed wait, and with tasks long enough that
    // none ends first: in loaded full runs the map had not begun 50 ms after it was asked
    // for (a map begun after `terminate()` throws), and this test's task, woken seconds late,
    // saw every 200 ms task done.
    let running = try Multiprocessing.Event()
    let slow = try ProcessPool<Int, Int> { value in
      running.set()
      usleep(30_000_000)
      return value
    }
    // The map runs on a thread of its own, begun here: as a task it waited for one of the
    // cooperative pool's two threads, and in a loaded full run got none for 60 s (long
    // synchronous tests held both), so no task of it had run when the wait below gave up.
    let finished = try Multiprocessing.Event()
    let outcome = Mutex<[Result<Int, PoolError>]?>(nil)
    let mapping = Thread {
      outcome.withLock { $0 = try? slow.mapResults(Array(0..<20), chunkSize: 1) }
      finished.set()
    }
    mapping.start()
    #expect(try await onOwnThread { running.wait(timeout: .seconds(60)) })
    slow.terminate()
    #expect(try await onOwnThread { finished.wait(timeout: .seconds(60)) })
    let results = try #require(outcome.withLock { $0 })
    #expect(results.contains { if case .failure(.terminated) = $0 { true } else { false } })
    try slow.join()
    #expect(slow.workerPIDs.allSatisfy { !processExists($0) })
  }

  /// A pool's exit hook (which ends it if the process exits first) goes once the pool has
  /// ended: a process that makes pool after pool does not keep a hook for each, which every
  /// fork template would also copy and free; nor a descriptor or a thread. In a fork-server
  /// child, whose hooks, descriptors and threads are its own.
  @Test func anEndedPoolLeavesNoExitHookDescriptorOrThread() throws {
    let child = Fixture.process(.forkserver, TestEntryPoints.poolsEndingTheirHooks, 6)
    try child.start()
    let status = try child.join(timeout: .seconds(60))
    #expect(status == .exited(0), "3: hooks, 4: a hook left, 5: descriptors, 6: threads")
  }

  @Test func badLimits() throws {
    #expect(throws: PoolError.invalidArgument("maxTasksPerWorker must be at least 1, not 0")) {
      try ProcessPool<Int, Int>(maxTasksPerWorker: 0) { $0 }
    }
    #expect(throws: SchedulerError.self) { try ProcessPool<Int, Int>(placement: .cores(999)) { $0 } }
    let elsewhere = try Topology(.synthetic("core:64 pu:1"))
    #expect(throws: SchedulerError.notThisSystem(source: "synthetic 'core:64 pu:1'")) {
      try ProcessPool<Int, Int>(placement: .cpus([63]), topology: elsewhere) { $0 }
    }
    #expect(throws: SchedulerError.notThisSystem(source: "synthetic 'core:64 pu:1'")) {
      try parallelMap([1], topology: elsewhere) { $0 }
    }
  }

  /// Each call's own data reaches workers forked long before it through a SharedState: an
  /// iterative solver's loop, without rebuilding the pool.
  @Test func eachCallSeesTheStateItWasGiven() throws {
    let centroids = try SharedState([0.0, 10.0])
    let pool = try ProcessPool<Double, Int>(placement: .cores(2)) { point in
      let centres = centroids.value
      return abs(point - centres[0]) <= abs(point - centres[1]) ? 0 : 1
    }
    defer { pool.terminate() }
    let points = [1.0, 4.0, 6.0, 9.0]
    #expect(try pool.map(points) == [0, 0, 1, 1])
    try centroids.update([5.5, 10.0])
    #expect(try pool.map(points) == [0, 0, 0, 1])
    try centroids.update([-100, 0])
    #expect(try pool.map(points) == [1, 1, 1, 1])
  }
}
