#if canImport(Glibc)
  import Glibc
#endif

/// A barrier shared between processes: Python's `multiprocessing.Barrier`.
///
/// `parties` waiters meet: each ``wait(timeout:spin:)`` returns, with a distinct index from 0 to
/// `parties - 1`, once the last of them arrives; the optional action runs first, in the last
/// to arrive. A barrier is broken — every current and later waiter throws
/// ``SynchronizationError/brokenBarrier`` until ``reset()`` — by ``abort()``, by a wait that
/// times out, by an action that throws, and by the death of a process that has waited on it:
/// a dead party never leaves the others hanging. (A process that dies before it first waits
/// is unknown to the barrier: give the first wait a timeout if that can happen.)
///
/// The action stays in this process: a barrier reopened from its ``handle`` has none.
public final class Barrier: @unchecked Sendable {
  // @unchecked: the state lives in shared memory and changes under the barrier's own lock.
  static let kind = "Barrier"
  static let tableCapacity = 64
  static let size = 8 + 24 + 4 * tableCapacity

  let slot: SharedSlot
  let action: (@Sendable () throws -> Void)?
  /// The timeout of waits that give none.
  public let defaultTimeout: Duration?

  private var core: LockCore { LockCore(slot.pointer) }
  private var count: FutexWord { FutexWord(slot.pointer + 8) }
  private var generation: FutexWord { FutexWord(slot.pointer + 12) }
  private var broken: FutexWord { FutexWord(slot.pointer + 16) }
  /// `g + 1` when generation `g` was broken or reset rather than completed.
  private var resetMark: FutexWord { FutexWord(slot.pointer + 20) }
  private var partyCount: FutexWord { FutexWord(slot.pointer + 24) }
  private var tableCount: FutexWord { FutexWord(slot.pointer + 28) }
  private func tableEntry(_ index: Int) -> FutexWord { FutexWord(slot.pointer + 32 + 4 * index) }

  /// A barrier for `parties` waiters.
  ///
  /// - Parameters:
  ///   - parties: how many waiters meet; at least 1.
  ///   - timeout: the default timeout of ``wait(timeout:spin:)``.
  ///   - action: run by the last waiter to arrive, before any is released.
  /// - Throws: ``SynchronizationError/invalidArgument(_:)`` for fewer than 1 party.
  public init(parties: Int, timeout: Duration? = nil, action: (@Sendable () throws -> Void)? = nil) throws {
    guard (1...Int(Int32.max)).contains(parties) else {
      throw SynchronizationError.invalidArgument("a barrier needs at least 1 party, not \(parties)")
    }
    slot = try SharedSlot(size: Self.size)
    self.action = action
    defaultTimeout = timeout
    partyCount.store(UInt32(parties))
  }

  /// Reopens a barrier from its ``handle`` (without its action).
  public init(_ handle: SharedHandle, timeout: Duration? = nil) throws {
    slot = try SharedSlot(handle, kind: Self.kind, size: Self.size)
    action = nil
    defaultTimeout = timeout
  }

  /// What another process needs to reopen the barrier.
  public var handle: SharedHandle { slot.handle(kind: Self.kind) }

  /// How many waiters must meet.
  public var parties: Int { Int(partyCount.load()) }
  /// How many are waiting now.
  public var waiting: Int { Int(count.load()) }
  /// Whether the barrier is broken.
  public var isBroken: Bool { broken.load() != 0 }

  /// Waits until `parties` waiters have arrived.
  ///
  /// - Parameters:
  ///   - timeout: the longest wait (the barrier's default when nil); when it passes, the
  ///     barrier breaks.
  ///   - spin: how long a waiter polls for the last arrival before it sleeps in the kernel
  ///     (giving its CPU to any thread that wants it after the first microseconds): for
  ///     parties that each own a core and meet often, where a wake-up costs 15–50 µs. None by
  ///     default.
  /// - Returns: this waiter's arrival index, from 0 to `parties - 1`.
  /// - Throws: ``SynchronizationError/brokenBarrier``, or the error the action threw.
  @discardableResult
  public func wait(timeout: Duration? = nil, spin: Duration = .zero) throws -> Int {
    let deadline = ContinuousClock.Instant.deadline(after: timeout ?? defaultTimeout)
    try lockState()
    guard broken.load() == 0 else {
      core.release()
      throw SynchronizationError.brokenBarrier
    }
    register(UInt32(bitPattern: getpid()))
    let index = Int(count.add(1))
    if index + 1 == parties {
      if let action {
        do { try action() } catch {
          breakLocked()
          core.release()
          throw error
        }
      }
      count.store(0)
      generation.add(1)
      generation.wake()
      core.release()
      return index
    }
    let mine = generation.load()
    core.release()
    if spin > .zero {
      _ = Spin.untilYielding(limit: spin) { generation.load() != mine || broken.load() != 0 }
    }

    while true {
      let current = generation.load()
      if current != mine {
        if resetMark.load() == mine &+ 1 { throw SynchronizationError.brokenBarrier }
        return index
      }
      if broken.load() != 0 { throw SynchronizationError.brokenBarrier }
      if !generation.wait(whileEqualTo: mine, until: WaitSlices.next(deadline)) {
        let timedOut = deadline.map { ContinuousClock.now >= $0 } ?? false
        if timedOut || aPartyDied() {
          try lockState()
          let stillWaiting = generation.load() == mine
          if stillWaiting { breakLocked() }
          core.release()
          if stillWaiting { throw SynchronizationError.brokenBarrier }
        }
      }
    }
  }

  /// Breaks the barrier: current and later waiters throw until ``reset()``.
  public func abort() throws {
    try lockState()
    breakLocked()
    core.release()
  }

  /// Returns the barrier to its empty, unbroken state; current waiters throw
  /// ``SynchronizationError/brokenBarrier``.
  public func reset() throws {
    try lockState()
    if count.load() > 0 { resetMark.store(generation.load() &+ 1) }
    count.store(0)
    broken.store(0)
    generation.add(1)
    generation.wake()
    core.release()
  }

  /// Takes the barrier's own lock; a holder that died in the middle of an update leaves
  /// the barrier broken.
  private func lockState() throws {
    if case .acquiredFromDeadHolder = core.acquire(blocking: true, timeout: nil) {
      breakLocked()
    }
  }

  private func breakLocked() {
    resetMark.store(generation.load() &+ 1)
    broken.store(1)
    count.store(0)
    generation.wake()
  }

  private func register(_ pid: UInt32) {
    let known = min(Int(tableCount.load()), Self.tableCapacity)
    guard !(0..<known).contains(where: { tableEntry($0).load() == pid }), known < Self.tableCapacity else { return }
    tableEntry(known).store(pid)
    tableCount.store(UInt32(known + 1))
  }

  private func aPartyDied() -> Bool {
    let known = min(Int(tableCount.load()), Self.tableCapacity)
    return (0..<known).contains { !threadIsAlive(tableEntry($0).load()) }
  }
}
