/// A worker's end of its channels: tasks come in; outputs, failures and the worker's status
/// go out, and the pool's thread is woken when it must look. A transport only moves them;
/// what a worker does with them (runs the kernel, times tasks, keeps its quota, claims board
/// chunks) is ``WorkerRuntime``'s, written once for every transport.
///
/// Used by the worker's one thread. The parent's end is ``WorkerTransport``.
protocol WorkerLink<Input, Output>: AnyObject {
  /// What the tasks carry.
  associatedtype Input
  /// What the results carry.
  associatedtype Output

  /// Waits for tasks, spinning politely (giving the CPU to any thread that wants it between
  /// looks) for `spin` before it sleeps, then takes every task already there: up to `limit`,
  /// or whole messages while fewer than `limit` were taken.
  ///
  /// - Returns: what was taken; nil once the channels are closed and drained.
  func receive(upTo limit: Int, spin: Duration) throws -> ReceivedTasks?
  /// Runs `kernel` on the first `count` received tasks, in order, keeping each output for
  /// the next ``flush()`` and reporting each error as the task's failure (``fail(_:message:wakeParent:)``).
  /// `willRun` comes before each task, and says whether to run it (a marker is not run);
  /// `didRun` after each, with its position.
  ///
  /// The loop over the tasks is the link's, so that the generic values stay in its buffers:
  /// called task by task through the protocol, each access would look their metadata up.
  func run(
    _ kernel: (Input) throws -> Output, count: Int, wakeParent: () -> Void, willRun: (TaskID) throws -> Bool,
    didRun: (Int) throws -> Void
  ) throws
  /// Reports that `task` failed with `message`: sent now or with the next ``flush()``.
  /// `wakeParent` is called before any send that may wait for room only the parent makes.
  func fail(_ task: TaskID, message: String, wakeParent: () -> Void) throws
  /// Sends what was kept since the last flush; whether there was anything.
  func flush() throws -> Bool

  /// The worker's status line, which the runtime keeps up to date and the link gets to the
  /// pool; `timed`: task starts are timed (the pool has a task timeout).
  func status(timed: Bool) -> WorkerStatus
  /// Says that the worker reached its loop (its initializer, if any, done).
  func reportIn() throws
  /// Tells the pool why the worker could not start, before it ends.
  func reportStartFailure(_ message: String)
  /// Wakes the pool's thread, where the link needs the worker to: it sent something while
  /// that thread sleeps and no caller collects.
  func wakeParent()
  /// Whether a caller collects results itself (the claim board's worker then leaves the
  /// pool's thread asleep).
  var callerCollects: Bool { get }
}

/// What one ``WorkerLink/receive(upTo:spin:)`` took: `taken` tasks, of which the first
/// `runnable` positions hold tasks to run (the others could not be decoded, and the link has
/// already recorded their failures).
struct ReceivedTasks {
  var runnable: Int
  var taken: Int
}
