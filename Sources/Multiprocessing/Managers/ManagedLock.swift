import Foundation

/// A lock held by a ``Manager``'s server: Python's `manager.Lock()`, usable from every
/// process that has its handle. Any holder may release it (as Python's); unlike Python's, a
/// lock whose holder's connection ends — its process died or dropped the proxy — is let go,
/// so a killed holder never leaves it locked.
///
/// For processes of one machine the shared-memory ``Lock`` is ~1000× faster; this one is for
/// code that holds a manager anyway, and for Python's habit.
///
/// ```swift
/// let manager = try Manager()
/// let lock = try manager.lock()
/// try lock.withLock { print("alone") }
/// ```
public final class ManagedLock: Sendable {
  /// What another process reopens the lock from.
  public typealias Handle = ManagedHandle<ManagedLock>

  private let core: ProxyCore

  init(_ core: ProxyCore) {
    self.core = core
  }

  /// Reopens the lock from its ``handle``, in any process (spawned ones included).
  ///
  /// - Throws: ``ManagerError/server(_:)`` when the manager cannot be reached.
  public convenience init(_ handle: Handle) throws(ManagerError) {
    self.init(try ProxyCore(handle))
  }

  /// What another process needs to reopen the lock.
  public var handle: Handle { core.handle() }

  /// Acquires the lock, waiting up to `timeout` (nil: as long as it takes; `.zero`: not at
  /// all); whether it was acquired.
  @discardableResult
  public func acquire(timeout: Duration? = nil) throws(ManagerError) -> Bool {
    try ManagerCoding.single(core.call("acquire", [ManagerCoding.timeout(timeout)]))
  }

  /// Releases the lock, whoever acquired it.
  ///
  /// - Throws: ``ManagerError/releasedUnlocked``.
  public func release() throws(ManagerError) {
    _ = try core.call("release")
  }

  /// Runs `body` holding the lock.
  public func withLock<T>(_ body: () throws -> T) throws -> T {
    try acquire()
    defer { try? release() }
    return try body()
  }
}

/// A ``ManagedLock`` on the server: the connection that holds it, if any.
final class ServedLock: ServedObject, @unchecked Sendable {
  // @unchecked: `holder` is only used with `condition` locked.
  private let condition = NSCondition()
  private var holder: Int?

  func call(_ method: String, _ arguments: [Data], caller: Int) throws(ManagerError) -> [Data] {
    condition.lock()
    defer { condition.unlock() }
    switch method {
    case "acquire":
      let deadline = try ManagerCoding.deadline(try argument(arguments, 0))
      while holder != nil {
        if let deadline {
          guard condition.wait(until: deadline) || holder == nil else { return [try ManagerCoding.encode(false)] }
        } else {
          condition.wait()
        }
      }
      holder = caller
      return [try ManagerCoding.encode(true)]
    case "release":
      guard holder != nil else { throw .releasedUnlocked }
      holder = nil
      condition.signal()
      return []
    default:
      throw unknownMethod(method, of: "lock")
    }
  }

  func callerEnded(_ caller: Int) {
    condition.lock()
    defer { condition.unlock() }
    guard holder == caller else { return }
    holder = nil
    condition.signal()
  }
}
