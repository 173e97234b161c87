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
/// - Parameters:
///   - inputs: the inputs.
///   - placement: the worker slots; one per physical core by default (no more workers than inputs).
///   - topology: the machine; this one by default.
///   - chunkSize: inputs a worker takes at a time; about inputs ÷ (workers × 4) by default.
/// - Throws: ``PoolError/kernelFailed(_:)`` with the first failing input's message,
///   ``PoolError/workerDied(pid:signal:exitCode:)`` when a worker died, or a placement error.
public func parallelMap<Input, Output: BitwiseCopyable>(
  _ inputs: [Input], placement: PlacementPolicy = .physicalCores, topology: Topology? = nil, chunkSize: Int? = nil,
  _ transform: @escaping (Input) throws -> Output
) throws -> [Output] {
  let count = inputs.count
  guard count > 0 else { return [] }
  let outputs = try SharedMemory(size: max(1, count * MemoryLayout<Output>.stride))
  try OneShotWorkers.run(count: count, placement: placement, topology: topology, chunkSize: chunkSize) { index in
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
    count: Int, placement policy: PlacementPolicy, topology: Topology?, chunkSize: Int?,
    _ work: @escaping (Int) throws -> Void
  ) throws {
    let machine = try topology ?? Topology.current()
    guard machine.isThisSystem else { throw SchedulerError.notThisSystem(source: machine.source.description) }
    let slots = try machine.placement(policy).slots.prefix(count)
    let chunk = max(1, chunkSize ?? (count + slots.count * 4 - 1) / (slots.count * 4))
    let control = try SharedMemory(size: 64)  // the next unclaimed input
    let failures = try (0..<slots.count).map { _ in try ByteRing(capacity: 64 * 1024) }
    let next = control.baseAddress
    let workers = slots.enumerated().map { position, slot in
      Multiprocessing.Process(name: "ParallelMap-\(position)", startMethod: .fork) {
        try Topology.bindCallingThread(to: slot.cpus)
        while true {
          let start = UnsafeAtomicAdd.add(next, chunk)
          guard start < count else { break }
          for index in start..<min(start + chunk, count) {
            do {
              try work(index)
            } catch {
              try failures[position].send(TaskFailure(index: index, message: "\(error)"))
              atomicStore(next, count)  // stop the others early: the call fails anyway
              break
            }
          }
        }
      }
    }
    var started: [Multiprocessing.Process] = []
    do {
      for worker in workers {
        try worker.start()
        started.append(worker)
      }
    } catch {
      for worker in started { try? worker.kill() }
      for worker in started { try? worker.join() }
      throw error
    }
    for worker in workers { try worker.join() }

    var firstFailure: TaskFailure?
    for ring in failures {
      ring.close()
      while let failure = try ring.receive(TaskFailure.self) {
        if firstFailure.map({ failure.index < $0.index }) ?? true { firstFailure = failure }
      }
    }
    for worker in workers {
      guard let code = try worker.exitCode, code != 0 else { continue }
      let pid = worker.pid ?? 0
      throw PoolError.workerDied(pid: pid, signal: code < 0 ? -code : nil, exitCode: code > 0 ? code : nil)
    }
    if let firstFailure { throw PoolError.kernelFailed(firstFailure.message) }
  }
}
