/// A ``Queue`` whose takers say when each item is done, and whose ``join(timeout:)`` waits
/// until every item put is: Python's `multiprocessing.JoinableQueue`.
///
/// ```swift
/// let jobs = try JoinableQueue<Int>()
/// let worker = Process(daemon: true) {
///   while let job = try? jobs.get() { print(job); try jobs.taskDone() }
/// }
/// try worker.start()
/// for job in 0..<10 { try jobs.put(job) }
/// _ = try jobs.join()   // every job done
/// ```
public final class JoinableQueue<Element: Codable & Sendable>: @unchecked Sendable {
  // @unchecked: its parts are process-shared objects, each safe to use from any thread.

  /// What a spawned or fork-server child reopens the queue from.
  public struct Handle: Codable, Sendable {
    var queue: Queue<Element>.Handle
    var unfinished: SharedValue<Int>.Handle
    var allDone: Condition.Handle
  }

  private let queue: Queue<Element>
  /// Items put and not yet marked done; changed and waited on under `allDone`'s lock.
  private let unfinished: SharedValue<Int>
  private let allDone: Condition

  private init(queue: Queue<Element>, unfinished: SharedValue<Int>, allDone: Condition) {
    self.queue = queue
    self.unfinished = unfinished
    self.allDone = allDone
  }

  /// A new queue with no item pending around `queue`.
  convenience init(queue: Queue<Element>) throws {
    self.init(queue: queue, unfinished: try SharedValue(0, lock: false), allDone: try Condition(lock: Lock()))
  }

  /// Reopens the counting parts of `handle` around `queue`.
  convenience init(queue: Queue<Element>, handle: Handle) throws {
    self.init(queue: queue, unfinished: try SharedValue(handle.unfinished), allDone: try Condition(handle.allDone))
  }

  /// An empty queue whose items go through a pipe, as a ``Queue`` of any `Codable` values;
  /// `maxSize` above 0 bounds it.
  public convenience init(maxSize: Int = 0) throws {
    try self.init(queue: Queue(maxSize: maxSize))
  }

  /// Reopens a queue from its ``handle``.
  public convenience init(_ handle: Handle) throws {
    try self.init(queue: Queue(handle.queue), handle: handle)
  }

  /// What another process needs to reopen the queue.
  public var handle: Handle {
    Handle(queue: queue.handle, unfinished: unfinished.handle, allDone: allDone.handle)
  }

  /// How the items travel (see ``Queue/transport``).
  public var transport: QueueTransport { queue.transport }

  /// About how many items the queue holds (see ``Queue/count``).
  public var count: Int { queue.count }

  /// Whether the queue held no item when asked.
  public var isEmpty: Bool { queue.isEmpty }

  /// Whether a put would have had to wait for room when asked (see ``Queue/isFull``).
  public var isFull: Bool { queue.isFull }

  /// Puts `item` at the end (as a ``Queue``'s `put`), counting it as not done.
  public func put(_ item: Element, timeout: Duration? = nil) throws(QueueError) {
    try counting { unfinished.value += 1 }
    do { try queue.put(item, timeout: timeout) } catch {
      try? counting { unfinished.value -= 1 }
      throw error
    }
  }

  /// Takes the first item (as a ``Queue``'s `get`); call ``taskDone()`` once it is done.
  public func get(timeout: Duration? = nil) throws(QueueError) -> Element {
    try queue.get(timeout: timeout)
  }

  /// Says that an item taken is done; the last one wakes every ``join(timeout:)``.
  ///
  /// - Throws: ``QueueError/noTaskPending`` when every item put is already done.
  public func taskDone() throws(QueueError) {
    let wasPending = try counting { () throws -> Bool in
      guard unfinished.value > 0 else { return false }
      unfinished.value -= 1
      if unfinished.value == 0 { try allDone.notifyAll() }
      return true
    }
    if !wasPending { throw .noTaskPending }
  }

  /// Waits until every item put is done, or `timeout` passes (nil: as long as it takes).
  ///
  /// - Returns: false when the timeout passed first.
  @discardableResult
  public func join(timeout: Duration? = nil) throws(QueueError) -> Bool {
    try counting { try allDone.waitFor(timeout: timeout) { unfinished.value == 0 } }
  }

  /// Closes the queue for every process (as ``Queue/close()``).
  public func close() { queue.close() }

  /// Whether the queue was closed.
  public var isClosed: Bool { queue.isClosed }

  /// The items as an `AsyncSequence` (as ``Queue/values``); call ``taskDone()`` for each.
  public var values: AsyncThrowingStream<Element, any Error> { queue.values }

  /// Runs `body` under the count's lock, its failures as queue errors. A holder killed while
  /// it held the lock leaves it released (the count as it left it): `body` then runs again
  /// under it.
  private func counting<T>(_ body: () throws -> T) throws(QueueError) -> T {
    do {
      return try allDone.withLock(body)
    } catch SynchronizationError.previousOwnerDied {
      do { return try allDone.withLock(body) } catch { throw Self.queueError(error) }
    } catch {
      throw Self.queueError(error)
    }
  }

  /// What the condition's calls throw (only `SynchronizationError`s), as a queue error.
  private static func queueError(_ error: any Error) -> QueueError {
    .synchronization(error as? SynchronizationError ?? .notOwner)
  }
}

extension JoinableQueue where Element: BitwiseCopyable {
  /// An empty queue whose items are copied through a ring of typed slots, as a ``Queue`` of
  /// `BitwiseCopyable` values; `maxSize` above 0 bounds it.
  public convenience init(maxSize: Int = 0) throws {
    try self.init(queue: Queue(maxSize: maxSize))
  }

  /// Reopens a queue, of either kind, from its ``handle``.
  public convenience init(_ handle: Handle) throws {
    try self.init(queue: Queue(handle.queue), handle: handle)
  }
}
