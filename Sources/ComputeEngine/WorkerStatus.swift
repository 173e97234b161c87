import Multiprocessing

#if canImport(Glibc)
  import Glibc
#endif

/// The pool's control block in shared memory: whether the dispatcher sleeps, and for each
/// worker slot the task it runs and since when, so that the dispatcher can tell which task
/// a dead worker was running and enforce the task timeout.
struct PoolControl: @unchecked Sendable {
  // @unchecked: the block is shared memory used through atomic loads and stores.
  static let lineSize = 64

  let memory: SharedMemory

  init(slots: Int) throws {
    memory = try SharedMemory(size: Self.lineSize * (slots + 1))
    for slot in 0..<slots { status(slot).clear() }
  }

  init(_ handle: SharedMemory.Handle) throws {
    memory = try SharedMemory(handle)
  }

  /// Set while the dispatcher sleeps: a worker that sends results then rings the doorbell.
  var dispatcherSleeping: UnsafeMutablePointer<UInt32> {
    memory.baseAddress.assumingMemoryBound(to: UInt32.self)
  }

  func status(_ slot: Int) -> WorkerStatus {
    WorkerStatus(memory.baseAddress + Self.lineSize * (slot + 1))
  }
}

/// One worker's line of the control block.
struct WorkerStatus {
  let base: UnsafeMutableRawPointer

  init(_ base: UnsafeMutableRawPointer) {
    self.base = base
  }

  /// The task the worker runs now, or -1.
  var current: Int {
    get { atomicLoad(base) }
    nonmutating set { atomicStore(base, newValue) }
  }

  /// When the current task started, in nanoseconds of the monotonic clock.
  var startedAt: Int {
    get { atomicLoad(base + 8) }
    nonmutating set { atomicStore(base + 8, newValue) }
  }

  func clear() {
    current = -1
    startedAt = 0
  }
}

/// Nanoseconds of the monotonic clock, comparable between processes.
func monotonicNanoseconds() -> Int {
  var now = timespec()
  clock_gettime(CLOCK_MONOTONIC, &now)
  return now.tv_sec * 1_000_000_000 + now.tv_nsec
}
