/// One call's worth of work in a ``ProcessPool``: its inputs, which are done, and what to do
/// with each result and at the end. Used only under the dispatcher's lock.
final class PoolJob<Input, Output>: @unchecked Sendable {
  // @unchecked: every field is used under the dispatcher's lock.
  let id: Int
  let inputs: [Input]
  let chunkSize: Int
  private(set) var done: [Bool]
  private var outputs: [Output?]
  private var failures: [Int: PoolError] = [:]
  private(set) var remaining: Int
  let keepsResults: Bool
  let onResult: ((Int, Result<Output, PoolError>) -> Void)?
  let onFinish: (PoolJob) -> Void

  init(
    id: Int, inputs: [Input], chunkSize: Int, keepsResults: Bool,
    onResult: ((Int, Result<Output, PoolError>) -> Void)?, onFinish: @escaping (PoolJob) -> Void
  ) {
    self.id = id
    self.inputs = inputs
    self.chunkSize = chunkSize
    self.keepsResults = keepsResults
    self.onResult = onResult
    self.onFinish = onFinish
    done = Array(repeating: false, count: inputs.count)
    outputs = keepsResults ? Array(repeating: nil, count: inputs.count) : []
    remaining = inputs.count
  }

  /// Records the result of input `local`; returns whether the job is now finished.
  func record(_ local: Int, _ result: Result<Output, PoolError>) -> Bool {
    guard local < done.count, !done[local] else { return false }
    done[local] = true
    remaining -= 1
    if keepsResults {
      switch result {
      case .success(let output): outputs[local] = output
      case .failure(let error): failures[local] = error
      }
    }
    onResult?(local, result)
    return remaining == 0
  }

  /// Fails every input not yet done with `error`.
  func failRemaining(_ error: PoolError) {
    for local in done.indices where !done[local] { _ = record(local, .failure(error)) }
  }

  /// The results in input order (for jobs that keep them).
  var results: [Result<Output, PoolError>] {
    done.indices.map { local in
      if let error = failures[local] { return .failure(error) }
      return outputs[local].map { .success($0) } ?? .failure(.terminated)
    }
  }
}
