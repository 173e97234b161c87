extension ProcessPool {
  /// Runs the kernel on one input and returns its output, blocking the calling thread: the
  /// synchronous form of the `async` `submit(_:)`.
  ///
  /// - Throws: the input's ``PoolError``, or the pool's own error.
  public func submit(_ input: Input) throws -> Output {
    try map([input])[0]
  }

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
    try eachResult(inputs, chunkSize: chunkSize) { index, result in try body(index, try result.get()) }
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
    try eachResult(inputs, chunkSize: chunkSize) { index, result in
      switch result {
      case .success(let output): outputs[index] = output
      case .failure(let error):
        if firstFailure.map({ index < $0.index }) ?? true { firstFailure = (index, error) }
      }
      done += 1
      try progress(done)
    }
    if let firstFailure { throw firstFailure.error }
    return outputs.map { $0! }  // every input succeeded: none is nil
  }

  /// Runs a job and calls `body` on the calling thread with each input's result as it
  /// arrives, until the last; a `body` that throws gives the job up (inputs no worker has
  /// taken never run).
  private func eachResult(
    _ inputs: [Input], chunkSize: Int?, _ body: (Int, Result<Output, PoolError>) throws -> Void
  ) throws {
    let inbox = ResultInbox<Output>()
    let submitted = try dispatcher.submit(
      inputs, chunkSize: chunkSize, onResult: { inbox.put($0, $1) }, onFinish: { _ in inbox.finish() })
    do {
      while let (index, result) = inbox.take() { try body(index, result) }
    } catch {
      dispatcher.cancel(jobID: submitted.jobID)
      throw error
    }
  }
}

extension ProcessPool {
  /// Applies the kernel to every element of `inputs` — a range, a stride, any collection —
  /// and returns the outputs in order, turning at most `window` inputs into an array at a
  /// time: `pool.map(0..<100_000_000)` holds a window of inputs, not a hundred million.
  ///
  /// - Throws: as `map(_:chunkSize:)`, for the first window with a failure (later windows do
  ///   not run).
  @_disfavoredOverload
  public func map<Inputs: Collection<Input>>(_ inputs: Inputs, chunkSize: Int? = nil, window: Int = 1 << 20) throws
    -> [Output]
  {
    guard window >= 1 else { throw PoolError.invalidArgument("window must be at least 1, not \(window)") }
    var outputs: [Output] = []
    outputs.reserveCapacity(inputs.count)
    var start = inputs.startIndex
    while start != inputs.endIndex {
      let end = inputs.index(start, offsetBy: window, limitedBy: inputs.endIndex) ?? inputs.endIndex
      outputs += try map(Array(inputs[start..<end]), chunkSize: chunkSize)
      start = end
    }
    return outputs
  }

  /// Applies the kernel, which returns nothing (it writes into shared memory), to every
  /// element of `inputs`: a parallel-for on the pool's warm workers.
  ///
  /// ```swift
  /// let cells = try SharedArray(repeating: 0.0, count: 1 << 20).buffer
  /// let fill = try ProcessPool<Int, Void> { i in cells[i] = Double(i) }
  /// try fill.forEach(0..<cells.count)
  /// ```
  ///
  /// - Throws: as `map(_:chunkSize:)`.
  public func forEach<Inputs: Collection<Input>>(_ inputs: Inputs, chunkSize: Int? = nil) throws where Output == Void {
    _ = try map(inputs, chunkSize: chunkSize)
  }
}

extension ProcessPool where Input == Range<Int> {
  /// A map-reduce over `range` on the pool's warm workers: the range is cut into `pieces`
  /// ranges (workers × 4 by default), the kernel folds each into a partial result inside a
  /// worker (its output), and the partial results are merged here, in range order. Partial
  /// results cross between processes once per piece, not once per index.
  ///
  /// ```swift
  /// let counts = try ProcessPool<Range<Int>, [String: Int]> { piece in count(words, in: piece) }
  /// let total = try counts.reduce(0..<text.count, into: [:]) { $0.merge($1, uniquingKeysWith: +) }
  /// ```
  ///
  /// - Parameters:
  ///   - range: the indices.
  ///   - pieces: how many ranges to cut it into (at most one per index).
  ///   - initial: the result before the first merge.
  ///   - merge: folds a piece's partial result into the result.
  /// - Throws: ``PoolError/invalidArgument(_:)`` for fewer than 1 piece, or as
  ///   `map(_:chunkSize:)` (a piece's failure, after every piece ran).
  public func reduce(
    _ range: Range<Int>, pieces: Int? = nil, into initial: Output, merge: (inout Output, Output) throws -> Void
  ) throws -> Output {
    let count = pieces ?? workerCount * 4
    guard count >= 1 else { throw PoolError.invalidArgument("pieces must be at least 1, not \(count)") }
    let cuts = min(count, max(range.count, 1))
    let ranges = (0..<cuts).map { range.block($0, of: cuts) }
    var result = initial
    for partial in try map(ranges, chunkSize: 1) { try merge(&result, partial) }
    return result
  }
}
