import Foundation
import Synchronization

/// Why a ``Queue`` call failed.
public enum QueueError: Error, Sendable, Equatable, CustomStringConvertible {
  /// `get` waited `timeout` and no item came (Python's `queue.Empty`).
  case empty
  /// `put` waited `timeout` for room in a bounded queue (Python's `queue.Full`).
  case full
  /// The queue was closed: a `put` is refused; a `get` sees this once every item put before
  /// the close was taken.
  case closed
  /// An item could not be encoded or decoded, or the pipe under the queue failed.
  case connection(ConnectionError)
  /// One of the queue's locks failed.
  case synchronization(SynchronizationError)
  /// `taskDone()` was called more times than items were put (Python's `ValueError`).
  case noTaskPending

  /// A message that names the failure.
  public var description: String {
    switch self {
    case .empty: "no item came before the timeout"
    case .full: "no room came in the bounded queue before the timeout"
    case .closed: "the queue is closed"
    case .connection(let error): "the queue's pipe failed: \(error)"
    case .synchronization(let error): "the queue's lock failed: \(error)"
    case .noTaskPending: "taskDone() was called more times than items were put"
    }
  }
}

/// A queue between processes of every start method: Python's `multiprocessing.Queue` (and,
/// without a bound, its `SimpleQueue`).
///
/// Items are `Codable` values, sent through a pipe as ``Connection`` messages in
/// `BinaryEncoder`'s form; a process-shared lock at each end keeps the messages of several
/// producers, and the takes of several consumers, whole. `maxSize` bounds the items in the
/// queue (a semaphore of free places). ``close()`` is for everyone: later puts are refused,
/// and getters take what was put before and then see ``QueueError/closed``. A producer
/// killed while it puts leaves no half item for items under 4 KiB (a pipe writes those at
/// once); a lock holder killed is replaced by the next taker (the locks are robust).
///
/// ```swift
/// let queue = try Queue<String>()
/// let producer = Process {
///   for word in ["a", "b"] { try queue.put(word) }
///   queue.close()
/// }
/// try producer.start()
/// for try await word in queue.values { print(word) }   // a, b
/// ```
public final class Queue<Element: Codable & Sendable>: @unchecked Sendable {
  // @unchecked: its parts are process-shared objects, each safe to use from any thread.

  /// What a spawned or fork-server child reopens the queue from.
  public struct Handle: Codable, Sendable {
    var reader: Connection.Handle
    var writer: Connection.Handle
    var readLock: SharedHandle
    var writeLock: SharedHandle
    var closed: SharedValue<Int>.Handle
    var places: SharedHandle?
  }

  /// One message on the pipe: an item, or the end a close leaves behind it.
  private enum Message: Codable {
    case item(Element)
    case end
  }

  private let reader: Connection
  private let writer: Connection
  private let readLock: Lock
  private let writeLock: Lock
  private let closedFlag: SharedValue<Int>
  private let places: Semaphore?

  /// An empty queue; `maxSize` above 0 bounds it (a `put` then waits for room).
  ///
  /// - Throws: a `ConnectionError`, `SharedMemoryError` or `SynchronizationError` when
  ///   the system has no room for its parts.
  public init(maxSize: Int = 0) throws {
    (reader, writer) = try Connection.pipe(duplex: false)
    readLock = try Lock()
    writeLock = try Lock()
    closedFlag = try SharedValue(0, lock: false)
    places = maxSize > 0 ? try Semaphore(value: maxSize) : nil
  }

  /// Reopens a queue from its ``handle``.
  public init(_ handle: Handle) throws {
    reader = try Connection(handle.reader)
    writer = try Connection(handle.writer)
    readLock = try Lock(handle.readLock)
    writeLock = try Lock(handle.writeLock)
    closedFlag = try SharedValue(handle.closed)
    places = try handle.places.map(Semaphore.init)
  }

