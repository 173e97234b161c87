import Synchronization

/// What an `async` call of a ``ProcessPool`` shares with its job and with its cancellation:
/// the continuation to resume once (with the job's result, or with `CancellationError` as soon
/// as the awaiting task is cancelled), and the job to give up then, whichever of the
/// cancellation and the submission comes first. A stream has no continuation here; it only
/// gives its job up.
final class AsyncCall<R: Sendable>: Sendable {
  private struct State {
    var continuation: CheckedContinuation<R, any Error>?
    var jobID: Int?
    var cancelled = false
  }
  private let state = Mutex(State())
  /// Gives up a submitted job at once (``PoolDispatcher/cancel(jobID:)``).
  private let giveUp: @Sendable (Int) -> Void
  /// Has the pool's thread give it up (``PoolDispatcher/giveUpSoon(jobID:)``), without
  /// taking the pool's lock.
  private let giveUpSoon: @Sendable (Int) -> Void

  /// A call of `dispatcher`'s pool.
  init<Input, Output>(of dispatcher: PoolDispatcher<Input, Output>) {
    giveUp = dispatcher.cancel(jobID:)
    giveUpSoon = dispatcher.giveUpSoon(jobID:)
  }

  /// Takes the continuation to resume; false when the call was cancelled first (the
  /// continuation is then resumed with `CancellationError`, and nothing should be submitted).
  func wait(with continuation: CheckedContinuation<R, any Error>) -> Bool {
    let cancelled = state.withLock { state in
      if !state.cancelled { state.continuation = continuation }
      return state.cancelled
    }
    if cancelled { continuation.resume(throwing: CancellationError()) }
    return !cancelled
  }

  /// Records the submitted job, and gives it up at once if the call was cancelled meanwhile.
  func submitted(jobID: Int) {
    let cancelled = state.withLock { state in
      state.jobID = jobID
      return state.cancelled
    }
    if cancelled { giveUp(jobID) }
  }

  /// Resumes the waiting call with `result`, unless it was resumed already.
  func finish(_ result: Result<R, any Error>) {
    state.withLock { state in
      defer { state.continuation = nil }
      return state.continuation
    }?.resume(with: result)
  }

  /// The call is cancelled: resumes it with `CancellationError` (unless it was resumed
  /// already) and has the pool's thread give its job up, if one was submitted.
  ///
  /// A cancellation handler runs holding the cancelled task's status lock, and the pool's
  /// thread takes that lock (to resume the task with a result) while it holds the pool's
  /// lock, which giving the job up takes: given up here, the two waited on each other for
  /// ever (seen once in about 20 runs of the suite, a `mapUnordered` stream whose consumer
  /// was cancelled as a result arrived).
  func cancel() {
    let (continuation, jobID) = state.withLock { state in
      state.cancelled = true
      defer { state.continuation = nil }
      return (state.continuation, state.jobID)
    }
    continuation?.resume(throwing: CancellationError())
    if let jobID { giveUpSoon(jobID) }
  }
}
