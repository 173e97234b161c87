import Atomics
import CSystemShims
import SystemCalls

#if canImport(Glibc)
  import Glibc
#endif

/// A 32-bit word in shared memory, used with atomic operations and as a futex: the
/// building block of every process-shared synchronisation type here (and of the pool's
/// claim board, hence `package`).
@usableFromInline
package struct FutexWord {
  @usableFromInline let address: UnsafeMutablePointer<UInt32>

  /// The word at `pointer`, which must be 4-byte aligned and stay mapped.
  @inlinable
  package init(_ pointer: UnsafeMutableRawPointer) {
    address = pointer.assumingMemoryBound(to: UInt32.self)
  }

  @inlinable
  var atomic: UnsafeAtomic<UInt32> {
    UnsafeAtomic(at: UnsafeMutableRawPointer(address).assumingMemoryBound(to: UInt32.AtomicRepresentation.self))
  }

  @inlinable
  package func load() -> UInt32 { atomic.load(ordering: .sequentiallyConsistent) }

  @inlinable
  package func store(_ value: UInt32) { atomic.store(value, ordering: .sequentiallyConsistent) }

  /// A load with no ordering: for a word only one thread writes (a recursive lock's depth,
  /// written by its holder), read by that thread.
  @inlinable
  func loadRelaxed() -> UInt32 { atomic.load(ordering: .relaxed) }

  /// A store with no ordering (a plain store on x86, where a sequentially consistent one is
  /// an `xchg`): for a word only its writer reads back.
  @inlinable
  func storeRelaxed(_ value: UInt32) { atomic.store(value, ordering: .relaxed) }

  @inlinable
  func exchange(_ value: UInt32) -> UInt32 { atomic.exchange(value, ordering: .sequentiallyConsistent) }

  @inlinable
  func compareExchange(_ expected: UInt32, _ desired: UInt32) -> (exchanged: Bool, original: UInt32) {
    atomic.compareExchange(expected: expected, desired: desired, ordering: .sequentiallyConsistent)
  }

  @discardableResult
  @inlinable
  package func add(_ value: UInt32) -> UInt32 {
    atomic.loadThenWrappingIncrement(by: value, ordering: .sequentiallyConsistent)
  }

  @discardableResult
  @inlinable
  package func subtract(_ value: UInt32) -> UInt32 {
    atomic.loadThenWrappingDecrement(by: value, ordering: .sequentiallyConsistent)
  }

  /// Sleeps while the word equals `expected`, until woken or `deadline` (nil: no limit).
  /// Returns false only when the deadline passed. Spurious returns are possible: callers loop.
  @discardableResult
  @inlinable
  package func wait(whileEqualTo expected: UInt32, until deadline: ContinuousClock.Instant?) -> Bool {
    var nanoseconds: Int64 = -1
    if let deadline {
      let left = deadline - .now
      guard left > .zero else { return false }
      let (seconds, attoseconds) = left.components
      nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
    // -EAGAIN (the word changed) and -EINTR count as woken: callers check the word again.
    return cs_futex_wait(address, expected, nanoseconds) != -ETIMEDOUT
  }

  /// Wakes up to `count` sleepers.
  @inlinable
  package func wake(_ count: Int32 = .max) {
    // Dropped: FUTEX_WAKE fails only for an address that is not a mapped, aligned word.
    _ = cs_futex_wake(address, count)
  }
}

/// Waiting with a limit, in slices: a waiter wakes at least every `slice` to check whether
/// the process it waits on is still alive.
enum WaitSlices {
  /// How often a waiter checks that the holder it waits on is alive.
  static let slice = Duration.milliseconds(100)

  /// The end of the next slice (``slice`` by default), capped by the overall deadline.
  static func next(_ deadline: ContinuousClock.Instant?, slice: Duration = slice) -> ContinuousClock.Instant {
    let sliceEnd = ContinuousClock.now + slice
    guard let deadline else { return sliceEnd }
    return min(deadline, sliceEnd)
  }
}

/// Whether the thread or process with this id exists (a zombie counts as gone). Kernel
/// thread ids are unique system-wide, so a lock records its holder's tid.
func threadIsAlive(_ tid: UInt32) -> Bool {
  guard tid > 0 else { return false }
  do { try SystemCall.sendSignal(0, to: pid_t(tid)) } catch { guard error == .notPermitted else { return false } }
  // A thread whose stat cannot be read ended between the two looks.
  guard let state = SystemCall.schedulingState(of: pid_t(tid)) else { return false }
  return state != UInt8(ascii: "Z") && state != UInt8(ascii: "X")
}

/// The calling thread's kernel id, the owner mark of locks (cached: no system call).
var currentThreadID: UInt32 { UInt32(bitPattern: cs_current_tid()) }

/// Spins until `condition` holds, for at most ``limit``: a waiter whose partner runs on
/// another CPU is answered in well under a microsecond, where sleeping in the kernel and
/// being woken costs 15–20 µs on a virtual machine.
public enum Spin {
  /// The longest spin before sleeping.
  public static let limit = Duration.microseconds(20)

  /// A hint to the CPU that the caller is spinning (x86 `pause`, ARM `yield`).
  @inlinable
  public static func relax() { cs_cpu_relax() }

  /// Whether `condition` became true while spinning (for at most `limit`, ``limit`` by
  /// default; `.zero` checks once).
  public static func until(limit: Duration = limit, _ condition: () -> Bool) -> Bool {
    if condition() { return true }
    guard limit > .zero else { return false }
    let started = ContinuousClock.now
    while true {
      for _ in 0..<32 {
        cs_cpu_relax()
        if condition() { return true }
      }
      if ContinuousClock.now - started > limit { return false }
    }
  }

  /// Whether `condition` became true while spinning for at most `limit`, polling after 64
  /// ``relax()``es, then after 128 (a microsecond or two on x86).
  ///
  /// For a lock another CPU's thread takes and releases in a tight loop: a waiter that polls
  /// the lock's word at every pause takes its cache line from the holder each time, and,
  /// polling soon after it starts waiting, catches the lock in the moment between the
  /// holder's release and its next acquire, so that the lock changes hands at almost every
  /// critical section and both go at the pace of the line's crossings. Waiting first leaves
  /// the holder its line for runs of critical sections: two processes incrementing a
  /// `SharedValue` under its lock went from 5-6 to 12-14 M/s (same-run A/B, this 2-vCPU
  /// machine), for a waiter that sees a released lock up to a microsecond or two later.
  static func untilBackingOff(limit: Duration = limit, _ condition: () -> Bool) -> Bool {
    if condition() { return true }
    let end = monotonicNanoseconds() + limit.nanoseconds
    var pauses = 64
    while true {
      for _ in 0..<pauses { cs_cpu_relax() }
      if condition() { return true }
      pauses = min(pauses * 2, 128)
      if monotonicNanoseconds() > end { return false }
    }
  }

  /// How long ``untilYielding(limit:pausing:_:)`` polls with ``relax()``, unless told
  /// otherwise, before it yields the CPU between polls.
  public static let pausePhase = Duration.microseconds(2)

  /// The pause phase for ``untilYielding(limit:pausing:_:)`` when the wait should take
  /// about `expected`: ``pausePhase``, or none past ten times that (20 µs), since pausing
  /// cannot answer such a wait sooner and, on a shared CPU, holds back the thread that is to
  /// end it (a pool's caller beside the worker pinned to its CPU).
  public static func pausing(forExpectedWait expected: Duration) -> Duration {
    expected > pausePhase * 10 ? .zero : pausePhase
  }

  /// Whether `condition` became true while spinning for at most `limit`, polling with
  /// ``relax()`` for the first `pausing` (``pausePhase`` by default) and then giving the CPU,
  /// between polls, to any thread waiting for it (`sched_yield`).
  ///
  /// For a waiter that may share its CPU with the thread it waits for, or with one that has
  /// work to do: when more threads are runnable than there are CPUs (a pool's caller beside
  /// workers that fill the cores), a plain spin holds the CPU for its whole window, or until
  /// the scheduler's time slice ends. Alone on its CPU it answers within a system call's time.
  /// A waiter that expects a long wait passes a zero `pausing`: its pause phase would only
  /// hold back, on a shared CPU, the thread that is to make `condition` true.
  public static func untilYielding(limit: Duration, pausing: Duration = pausePhase, _ condition: () -> Bool) -> Bool {
    if condition() { return true }
    guard limit > .zero else { return false }
    let started = monotonicNanoseconds()
    let (pauseEnd, end) = (started + pausing.nanoseconds, started + limit.nanoseconds)
    // The clock is read after every poll (a vDSO call, ~20 ns): a costly condition, such as
    // a pool's caller looking at every worker's rings, must not stretch the pause phase
    // while the thread it waits for wants this CPU.
    while case let now = monotonicNanoseconds(), now <= end {
      if now < pauseEnd { cs_cpu_relax() } else { SystemCall.yieldProcessor() }
      if condition() { return true }
    }
    return false
  }
}
