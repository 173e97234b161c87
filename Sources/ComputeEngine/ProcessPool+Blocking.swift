extension ProcessPool {
  /// Applies the kernel to every input and calls `body` on the calling thread with each
  /// `(index, output)` as it arrives, blocking until the last: the synchronous form of the
  /// `AsyncSequence` `mapUnordered`, for code that is not `async`.
  ///
  /// The job's results are observed one by one, so it is pushed to the workers in chunks
  /// rather than put on the claim board.
  ///
  /// ```swift
  /// try pool.mapUnordered(Array(0..<100)) { index, output in print(index, output) }
  /// ```
  ///
  /// - Throws: the first failure to arrive, or what `body` throws; either way the job is
  ///   given up at once (inputs no worker has taken never run).
  public func mapUnordered(_ inputs: [Input], chunkSize: Int? = nil, _ body: (Int, Output) throws -> Void) throws {
    let inbox = ResultInbox<Output>()
    let submitted = try dispatcher.submit(
      inputs, chunkSize: chunkSize, onResult: { inbox.put($0, $1) }, onFinish: { _ in inbox.finish() })
    do {
      while let (index, result) = inbox.take() { try body(index, try result.get()) }
    } catch {
      dispatcher.cancel(jobID: submitted.jobID)
      throw error
    }
  }

  /// Applies the kernel to every input and returns the outputs in input order, as
  /// `map(_:chunkSize:)`, calling `progress` on the calling thread with the number of
  /// inputs done (failed ones included) after each result: a bar for a long map.
  ///
  /// ```swift
  /// let outputs = try pool.map(inputs) { done in if done % 1000 == 0 { print(done, "of", inputs.count) } }
  /// ```
  ///
  /// - Throws: the error of the first failed input, after all ran, as `map` does; or what
  ///   `progress` throws, which gives the job up.
  public func map(_ inputs: [Input], chunkSize: Int? = nil, progress: (Int) throws -> Void) throws -> [Output] {
    var outputs = [Output?](repeating: nil, count: inputs.count)
    var firstFailure: (index: Int, error: PoolError)?
    var done = 0
    let inbox = ResultInbox<Output>()
    let submitted = try dispatcher.submit(
      inputs, chunkSize: chunkSize, onResult: { inbox.put($0, $1) }, onFinish: { _ in inbox.finish() })
    do {
      while let (index, result) = inbox.take() {
        switch result {
        case .success(let output): outputs[index] = output
        case .failure(let error):
          if firstFailure.map({ index < $0.index }) ?? true { firstFailure = (index, error) }
        }
        done += 1
        try progress(done)
      }
    } catch {
      dispatcher.cancel(jobID: submitted.jobID)
      throw error
    }
    if let firstFailure { throw firstFailure.error }
    return outputs.map { $0! }  // every input succeeded: none is nil
  }
}