  /// What another process needs to reopen the queue.
  public var handle: Handle {
    Handle(
      reader: reader.handle, writer: writer.handle, readLock: readLock.handle, writeLock: writeLock.handle,
      closed: closedFlag.handle, places: places?.handle)
  }

  /// Whether ``close()`` was called, by any process.
  public var isClosed: Bool { closedFlag.load() != 0 }

  /// Puts `item` at the end, waiting up to `timeout` (nil: as long as it takes) for room in a
  /// bounded queue.
  ///
  /// - Throws: ``QueueError/closed``, ``QueueError/full`` after the timeout,
  ///   ``QueueError/connection(_:)`` for an item that cannot be encoded.
  public func put(_ item: Element, timeout: Duration? = nil) throws(QueueError) {
    guard !isClosed else { throw .closed }
    if let places, !places.acquire(timeout: timeout) { throw .full }
    do {
      try send(.item(item))
    } catch {
      try? places?.release()
      throw error
    }
  }

  /// Takes the first item, waiting up to `timeout` (nil: as long as it takes).
  ///
  /// - Throws: ``QueueError/empty`` after the timeout, ``QueueError/closed`` once the queue
  ///   is closed and every item put before was taken.
  public func get(timeout: Duration? = nil) throws(QueueError) -> Element {
    let deadline = timeout.map { ContinuousClock.now + $0 }
    // A taker killed while it held the lock is replaced; the lock is then ours.
    let acquired: Bool
    do { acquired = try readLock.acquire(timeout: timeout) } catch .previousOwnerDied { acquired = true } catch {
      throw .synchronization(error)
    }
    guard acquired else { throw .empty }
    defer { try? readLock.release() }
    let message: Message?
    do { message = try receive(until: deadline) } catch { throw .connection(error) }
    switch message {
    case nil:
      throw .empty
    case .item(let item)?:
      try? places?.release()
      return item
    case .end?:
      // Left for the other takers too.
      try? send(.end)
      throw .closed
    }
  }

  /// The next message, or nil when none came by `deadline`. Without a deadline the read
  /// itself waits: no poll (a system call per item) first.
  private func receive(until deadline: ContinuousClock.Instant?) throws(ConnectionError) -> Message? {
    if let deadline, try !reader.poll(timeout: max(.zero, deadline - .now)) { return nil }
    return try reader.recv(Message.self)
  }

  /// Closes the queue for every process: puts are refused from now on, and takers see
  /// ``QueueError/closed`` after the items put before.
  public func close() {
    guard closedFlag.compareExchange(expected: 0, desired: 1).exchanged else { return }
    try? send(.end)
  }

  /// The items as an `AsyncSequence` that ends when the queue is closed and drained. Takes
  /// wait on a thread of their own, not on the cooperative pool; a consumer that stops
  /// iterating stops them within 100 ms (an item already taken then is lost to the queue).
  public var values: AsyncThrowingStream<Element, any Error> {
    let (stream, continuation) = AsyncThrowingStream<Element, any Error>.makeStream()
    let stopped = StopFlag()
    continuation.onTermination = { _ in stopped.value.store(true, ordering: .relaxed) }
    let thread = Thread { [self] in
      while !stopped.value.load(ordering: .relaxed) {
        do {
          continuation.yield(try get(timeout: .milliseconds(100)))
        } catch QueueError.empty {
          continue
        } catch QueueError.closed {
          continuation.finish()
          return
        } catch {
          continuation.finish(throwing: error)
          return
        }
      }
    }
    thread.start()
    return stream
  }

  private func send(_ message: Message) throws(QueueError) {
    do { _ = try writeLock.acquire() } catch .previousOwnerDied {
      // A producer killed while it held the lock: the lock is now ours.
    } catch {
      throw .synchronization(error)
    }
    defer { try? writeLock.release() }
    do { try writer.send(message) } catch { throw .connection(error) }
  }
}

/// Set once, read from another thread.
private final class StopFlag: Sendable {
  let value = Atomic<Bool>(false)
}
