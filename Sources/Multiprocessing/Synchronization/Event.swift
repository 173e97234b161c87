/// A flag shared between processes that waiters sleep on until it is set: Python's
/// `multiprocessing.Event`.
public final class Event: @unchecked Sendable {
  // @unchecked: the state lives in shared memory and is only used through atomic operations.
  static let kind = "Event"
  static let size = 8

  let slot: SharedSlot
  var flag: FutexWord { FutexWord(slot.pointer) }
  var sleepers: FutexWord { FutexWord(slot.pointer + 4) }

  /// A new event, not set.
  public init() throws {
    slot = try SharedSlot(size: Self.size)
  }

  /// Reopens an event from its ``handle`` (in a spawned or fork-server child).
  public init(_ handle: SharedHandle) throws {
    slot = try SharedSlot(handle, kind: Self.kind, size: Self.size)
  }

  /// What another process needs to reopen the event.
  public var handle: SharedHandle { slot.handle(kind: Self.kind) }

  /// Whether the flag is set.
  public var isSet: Bool { flag.load() == 1 }

  /// Sets the flag and wakes every waiter (with a system call only if one sleeps).
  public func set() {
    flag.store(1)
    if sleepers.load() > 0 { flag.wake() }
  }

  /// Clears the flag.
  public func clear() {
    flag.store(0)
  }

  /// Waits until the flag is set or `timeout` passes (nil: no limit).
  ///
  /// - Returns: whether the flag is set.
  @discardableResult
  public func wait(timeout: Duration? = nil) -> Bool {
    if isSet { return true }
    if Spin.until({ isSet }) { return true }
    let deadline = ContinuousClock.Instant.deadline(after: timeout)
    sleepers.add(1)
    defer { sleepers.subtract(1) }
    while !isSet {
      if !flag.wait(whileEqualTo: 0, until: deadline) { return isSet }
    }
    return true
  }
}
