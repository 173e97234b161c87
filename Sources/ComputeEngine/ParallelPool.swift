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
/// MPI is driven from the one thread that made the pool. The asynchronous and lazy forms
/// (`map` and `submit` as `async`, `imap`, `imapUnordered`, `mapUnordered` as an
/// `AsyncSequence`) are ``ProcessPool``'s own. A pool's life is its type's: a
/// ``ProcessPool`` ends with `close()` and `join()`, a cluster pool with its `serve` call.
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
}

extension ProcessPool: ParallelPool {}
