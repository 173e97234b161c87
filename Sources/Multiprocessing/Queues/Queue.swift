import Foundation
import Synchronization
import SystemPackage

/// Why a ``Queue`` call failed.
public enum QueueError: SystemCallFailure, Sendable, Equatable {
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

  /// A system call of the queue's pipe failed.
  public static func system(call: String, errno: Errno) -> QueueError { .connection(.system(call: call, errno: errno)) }

  /// The system call of the queue's pipe that failed beneath this error and its `Errno`, or
  /// nil when none did.
  public var failedCall: (call: String, errno: Errno)? {
    if case .connection(let error) = self { return error.failedCall }
    return nil
  }

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
/// Items are `Codable` values. A queue of `BitwiseCopyable` ones (`Int`, `Double`, a struct
/// of them) keeps them in a ring of typed slots in shared memory and copies them in place
/// (millions of items a second); any other goes through a pipe as ``Connection`` messages
/// in `BinaryEncoder`'s form. Which one is
/// chosen where the queue is created: code generic over `Element: Codable` gets the pipe
/// unless it also requires `BitwiseCopyable`; so do values over 4 KiB.
///
/// A process-shared lock at each end keeps the puts of several producers, and the takes of
/// several consumers, one at a time. `maxSize` bounds the items in the queue. A put on an
/// unbounded queue never waits: one that finds the pipe or ring full leaves its item with
/// its process's feeder, a thread that writes it when room comes (Python's feeder thread);
/// a process waits for its feeders before it ends. ``close()`` is for everyone: later puts are refused, and getters take
/// what was put before and then see ``QueueError/closed``. A lock holder killed is replaced
/// by the next one to come (the locks are robust). A producer or taker killed while it puts
/// or takes leaves the ring whole; the pipe has two narrow windows, described in README.
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
public final class Queue<Element: Codable & Sendable>: Sendable {
  /// What a spawned or fork-server child reopens the queue from.
  public struct Handle: Codable, Sendable {
    var channel: QueueChannelHandle
  }

  private let channel: any QueueChannel<Element>
  /// The channel again when it is a ring: what the `BitwiseCopyable` overloads of ``put`` and
  /// ``get`` use, specialized, instead of the existential.
  @usableFromInline let ring: (AnyObject & Sendable)?

  private init(channel: any QueueChannel<Element>, ring: (AnyObject & Sendable)? = nil) {
    self.channel = channel
    self.ring = ring
  }

  /// An empty queue whose items go through a pipe; `maxSize` above 0 bounds it (a `put` then
  /// waits for room).
  ///
  /// - Throws: a `ConnectionError`, `SharedMemoryError` or `SynchronizationError` when
  ///   the system has no room for its parts.
  public convenience init(maxSize: Int = 0) throws {
    self.init(channel: try PipeQueueChannel(maxSize: maxSize))
  }

  /// Reopens a queue from its ``handle``.
  ///
  /// - Throws: `SharedMemoryError.cannotReopen` for the handle of a ring queue, which only
  ///   code that knows `Element` is `BitwiseCopyable` can reopen.
  public convenience init(_ handle: Handle) throws {
    guard case .pipe(let pipe) = handle.channel else {
      throw SharedMemoryError.cannotReopen(
        "the queue keeps its \(Element.self) items in a ring of slots: reopen it where \(Element.self) is known "
          + "to be BitwiseCopyable, not in code generic over Codable elements")
    }
    self.init(channel: try PipeQueueChannel(pipe))
  }

  /// What another process needs to reopen the queue.
  public var handle: Handle { Handle(channel: channel.handle) }

  /// How the items travel: ``QueueTransport/ring`` for `BitwiseCopyable` items where the
  /// queue was created, ``QueueTransport/pipe`` otherwise.
  public var transport: QueueTransport { channel.transport }

  /// Whether ``close()`` was called, by any process.
  public var isClosed: Bool { channel.isClosed }

  /// About how many items the queue holds, those its producers' feeders still hold included
  /// (Python's `qsize()`): others may put and take at the same moment.
  public var count: Int { channel.count }

  /// Whether the queue held no item when asked (Python's `empty()`).
  public var isEmpty: Bool { count == 0 }

  /// Whether a put would have had to wait for room when asked (Python's `full()`): a bounded
  /// queue holding `maxSize` items (an unbounded queue is never full); others may put and
  /// take at the same moment.
  public var isFull: Bool { channel.isFull }

