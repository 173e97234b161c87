import Multiprocessing

/// One call's worth of work in a ``ProcessPool``: its inputs, their outputs as they arrive,
/// and what to do with each result and at the end. Used only under the dispatcher's lock.
///
/// Outputs go straight into one buffer, and per-input states into bytes, so that recording a
/// result builds no generic value: unspecialised generic code pays for every one it builds.
final class PoolJob<Input, Output>: @unchecked Sendable {
  // @unchecked: every field is used under the dispatcher's lock.
  static var pending: UInt8 { 0 }
  static var succeeded: UInt8 { 1 }
  static var failed: UInt8 { 2 }

  let id: Int
  let inputs: [Input]
  let count: Int
  /// Raw storage for `count` outputs: typed pointer arithmetic in unspecialised code costs a
  /// metadata lookup per use, raw arithmetic does not.
  private let outputs: UnsafeMutableRawPointer
  private let stride = MemoryLayout<Output>.stride
  private let states: UnsafeMutablePointer<UInt8>
  private var failures: [Int: PoolError] = [:]
  // Unchecked: used under the dispatcher's lock only; checks would cost more than the update.
  @exclusivity(unchecked) private(set) var remaining: Int
  let onResult: ((Int, Result<Output, PoolError>) -> Void)?
  /// Whether `onResult` is set: tested first, since merely loading the optional closure costs
  /// a runtime metadata lookup in unspecialised code.
  let observed: Bool
  let onFinish: (PoolJob) -> Void
  /// Whether its caller stopped waiting (``PoolDispatcher/cancel(jobID:)``): tasks given back
  /// after a death fail as cancelled instead of running again, and no further board round
  /// is published.
  var cancelled = false
  /// When the job was submitted, in nanoseconds of the monotonic clock.
  let submittedAt = monotonicNanoseconds()

  init(
    id: Int, inputs: [Input], onResult: ((Int, Result<Output, PoolError>) -> Void)?,
    onFinish: @escaping (PoolJob) -> Void
  ) {
    self.id = id
    self.inputs = inputs
    self.onResult = onResult
    observed = onResult != nil
    self.onFinish = onFinish
    count = inputs.count
    outputs = .allocate(
      byteCount: max(count, 1) * MemoryLayout<Output>.stride, alignment: MemoryLayout<Output>.alignment)
    states = .allocate(capacity: max(count, 1))
    states.initialize(repeating: Self.pending, count: max(count, 1))
    remaining = count
  }

  deinit {
    // One call per run of outputs: unspecialised, each call goes through the type's metadata
    // (a million single ones took 5 ms even for a type with nothing to destroy).
    var local = 0
    while local < count {
      guard states[local] == Self.succeeded else {
        local += 1
        continue
      }
      let end = stateRunEnd(in: states, from: local, below: count, equalTo: Self.succeeded)
      (outputs + local * stride).assumingMemoryBound(to: Output.self).deinitialize(count: end - local)
      local = end
    }
    outputs.deallocate()
    states.deallocate()
  }

  /// How many inputs failed so far.
  var failureCount: Int { failures.count }

  /// Whether input `local` has its result.
  func isDone(_ local: Int) -> Bool { states[local] != Self.pending }

  /// Records the output of input `local`; returns whether the job is now finished.
  func succeed(_ local: Int, _ output: Output) -> Bool {
    guard local < count, states[local] == Self.pending else { return false }
    (outputs + local * stride).initializeMemory(as: Output.self, to: output)
    states[local] = Self.succeeded
    remaining -= 1
    if observed { onResult?(local, .success(output)) }
    return remaining == 0
  }

  /// Records the outputs of inputs `local ..< local + run.count`, copied as bytes (the
  /// channels send runs only for `BitwiseCopyable` outputs); returns whether the job is now
  /// finished.
  func succeed(_ local: Int, _ run: OutputRun) -> Bool {
    guard local >= 0, local + run.count <= count else { return false }
    var position = 0
    while position < run.count {
      guard states[local + position] == Self.pending else {
        position += 1
        continue
      }
      // Each run of pending inputs in one copy when the outputs lie as they do here: one
      // `memcpy` per output cost more than the rest of a trivial task.
      let end = stateRunEnd(in: states, from: local + position, below: local + run.count, equalTo: Self.pending) - local
      if run.stride == stride {
        (outputs + (local + position) * stride).copyMemory(
          from: run.outputs + position * run.stride, byteCount: (end - position) * stride)
      } else {
        for each in position..<end {
          (outputs + (local + each) * stride).copyMemory(
            from: run.outputs + each * run.stride, byteCount: run.byteCount)
        }
      }
      (states + local + position).update(repeating: Self.succeeded, count: end - position)
      remaining -= end - position
      if observed {
        for each in position..<end {
          onResult?(local + each, .success(outputs.load(fromByteOffset: (local + each) * stride, as: Output.self)))
        }
      }
      position = end
    }
    return remaining == 0
  }

  /// Records the failure of input `local`; returns whether the job is now finished.
  func fail(_ local: Int, _ error: PoolError) -> Bool {
    guard local < count, states[local] == Self.pending else { return false }
    failures[local] = error
    states[local] = Self.failed
    remaining -= 1
    if observed { onResult?(local, .failure(error)) }
    return remaining == 0
  }

  /// Fails every input not yet done with `error`.
  func failRemaining(_ error: PoolError) {
    for local in 0..<count where states[local] == Self.pending { _ = fail(local, error) }
  }

  /// The outputs in input order, or the first failure in input order.
  func outputsInOrder() -> Result<[Output], PoolError> {
    if let first = failures.keys.min() { return .failure(failures[first]!) }
    return .success(Array(UnsafeBufferPointer(start: outputs.assumingMemoryBound(to: Output.self), count: count)))
  }

  /// Each input's result, in input order.
  var results: [Result<Output, PoolError>] {
    (0..<count).map { local in
      states[local] == Self.succeeded
        ? .success(outputs.load(fromByteOffset: local * stride, as: Output.self))
        : .failure(failures[local] ?? .terminated)
    }
  }
}
