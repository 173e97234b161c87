import Multiprocessing

/// Where the dispatcher hands its claim board's work to ``BoardRounds``, and finishes the
/// job once it comes off the board.
extension PoolDispatcher {
  /// The job on the claim board, while it runs.
  var boardJob: PoolJob<Input, Output>? { boardRounds?.job }

  /// Collects the board's round if every chunk of it is done, finishing the job when it was
  /// the last; `abandoning`: no worker is left, the tasks not done fail with it.
  func collectBoardLocked(abandoning error: PoolError? = nil) {
    guard let boardRounds,
      let job = boardRounds.collect(
        abandoning: error, workers: workers, drainAgain: { for worker in workers { drainLocked(worker) } })
    else { return }
    finishLocked(job)
    // A caller asleep on the board wakes and finds its job finished.
    boardRounds.board.signalCompletion()
  }

  /// For a board job whose caller stopped waiting: its free chunks are withdrawn, and the
  /// job finishes with the round (at once if no chunk is out).
  func withdrawBoardLocked() {
    boardRounds?.withdraw()
    collectBoardLocked()
  }
}
