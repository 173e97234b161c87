import Foundation
import Multiprocessing
import Scheduler

#if canImport(Glibc)
  import Glibc
#endif

/// Maps `transform` over `inputs` in freshly forked worker processes, one per placement slot,
/// pinned, and returns the outputs in input order.
///
/// The workers are forked for this call, so `transform` may capture anything, and they read
/// the inputs from the copy-on-write snapshot the fork gives them: only the outputs travel,
/// written straight into shared memory. Workers take chunks from a shared counter, so uneven
/// inputs balance out.
///
/// Forking from a process whose other threads keep running is what makes `transform` see the
/// caller's memory, and is also its risk: a lock another thread held at the fork stays held in
/// the workers. The library's own path from the fork to `transform` is confirmed (a worker
/// that does not reach it is killed and forked again); `transform` itself should keep to
/// plain synchronous code, and `taskTimeout` bounds it.
///
/// - Parameters:
///   - inputs: the inputs.
///   - placement: the worker slots; one per physical core by default (no more workers than inputs).
///   - topology: the machine; this one by default.
///   - chunkSize: inputs a worker takes at a time; about inputs ÷ (workers × 4) by default.
///   - taskTimeout: the longest one input may take (nil: no limit); past it every worker is
///     killed and the call throws ``PoolError/taskTimedOut(pid:timeout:)`` naming the worker.
///   - transform: applied to each input in a worker; its output is written to shared memory.
/// - Throws: ``PoolError/kernelFailed(_:)`` with the first failing input's message,
///   ``PoolError/workerDied(pid:status:)`` when a worker died,
///   ``PoolError/taskTimedOut(pid:timeout:)``, ``PoolError/invalidArgument(_:)`` for a bad
///   chunk size or timeout, `ProcessError.childDidNotStart`, or a placement error.
public func parallelMap<Input, Output: BitwiseCopyable>(
  _ inputs: [Input], placement: PlacementPolicy = .physicalCores, topology: Topology? = nil, chunkSize: Int? = nil,
  taskTimeout: Duration? = nil, _ transform: @escaping (Input) throws -> Output
) throws -> [Output] {
  let count = inputs.count
  guard count > 0 else { return [] }
  let outputs = try SharedMemory(size: max(1, count * MemoryLayout<Output>.stride))
  try OneShotWorkers.run(
    count: count, placement: placement, topology: topology, chunkSize: chunkSize, taskTimeout: taskTimeout
  ) { index in
    (outputs.baseAddress + index * MemoryLayout<Output>.stride).storeBytes(
      of: try transform(inputs[index]), as: Output.self)
  }
  return [Output](unsafeUninitializedCapacity: count) { buffer, initialized in
    UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(
      from: outputs.baseAddress, byteCount: count * MemoryLayout<Output>.stride)
    initialized = count
  }
}

/// The workers of one ``parallelMap(_:placement:topology:chunkSize:_:)`` call.
enum OneShotWorkers {
  /// Forks the workers, lets them run `work` over every index, and waits for them.
  static func run(
    count: Int, placement policy: PlacementPolicy, topology: Topology?, chunkSize: Int?, taskTimeout: Duration?,
    _ work: @escaping (Int) throws -> Void
  ) throws {
    if let chunkSize, chunkSize < 1 {
      throw PoolError.invalidArgument("chunkSize must be at least 1, not \(chunkSize)")
    }
    if let taskTimeout, taskTimeout <= .zero {
      throw PoolError.invalidArgument("taskTimeout must be positive, not \(taskTimeout)")
    }
    let machine = try topology ?? Topology.current()
    guard machine.isThisSystem else { throw SchedulerError.notThisSystem(source: machine.source.description) }
    let slots = try machine.placement(policy).slots.prefix(count)
    let chunk = chunkSize ?? (count + slots.count * 4 - 1) / (slots.count * 4)
    // The next unclaimed input, then a line per worker: the input it runs and since when.
    let control = try PoolControl(slots: slots.count)
    let failures = try (0..<slots.count).map { _ in try ByteRing(capacity: 64 * 1024) }
    let timed = taskTimeout != nil
    // What the workers run before `work`, run once here so that they inherit its metadata.
    _ = slots.first.map { $0.cpus.indices.map(Int32.init) }
    _ = PoolError.describedOnce
    let workers = slots.enumerated().map { position, slot in
      let name = "ParallelMap-\(position)"
      return Multiprocessing.Process(name: name, startMethod: .fork) {
        CrashReport.installOneLine(label: name)
        let status = control.status(position, timed: timed)
        try Topology.bindCallingThread(to: slot.cpus)
        while true {
          let start = control.header(.nextInput).add(chunk)
          guard start < count else { break }
          for index in start..<min(start + chunk, count) {
            status.start(index)
            do {
              try work(index)
            } catch {
              try failures[position].send(TaskFailure(index: TaskID(job: 0, local: index), message: "\(error)"))
              control.header(.nextInput).value = count  // stop the others early: the call fails anyway
              break
            }
          }
        }
      }
    }
    var started: [Multiprocessing.Process] = []
    func stopAll() {
      for worker in started { try? worker.kill() }
      for worker in started { _ = try? worker.join() }
    }
    do {
      for (position, worker) in workers.enumerated() {
        // Until its first input, a worker counts as running one since its start.
        control.status(position).start(-2)
        try worker.start()
        started.append(worker)
      }
    } catch {
      stopAll()
      throw error
    }
    var running = Array(workers.indices)
    var lookedForStuck = monotonicNanoseconds()
    let stuckCheck = Multiprocessing.Process.stuckCheckInterval
    while !running.isEmpty {
      let ended = try Multiprocessing.Process.wait(
        running.map { workers[$0] }, timeout: timed ? .milliseconds(10) : stuckCheck)
      running.removeAll { (try? workers[$0].isAlive) != true }
      if ended.isEmpty, monotonicNanoseconds() - lookedForStuck >= stuckCheck.nanoseconds {
        lookedForStuck = monotonicNanoseconds()
        // A worker forked from this thread while another held a lock it then took waits for ever.
        if let stuck = PoolError.stuckAfterFork(among: running.map { workers[$0] }) {
          stopAll()
          throw stuck
        }
      }
      guard let taskTimeout else { continue }
      let now = monotonicNanoseconds()
      if let stalled = running.first(where: { now - control.status($0).startedAt > taskTimeout.nanoseconds }) {
        let pid = ((try? workers[stalled].pid) ?? nil) ?? 0
        multiprocessingLogger.warning(
          "a parallelMap worker ran one input past the timeout; all are killed",
          metadata: ["worker": "\(workers[stalled].name)", "pid": "\(pid)", "timeout": "\(taskTimeout)"])
        stopAll()
        throw PoolError.taskTimedOut(pid: pid, timeout: taskTimeout)
      }
    }

    var firstFailure: TaskFailure?
    for ring in failures {
      ring.close()
      while let failure = try ring.receive(TaskFailure.self) {
        if firstFailure.map({ failure.index.local < $0.index.local }) ?? true { firstFailure = failure }
      }
    }
    for worker in workers {
      guard let status = try worker.terminationStatus, !status.isSuccess else { continue }
      throw PoolError.workerDied(pid: try worker.pid ?? 0, status: status)
    }
    if let firstFailure { throw PoolError.kernelFailed(firstFailure.message) }
  }
}
