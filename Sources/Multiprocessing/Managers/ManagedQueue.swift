import Foundation

/// A queue held by a ``Manager``'s server: Python's `manager.Queue(maxsize)`, usable from
/// every process that has its handle (where the shared-memory ``Queue`` needs its handle
/// passed at start, this one may be handed out later, through the manager's other objects).
///
/// ```swift
/// let manager = try Manager()
/// let jobs = try manager.queue(Int.self)
/// try jobs.put(7)
/// print(try jobs.get())   // 7
/// ```
public final class ManagedQueue<Element: Codable & Sendable>: Sendable {
  /// What another process reopens the queue from.
  public typealias Handle = ManagedHandle<ManagedQueue<Element>>

  private let core: ProxyCore

  init(_ core: ProxyCore) {
    self.core = core
  }

  /// Reopens the queue from its ``handle``, in any process (spawned ones included).
  ///
  /// - Throws: ``ManagerError/server(_:)`` when the manager cannot be reached.
  public convenience init(_ handle: Handle) throws(ManagerError) {
    self.init(try ProxyCore(handle))
  }

  /// What another process needs to reopen the queue.
  public var handle: Handle { core.handle() }

  /// Puts `item` at the end, waiting up to `timeout` (nil: as long as it takes; `.zero`: not
  /// at all) for room in a bounded queue.
  ///
  /// - Throws: ``ManagerError/full`` after the timeout.
  public func put(_ item: Element, timeout: Duration? = nil) throws(ManagerError) {
    _ = try core.call("put", [ManagerCoding.encode(item), ManagerCoding.timeout(timeout)])
  }

  /// Takes the first item, waiting up to `timeout` (nil: as long as it takes; `.zero`: not at
  /// all).
  ///
  /// - Throws: ``ManagerError/empty`` after the timeout.
  public func get(timeout: Duration? = nil) throws(ManagerError) -> Element {
    try ManagerCoding.single(core.call("get", [ManagerCoding.timeout(timeout)]))
  }

  /// How many items the queue holds (Python's `qsize()`).
  public var count: Int { get throws(ManagerError) { try ManagerCoding.single(core.call("count")) } }
}

/// A ``ManagedQueue`` on the server: encoded items, and the bound.
final class ServedQueue: ServedObject, @unchecked Sendable {
  // @unchecked: `items` and `head` are only used with `condition` locked.
  private let condition = NSCondition()
  private var items: [Data] = []
  private var head = 0
  private let maxSize: Int

  init(_ arguments: [Data]) throws(ManagerError) {
    maxSize =
      try arguments.first.map { (data) throws(ManagerError) in try ManagerCoding.decode(data, as: Int.self) } ?? 0
  }

  private var count: Int { items.count - head }

  /// Waits on the condition until `ready` holds or `deadline` passes; whether it holds.
  private func wait(until deadline: Date?, for ready: () -> Bool) -> Bool {
    while !ready() {
      if let deadline {
        if !condition.wait(until: deadline) { return ready() }
      } else {
        condition.wait()
      }
    }
    return true
  }

  func call(_ method: String, _ arguments: [Data], caller: Int) throws(ManagerError) -> [Data] {
    condition.lock()
    defer { condition.unlock() }
    switch method {
    case "put":
      let item = try argument(arguments, 0)
      let deadline = try ManagerCoding.deadline(try argument(arguments, 1))
      guard wait(until: deadline, for: { maxSize <= 0 || count < maxSize }) else { throw .full }
      items.append(item)
      condition.broadcast()
      return []
    case "get":
      let deadline = try ManagerCoding.deadline(try argument(arguments, 0))
      guard wait(until: deadline, for: { count > 0 }) else { throw .empty }
      let item = items[head]
      head += 1
      if head >= 1024, head * 2 >= items.count {
        items.removeFirst(head)
        head = 0
      }
      condition.broadcast()
      return [item]
    case "count":
      return [try ManagerCoding.encode(count)]
    default:
      throw unknownMethod(method, of: "queue")
    }
  }
}