  /// Puts `item` at the end, waiting up to `timeout` (nil: as long as it takes; `.zero`: not
  /// at all, Python's `block=False`) for room in a bounded queue; an unbounded queue's put
  /// never waits.
  ///
  /// - Throws: ``QueueError/closed``, ``QueueError/full`` after the timeout,
  ///   ``QueueError/connection(_:)`` for an item that cannot be encoded.
  public func put(_ item: Element, timeout: Duration? = nil) throws(QueueError) {
    try putThroughChannel(item, timeout: timeout)
  }

  @usableFromInline func putThroughChannel(_ item: Element, timeout: Duration?) throws(QueueError) {
    guard !channel.isClosed else { throw .closed }
    try channel.put(item, until: .deadline(after: timeout))
  }

  /// Takes the first item, waiting up to `timeout` (nil: as long as it takes; `.zero`: not at
  /// all, Python's `block=False`).
  ///
  /// - Throws: ``QueueError/empty`` after the timeout, ``QueueError/closed`` once the queue
  ///   is closed and every item put before was taken.
  public func get(timeout: Duration? = nil) throws(QueueError) -> Element {
    try getThroughChannel(timeout: timeout)
  }

  @usableFromInline func getThroughChannel(timeout: Duration?) throws(QueueError) -> Element {
    guard let item = try channel.get(until: .deadline(after: timeout)) else { throw .empty }
    return item
  }

  /// Closes the queue for every process: puts are refused from now on, and takers see
  /// ``QueueError/closed`` after the items put before.
  public func close() { channel.close() }

  /// The items as an `AsyncSequence` that ends when the queue is closed and drained. Takes
  /// wait on a thread of their own, not on the cooperative pool; a consumer that stops
  /// iterating stops them within 100 ms (an item already taken then is lost to the queue).
  public var values: AsyncThrowingStream<Element, any Error> {
    let (stream, continuation) = AsyncThrowingStream<Element, any Error>.makeStream()
    let stopped = StopFlag()
    continuation.onTermination = { _ in stopped.value.store(true, ordering: .relaxed) }
    startThread(named: "mp-queue-values") { [self] in
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
    return stream
  }
}

extension Queue where Element: BitwiseCopyable {
  /// An empty queue whose items are copied through a ring of typed slots in shared memory
  /// (through a pipe when they are over 4 KiB, or the bound would take over 64 MiB of
  /// slots); `maxSize` above 0 bounds it.
  ///
  /// - Throws: a `SharedMemoryError`, `RingError` or `SynchronizationError` when the system
  ///   has no room for its parts.
  public convenience init(maxSize: Int = 0) throws {
    if RingQueueChannel<Element>.fits(maxSize: maxSize) {
      let ring = try RingQueueChannel<Element>(maxSize: maxSize)
      self.init(channel: ring, ring: ring)
    } else {
      self.init(channel: try PipeQueueChannel(maxSize: maxSize))
    }
  }

  /// Puts `item` at the end, waiting up to `timeout` (nil: as long as it takes; `.zero`: not
  /// at all, Python's `block=False`) for room in a bounded queue; an unbounded queue's put
  /// never waits.
  ///
  /// - Throws: ``QueueError/closed``, ``QueueError/full`` after the timeout.
  @inlinable
  public func put(_ item: Element, timeout: Duration? = nil) throws(QueueError) {
    guard let ring else { return try putThroughChannel(item, timeout: timeout) }
    let channel = unsafeDowncast(ring, to: RingQueueChannel<Element>.self)
    guard !channel.isClosed else { throw .closed }
    try channel.put(item, until: timeout.map { .now + max($0, .zero) })
  }

  /// Takes the first item, waiting up to `timeout` (nil: as long as it takes; `.zero`: not at
  /// all, Python's `block=False`).
  ///
  /// - Throws: ``QueueError/empty`` after the timeout, ``QueueError/closed`` once the queue
  ///   is closed and every item put before was taken.
  @inlinable
  public func get(timeout: Duration? = nil) throws(QueueError) -> Element {
    guard let ring else { return try getThroughChannel(timeout: timeout) }
    let channel = unsafeDowncast(ring, to: RingQueueChannel<Element>.self)
    guard let item = try channel.get(until: timeout.map { .now + max($0, .zero) }) else { throw .empty }
    return item
  }

  /// Reopens a queue, of either kind, from its ``handle``.
  public convenience init(_ handle: Handle) throws {
    switch handle.channel {
    case .pipe(let pipe):
      self.init(channel: try PipeQueueChannel(pipe))
    case .ring(let parts):
      let ring = try RingQueueChannel<Element>(parts)
      self.init(channel: ring, ring: ring)
    }
  }
}

/// Set once, read from another thread.
private final class StopFlag: Sendable {
  let value = Atomic<Bool>(false)
}
