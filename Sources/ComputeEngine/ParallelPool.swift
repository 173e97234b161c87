/// What every pool offers, on one machine or across machines: Python's
/// `concurrent.futures.Executor`, which `ProcessPoolExecutor` and mpi4py's `MPIPoolExecutor`
/// share. Code written against it runs on a ``ProcessPool``, or on a `ClusterPool`'s driver
/// by changing the line that makes the pool:
///
/// ```swift
/// func sumOfSquares(_ pool: some ParallelPool<Int, Int>) throws -> Int {
///   try pool.map(Array(0..<1000), chunkSize: nil).reduce(0, +)
/// }
/// ```
///
/// Its members are synchronous and answer on the calling thread, because a cluster pool's do:
/// MPI is driven from the one thread that made the pool; so its lazy map, ``imap(_:chunkSize:window:_:)``,
/// hands each output to a closure rather than returning a sequence. The asynchronous forms
/// (`map` and `submit` as `async`, `imap` and `imapUnordered` as `AsyncSequence`s,
/// `mapUnordered` as one) are ``ProcessPool``'s own. ``shutdown()`` ends either pool.
public protocol ParallelPool<Input, Output>: AnyObject {
  /// What the kernel takes.
  associatedtype Input: Sendable
  /// What the kernel returns.
  associatedtype Output: Sendable

  /// Applies the kernel to every input and returns the outputs in input order.
  ///
  /// - Parameters:
  ///   - inputs: the inputs, in the order of the outputs.
  ///   - chunkSize: inputs handed out at once; nil lets the pool choose.
  /// - Throws: the first failed input's ``PoolError``, or the pool's own error.
  func map(_ inputs: [Input], chunkSize: Int?) throws -> [Output]

  /// Each input's result, in input order: a failed input does not end the map.
  func mapResults(_ inputs: [Input], chunkSize: Int?) throws -> [Result<Output, PoolError>]

  /// Hands each output to `body` with its input's index as it arrives, in no particular
  /// order, on the calling thread.
  ///
  /// - Throws: the first failure, or what `body` throws.
  func mapUnordered(_ inputs: [Input], chunkSize: Int?, _ body: (Int, Output) throws -> Void) throws

  /// Runs the kernel on one input and returns its output.
  func submit(_ input: Input) throws -> Output

  /// Applies the kernel to `inputs` lazily, a window at a time, handing each output to
  /// `body` in input order on the calling thread: Python's `imap`. The inputs are read only
  /// as each window is sent, so that memory holds one window of inputs and outputs, however
  /// long (or endless, until `body` throws) the sequence.
  ///
  /// - Parameters:
  ///   - inputs: the inputs, read in order.
  ///   - chunkSize: as for `map(_:chunkSize:)`.
  ///   - window: the inputs mapped at once; at least 1.
  ///   - body: takes each output, in input order.
  /// - Throws: the first failure (the outputs before it were handed over), what `body`
  ///   throws, or ``PoolError/invalidArgument(_:)`` for a window under 1.
  func imap<Inputs: Sequence>(
    _ inputs: Inputs, chunkSize: Int?, window: Int, _ body: (Output) throws -> Void
  ) throws where Inputs.Element == Input

  /// Stops taking work and ends the pool's workers once the work in flight is done, waiting
  /// for them: Python's `Executor.shutdown(wait=True)`. Work asked for afterwards throws; a
  /// second call does nothing.
  func shutdown() throws
}

extension ParallelPool {
  /// One `map(_:chunkSize:)` per window.
  public func imap<Inputs: Sequence>(
    _ inputs: Inputs, chunkSize: Int?, window: Int, _ body: (Output) throws -> Void
  ) throws where Inputs.Element == Input {
    guard window >= 1 else { throw PoolError.invalidArgument("window must be at least 1, not \(window)") }
    var iterator = inputs.makeIterator()
    // Not reserved at `window`'s size: a window far larger than the inputs (`Int.max`: all
    // of them at once) would ask for that much memory. Kept across windows instead.
    var next: [Input] = []
    while true {
      next.removeAll(keepingCapacity: true)
      while next.count < window, let input = iterator.next() { next.append(input) }
      guard !next.isEmpty else { return }
      for output in try map(next, chunkSize: chunkSize) { try body(output) }
    }
  }
}

extension ProcessPool: ParallelPool {
  /// ``close()``, then ``join()``: the queued work finishes, then the workers end.
  public func shutdown() throws {
    close()
    try join()
  }
}
