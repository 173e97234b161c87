import Foundation
import Multiprocessing
import Scheduler
import Synchronization

/// A pool of worker processes, one per placement slot (by default one per physical core),
/// each pinned to its slot, that applies a kernel to inputs: Python's `multiprocessing.Pool`,
/// supervised.
///
/// Inputs and outputs travel through shared-memory rings: typed slots when both are
/// `BitwiseCopyable` (no serialisation), in `BinaryEncoder`'s compact form otherwise. A
/// worker that dies in the middle of a task — a signal, an abort, a Swift trap, an `exit` —
/// makes that task fail with
/// ``PoolError/workerDied(pid:status:)``; every other task still completes, and a new
/// worker takes the slot. With a task timeout, a task that runs too long fails with
/// ``PoolError/taskTimedOut(pid:timeout:)`` and its worker is replaced. An error the kernel
/// throws reaches the caller as ``PoolError/kernelFailed(_:)`` with its message. If the parent
/// dies, the workers die with it.
///
/// ```swift
/// let pool = try ProcessPool<Int, UInt64> { unit in MonteCarloPi.unit(UInt64(unit), samples: 1 << 20) }
/// let hits = try pool.map(Array(0..<64))          // in input order
/// for try await (unit, hits) in pool.mapUnordered(Array(0..<64)) { print(unit, hits) }
/// pool.close(); try pool.join()
/// ```
public final class ProcessPool<Input: Sendable, Output: Sendable>: @unchecked Sendable {
  // @unchecked: all mutable state is in the dispatcher, which guards it with a lock.

  let dispatcher: PoolDispatcher<Input, Output>

  /// The slots the workers run on, worker `i` on `placement.slots[i]`.
  public var placement: Placement { dispatcher.settings.placement }
  /// How the workers are started.
  public var startMethod: StartMethod { dispatcher.settings.startMethod }
  /// The number of workers.
  public var workerCount: Int { dispatcher.settings.placement.count }
  /// Whether each worker is bound to its slot's CPUs.
  public var isPinned: Bool { dispatcher.settings.pinned }
  /// The process ids of the current workers.
  public var workerPIDs: [Int32] { dispatcher.workerPIDs }

  /// A pool of forked workers running a closure, which may capture anything.
  ///
  /// The workers are forked from a template made here, so the closure sees the caller's
  /// memory **as it is now**: what is loaded or changed later is not seen by the workers.
  /// Load the data first, or pass what changes in the inputs, or in a `SharedArray` or
  /// `SharedMatrix`, which both sides see live (``ProcessTeam`` and ``parallelMap(_:placement:topology:chunkSize:taskTimeout:_:)``
  /// fork at each call instead).
  ///
  /// - Parameters:
  ///   - placement: where the workers run; one per physical core by default.
  ///   - topology: the machine to place on; this one by default.
  ///   - taskTimeout: the longest a task may run before its worker is killed and replaced.
  ///   - maxTasksPerWorker: replace each worker after this many tasks.
  ///   - pinned: whether each worker is bound to its slot's CPUs (the default), or left for
  ///     the operating system to place and move; the placement then only sets the count.
  ///   - spinWindow: how long an idle worker keeps polling for work (and a blocking `map`
  ///     for its results) before it sleeps in the kernel: a job that follows within the
  ///     window finds its workers awake; after it an idle pool uses no CPU. Past its first
  ///     microseconds the polling gives the CPU to any thread that wants it. A `map` of
  ///     `BitwiseCopyable` values waits at least 5 ms so (unless the window is 0), so that a
  ///     job of a few milliseconds is answered without a wake-up. 0 to 1 s.
  ///   - telemetry: where the pool logs worker deaths, replacements and timeouts, and makes its
  ///     metrics (silent by default).
  ///   - initializer: run once in each worker before its first task, and in each replacement
  ///     (Python's `initializer=`); one that throws fails the pool's start with
  ///     ``PoolError/initializerFailed(_:)``.
  ///   - kernel: applied to each input.
  /// - Throws: a `SchedulerError` for a bad placement, ``PoolError/invalidArgument(_:)``,
  ///   ``PoolError/initializerFailed(_:)``.
  public convenience init(
    placement: PlacementPolicy = .physicalCores, topology: Topology? = nil, taskTimeout: Duration? = nil,
    maxTasksPerWorker: Int? = nil, pinned: Bool = true, spinWindow: Duration = Spin.limit,
    telemetry: PoolTelemetry = PoolTelemetry(), initializer: (@Sendable () throws -> Void)? = nil,
    kernel: @escaping @Sendable (Input) throws -> Output
  ) throws where Input: BitwiseCopyable, Output: BitwiseCopyable {
    try self.init(
      placement: placement, topology: topology, startMethod: .fork, taskTimeout: taskTimeout,
      maxTasksPerWorker: maxTasksPerWorker, pinned: pinned, spinWindow: spinWindow, telemetry: telemetry,
      kernel: PoolKernel("", initializer: initializer, body: kernel))
  }

