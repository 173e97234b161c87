/// How a ``Queue``'s items travel between processes: encoded messages on a pipe
/// (``PipeQueueChannel``) or typed slots in a ring of shared memory (``RingQueueChannel``).
///
/// Each channel holds two process-shared locks that let one producer and one taker at a
/// time at it; a holder that dies leaves its lock to the next one to come.
protocol QueueChannel<Element>: Sendable {
  associatedtype Element: Codable & Sendable

  /// How the items travel.
  var transport: QueueTransport { get }

  /// Whether the queue was closed, by any process.
  var isClosed: Bool { get }

  /// About how many items the queue holds.
  var count: Int { get }

  /// Whether a put would have to wait for room now (never for an unbounded pipe queue).
  var isFull: Bool { get }

  /// Closes the queue for every process (again: nothing).
  func close()

  /// Puts `item` at the end, waiting for room until `deadline` (nil: as long as it takes).
  ///
  /// - Throws: ``QueueError/full`` after the deadline, ``QueueError/closed``.
  func put(_ item: Element, until deadline: ContinuousClock.Instant?) throws(QueueError)

  /// The first item, or nil when none came by `deadline`.
  ///
  /// - Throws: ``QueueError/closed`` once the queue is closed and drained.
  func get(until deadline: ContinuousClock.Instant?) throws(QueueError) -> Element?

  /// What another process reopens the channel from.
  var handle: QueueChannelHandle { get }
}

/// What another process reopens a ``QueueChannel`` from.
enum QueueChannelHandle: Codable, Sendable {
  /// A ``PipeQueueChannel``'s parts.
  case pipe(PipeQueueChannelHandle)
  /// A ``RingQueueChannel``'s parts.
  case ring(RingQueueChannelHandle)
}

extension Lock {
  /// Runs `body` holding the lock, which a holder that died leaves to us; nil when the lock
  /// did not come by `deadline`.
  @inlinable func holding<T>(
    until deadline: ContinuousClock.Instant?, _ body: () throws(QueueError) -> T
  ) throws(QueueError) -> T? {
    let acquired: Bool
    do { acquired = try acquire(timeout: deadline.map { $0 - .now }) } catch .previousOwnerDied {
      acquired = true
    } catch {
      throw .synchronization(error)
    }
    guard acquired else { return nil }
    defer { try? release() }
    return try body()
  }
}
