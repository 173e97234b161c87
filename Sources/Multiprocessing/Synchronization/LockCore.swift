/// The lock word shared by ``Lock``, ``RLock`` and the internal locks of the other types: the
/// holder's kernel thread id (0 when free) with a "someone sleeps" bit, and a recursion count.
///
/// Acquiring is one compare-and-swap when free; a contended acquirer spins briefly, then
/// sets the sleeper bit and sleeps on the futex; releasing makes a system call only when that
/// bit is set. A sleeper wakes every ``WaitSlices/slice`` to check that the holder is alive,
/// and takes the lock over from a dead one.
struct LockCore {
  /// The bytes a lock occupies in shared memory.
  static let size = 8
  static let sleepersBit: UInt32 = 1 << 31

  enum Outcome: Equatable {
    case acquired
    case acquiredFromDeadHolder(UInt32)
    case timedOut
  }

  let state: FutexWord
  let depth: FutexWord

  init(_ pointer: UnsafeMutableRawPointer) {
    state = FutexWord(pointer)
    depth = FutexWord(pointer + 4)
  }

  /// The holder's thread id, or 0.
  var holder: UInt32 { state.load() & ~Self.sleepersBit }

  /// Acquires the lock, waiting at most `timeout` (nil: as long as it takes) when blocking.
  ///
  /// A free lock is one compare-and-swap, inlined into the caller; only a held one goes on to
  /// ``acquireHeld(as:blocking:timeout:)``, which makes the deadline (a
  /// `ContinuousClock.Instant`, of a size known only at run time, whose metadata lookups
  /// cost an uncontended acquire a third of its time when they came first).
  @inline(__always)
  func acquire(blocking: Bool, timeout: Duration?) -> Outcome {
    let me = currentThreadID
    if state.compareExchange(0, me).exchanged { return .acquired }
    return acquireHeld(as: me, blocking: blocking, timeout: timeout)
  }

  /// The rest of ``acquire(blocking:timeout:)``, once the lock was seen held (by another
  /// thread than `me`, for a recursive lock).
  func acquireHeld(as me: UInt32, blocking: Bool, timeout: Duration?) -> Outcome {
    if !blocking { return takeOverIfHolderDied(state.load(), me: me) ?? .timedOut }
    let deadline = ContinuousClock.Instant.deadline(after: timeout)
    if Spin.untilBackingOff({ state.load() == 0 && state.compareExchange(0, me).exchanged }) { return .acquired }
    while true {
      var value = state.load()
      if value == 0 {
        // Others may sleep: keep the bit so that our release wakes one of them.
        if state.compareExchange(0, me | Self.sleepersBit).exchanged { return .acquired }
        continue
      }
      if value & Self.sleepersBit == 0 {
        guard state.compareExchange(value, value | Self.sleepersBit).exchanged else { continue }
        value |= Self.sleepersBit
      }
      if !state.wait(whileEqualTo: value, until: WaitSlices.next(deadline)) {
        if let outcome = takeOverIfHolderDied(value, me: me) { return outcome }
        if let deadline, ContinuousClock.now >= deadline { return .timedOut }
      }
    }
  }

  /// Takes the lock from a dead holder: nil while the holder lives (or the lock changed).
  private func takeOverIfHolderDied(_ value: UInt32, me: UInt32) -> Outcome? {
    let holder = value & ~Self.sleepersBit
    guard holder != 0, !threadIsAlive(holder) else { return nil }
    guard state.compareExchange(value, me | (value & Self.sleepersBit)).exchanged else { return nil }
    depth.store(0)
    return .acquiredFromDeadHolder(holder)
  }

  /// Frees the lock and wakes one sleeper if any; returns the previous holder (0: it was free).
  @discardableResult
  func release() -> UInt32 {
    let previous = state.exchange(0)
    if previous & Self.sleepersBit != 0 { state.wake(1) }
    return previous & ~Self.sleepersBit
  }
}

extension ContinuousClock.Instant {
  /// `timeout` from now, or nil (no limit) for nil; a negative timeout is zero.
  @inlinable
  static func deadline(after timeout: Duration?) -> ContinuousClock.Instant? {
    timeout.map { ContinuousClock.now + max($0, .zero) }
  }
}