  /// A pool of forked workers running a closure over `Codable` values; as the
  /// `BitwiseCopyable` form, the closure sees the caller's memory as it is at `init`.
  @_disfavoredOverload
  public convenience init(
    placement: PlacementPolicy = .physicalCores, topology: Topology? = nil, taskTimeout: Duration? = nil,
    maxTasksPerWorker: Int? = nil, pinned: Bool = true, spinWindow: Duration = Spin.limit,
    telemetry: PoolTelemetry = PoolTelemetry(), initializer: (@Sendable () throws -> Void)? = nil,
    kernel: @escaping @Sendable (Input) throws -> Output
  ) throws where Input: Codable, Output: Codable {
    try self.init(
      placement: placement, topology: topology, startMethod: .fork, taskTimeout: taskTimeout,
      maxTasksPerWorker: maxTasksPerWorker, pinned: pinned, spinWindow: spinWindow, telemetry: telemetry,
      kernel: PoolKernel("", initializer: initializer, body: kernel))
  }

  /// A pool running a registered ``PoolKernel``, with any start method.
  ///
  /// - Throws: a `SchedulerError` for a bad placement or a topology of another machine
  ///   (workers could not be pinned by it), ``PoolError/invalidArgument(_:)`` for a bad
  ///   limit, or a `ProcessError` (an unregistered kernel with spawn or forkserver).
  public init(
    placement: PlacementPolicy = .physicalCores, topology: Topology? = nil, startMethod: StartMethod = .fork,
    taskTimeout: Duration? = nil, maxTasksPerWorker: Int? = nil, pinned: Bool = true,
    spinWindow: Duration = Spin.limit, telemetry: PoolTelemetry = PoolTelemetry(), kernel: PoolKernel<Input, Output>
  ) throws {
    guard spinWindow >= .zero, spinWindow <= .seconds(1) else {
      throw PoolError.invalidArgument("spinWindow must be between 0 and 1 s, not \(spinWindow)")
    }
    if let maxTasksPerWorker, maxTasksPerWorker < 1 {
      throw PoolError.invalidArgument("maxTasksPerWorker must be at least 1, not \(maxTasksPerWorker)")
    }
    if let taskTimeout, taskTimeout <= .zero {
      throw PoolError.invalidArgument("taskTimeout must be positive, not \(taskTimeout)")
    }
    let machine = try topology ?? Topology.current()
    guard machine.isThisSystem else { throw SchedulerError.notThisSystem(source: machine.source.description) }
    let slots = try machine.placement(placement)
    dispatcher = try PoolDispatcher(
      kernel: kernel,
      settings: PoolSettings(
        startMethod: startMethod, placement: slots, pinned: pinned, taskTimeout: taskTimeout,
        maxTasksPerWorker: maxTasksPerWorker, spinWindow: spinWindow),
      telemetry: telemetry)
  }

  deinit {
    dispatcher.terminate()
  }

  /// Waits until every worker has started and reached its loop (its initializer run), so that
  /// the first map pays no worker's start: `init` returns as soon as the workers are forked.
  ///
  /// - Parameter timeout: the longest wait.
  /// - Returns: whether every worker was ready in time (false for a closed or terminated pool).
  @discardableResult
  public func waitUntilReady(timeout: Duration = .seconds(5)) -> Bool {
    dispatcher.waitUntilReady(timeout: timeout)
  }

  // MARK: Mapping

  /// Applies the kernel to every input and returns the outputs in input order, blocking the
  /// calling thread (use the `async` variant in async code).
  ///
  /// - Parameters:
  ///   - inputs: the inputs, in the order of the outputs.
  ///   - chunkSize: inputs handed to a worker at once; about inputs ÷ (workers × 4) by
  ///     default, at most 1024.
  /// - Throws: the error of the first failed input (the others all ran), or
  ///   ``PoolError/closed``.
  public func map(_ inputs: [Input], chunkSize: Int? = nil) throws -> [Output] {
    try run(inputs, chunkSize: chunkSize) { $0.outputsInOrder() }.get()
  }

  /// Applies the kernel to every input without blocking a cooperative thread.
  ///
  /// Cancelling the awaiting task ends the call at once with `CancellationError`: inputs no
  /// worker has taken yet are not run, and those running finish unobserved.
  public func map(_ inputs: [Input], chunkSize: Int? = nil) async throws -> [Output] {
    try await run(inputs, chunkSize: chunkSize) { $0.outputsInOrder() }.get()
  }

