import Multiprocessing

#if canImport(Glibc)
  import Glibc
#endif

/// What one worker does, as the pool needs to know it: the task it runs and since when (to
/// tell which task a dead worker was running, and to enforce the task timeout), its time per
/// task (how much work to give it ahead), whether it reached its loop.
///
/// A view on a line of memory, written by the worker and read by the pool: where the line
/// lies is its link's choice. The shared-memory link's is in its control block, which both
/// ends map; the pipe link keeps a private line at each end and sends the worker's to the
/// pool in its messages (``StatusReport``).
struct WorkerStatus {
  /// The line's fields (byte offsets); the properties below say what each holds.
  enum Field: Int {
    case current = 0, startedAt = 8, taskNanoseconds = 16, reportedIn = 24
  }

  /// The bytes of a line.
  static let size = 64

  let base: UnsafeMutableRawPointer
  /// Whether starts are timed (a clock read per task, needed only for the task timeout).
  let timed: Bool

  init(_ base: UnsafeMutableRawPointer, timed: Bool) {
    self.base = base
    self.timed = timed
  }

  /// The task the worker runs now, or -1.
  var current: Int {
    get { word(.current).value }
    nonmutating set { word(.current).value = newValue }
  }

  /// When the current task started, in nanoseconds of the monotonic clock.
  var startedAt: Int {
    get { word(.startedAt).value }
    nonmutating set { word(.startedAt).value = newValue }
  }

  /// How long the worker's recent tasks took each, in nanoseconds; 0 until it knows.
  var taskNanoseconds: Int {
    get { word(.taskNanoseconds).value }
    nonmutating set { word(.taskNanoseconds).value = newValue }
  }

  /// Whether the worker reached its loop: set by the worker before its first task, so that
  /// the dispatcher can tell a worker that never started (and kill it) from a busy one.
  var reportedIn: Bool {
    get { word(.reportedIn).value != 0 }
    nonmutating set { word(.reportedIn).value = newValue ? 1 : 0 }
  }

  private func word(_ field: Field) -> SharedWord { SharedWord(base + field.rawValue) }

  func clear() {
    current = -1
    startedAt = 0
    taskNanoseconds = 0
    reportedIn = false
  }

  /// Marks task `index` as the one running now (a pool's task, or a `parallelMap` input).
  /// Release stores: the pool reads them after the worker died, or now and then to enforce
  /// a timeout, never racing to see the latest.
  func start(_ index: Int) {
    if timed { word(.startedAt).storeReleasing(monotonicNanoseconds()) }
    word(.current).storeReleasing(index)
  }

  /// Marks pool task `task` as the one running now.
  func start(_ task: TaskID) { start(task.rawValue) }

  /// The pool task the worker runs now, if any.
  var currentTask: TaskID? { current >= 0 ? TaskID(rawValue: current) : nil }
}
