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
  let chunkSize: Int
  let count: Int
  private let outputs: UnsafeMutablePointer<Output>
  private let states: UnsafeMutablePointer<UInt8>
  private var failures: [Int: PoolError] = [:]
  private(set) var remaining: Int
  let onResult: ((Int, Result<Output, PoolError>) -> Void)?
  let onFinish: (PoolJob) -> Void

  init(
    id: Int, inputs: [Input], chunkSize: Int, onResult: ((Int, Result<Output, PoolError>) -> Void)?,
    onFinish: @escaping (PoolJob) -> Void
  ) {
    self.id = id
    self.inputs = inputs
    self.chunkSize = chunkSize
    self.onResult = onResult
    self.onFinish = onFinish
    count = inputs.count
    outputs = .allocate(capacity: max(count, 1))
    states = .allocate(capacity: max(count, 1))
    states.initialize(repeating: Self.pending, count: max(count, 1))
    remaining = count
  }

  deinit {
    for local in 0..<count where states[local] == Self.succeeded { (outputs + local).deinitialize(count: 1) }
    outputs.deallocate()
    states.deallocate()
  }

  /// Whether input `local` has its result.
  func isDone(_ local: Int) -> Bool { states[local] != Self.pending }

  /// Records the output of input `local`; returns whether the job is now finished.
  func succeed(_ local: Int, _ output: Output) -> Bool {
    guard local < count, states[local] == Self.pending else { return false }
    (outputs + local).initialize(to: output)
    states[local] = Self.succeeded
    remaining -= 1
    onResult?(local, .success(output))
    return remaining == 0
  }

  /// Records the failure of input `local`; returns whether the job is now finished.
  func fail(_ local: Int, _ error: PoolError) -> Bool {
    guard local < count, states[local] == Self.pending else { return false }
    failures[local] = error
    states[local] = Self.failed
    remaining -= 1
    onResult?(local, .failure(error))
    return remaining == 0
  }

  /// Fails every input not yet done with `error`.
  func failRemaining(_ error: PoolError) {
    for local in 0..<count where states[local] == Self.pending { _ = fail(local, error) }
  }

  /// The outputs in input order, or the first failure in input order.
  func outputsInOrder() -> Result<[Output], PoolError> {
    if let first = failures.keys.min() { return .failure(failures[first]!) }
    return .success(Array(UnsafeBufferPointer(start: outputs, count: count)))
  }

  /// Each input's result, in input order.
  var results: [Result<Output, PoolError>] {
    (0..<count).map { local in
      states[local] == Self.succeeded ? .success(outputs[local]) : .failure(failures[local] ?? .terminated)
    }
  }
}