  /// Applies the kernel to every input and returns each input's result, failures included.
  public func mapResults(_ inputs: [Input], chunkSize: Int? = nil) throws -> [Result<Output, PoolError>] {
    try run(inputs, chunkSize: chunkSize) { $0.results }
  }

  /// Applies the kernel to every input, without blocking a cooperative thread, and returns
  /// each input's result. Cancelled, it throws `CancellationError` as the `async` `map` does.
  public func mapResults(_ inputs: [Input], chunkSize: Int? = nil) async throws -> [Result<Output, PoolError>] {
    try await run(inputs, chunkSize: chunkSize) { $0.results }
  }

  /// Runs a job and waits, blocking, for `collect` to read its finished state.
  private func run<R>(_ inputs: [Input], chunkSize: Int?, collect: @escaping (PoolJob<Input, Output>) -> R) throws -> R
  {
    let done = DispatchSemaphore(value: 0)
    let box = Box<R>()
    dispatcher.beginCollecting()
    let onBoard: Bool
    do {
      onBoard = try dispatcher.submit(inputs, chunkSize: chunkSize, onResult: nil) { job in
        box.value = collect(job)
        box.finished.store(true, ordering: .releasing)
        done.signal()
      }.onBoard
    } catch {
      dispatcher.endCollecting()
      throw error
    }
    // A short job is collected here while the workers are still awake; a longer one is
    // finished by the pool's thread, which signals `done`. (The flag, not the semaphore, is
    // polled: a semaphore's timed wait is a system call that yields the CPU.)
    dispatcher.help(until: { box.finished.load(ordering: .acquiring) }, onBoard: onBoard)
    done.wait()
    return box.value!
  }

  /// Runs a job and awaits `collect`'s reading of its finished state. Cancelled, the call
  /// throws `CancellationError` at once and the pool's thread gives the job up
  /// (``PoolDispatcher/giveUpSoon(jobID:)``).
  private func run<R: Sendable>(
    _ inputs: [Input], chunkSize: Int?, collect: @escaping @Sendable (PoolJob<Input, Output>) -> R
  ) async throws -> R {
    let call = AsyncCall<R>(of: dispatcher)
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { continuation in
        guard call.wait(with: continuation) else { return }
        do {
          let submitted = try dispatcher.submit(inputs, chunkSize: chunkSize, onResult: nil) { job in
            call.finish(.success(collect(job)))
          }
          call.submitted(jobID: submitted.jobID)
        } catch {
          call.finish(.failure(error))
        }
      }
    } onCancel: {
      call.cancel()
    }
  }

  /// Applies the kernel to every input and yields `(index, output)` pairs as they arrive.
  /// The sequence throws the first failure it meets. Once it has ended so, or its consumer
  /// stopped early (its task cancelled, or the sequence dropped), the job is given up:
  /// inputs no worker has taken yet are not run.
  public func mapUnordered(_ inputs: [Input], chunkSize: Int? = nil) -> AsyncThrowingStream<(Int, Output), any Error> {
    AsyncThrowingStream { continuation in
      let call = AsyncCall<Void>(of: dispatcher)
      continuation.onTermination = { termination in
        // Cancelled by its consumer, or ended by a failure (from inside the pool's lock):
        // the job is given up by the pool's thread (``AsyncCall/cancel()``).
        switch termination {
        case .cancelled, .finished(.some):
          call.cancel()
        case .finished(.none):
          break
        @unknown default:
          break
        }
      }
      do {
        let submitted = try dispatcher.submit(
          inputs, chunkSize: chunkSize,
          onResult: { index, result in
            switch result {
            case .success(let output): continuation.yield((index, output))
            case .failure(let error): continuation.finish(throwing: error)
            }
          },
          onFinish: { _ in continuation.finish() })
        call.submitted(jobID: submitted.jobID)
      } catch {
        continuation.finish(throwing: error)
      }
    }
  }

  /// Applies the kernel to one input.
  public func submit(_ input: Input) async throws -> Output {
    try await mapResults([input], chunkSize: 1)[0].get()
  }

  // MARK: Shutdown

  /// Accepts no new work; the workers exit once the work already given is done.
  public func close() {
    dispatcher.close()
  }

  /// Kills the workers now; unfinished work fails with ``PoolError/terminated``.
  public func terminate() {
    dispatcher.terminate()
  }

  /// Waits until every worker has exited, after ``close()`` or ``terminate()``.
  ///
  /// - Throws: ``PoolError/invalidArgument(_:)`` when neither was called, as Python's Pool.
  public func join() throws {
    try dispatcher.join()
  }

  /// Carries a result from the dispatcher thread to the waiting caller.
  private final class Box<R>: @unchecked Sendable {
    // @unchecked: `value` is written before `finished` is set (releasing) and the semaphore
    // signalled, and read after either is seen.
    var value: R?
    let finished = Atomic<Bool>(false)
  }
}
