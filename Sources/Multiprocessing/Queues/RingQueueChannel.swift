/// What another process reopens a ``RingQueueChannel`` from.
struct RingQueueChannelHandle: Codable, Sendable {
  var memory: SharedMemory.Handle
  var kind: String
  var readLock: SharedHandle
  var writeLock: SharedHandle
  var maxSize: Int
  var feed: SharedHandle?
}

/// A ``Queue``'s items as typed slots in a ``SlotRing`` of shared memory: `BitwiseCopyable`
/// values copied in place, with no encoding and no system call unless one side sleeps.
///
/// The ring is a single-producer, single-consumer one: the two locks let one producer and
/// one taker at a time at it. A producer killed while it puts leaves nothing behind (the
/// slot is written first, then published with one store); a taker killed while it takes
/// leaves the item for the next taker unless it had already freed the slot. A bound is the
/// count of items the producer sees under its lock, so a death loses no room either. An
/// unbounded queue's put never waits: one that finds the ring full hands its item to the
/// process's ``QueueFeeder`` (see ``RingFeed``).
///
/// A class, and inlinable: a ``Queue`` of a known element type reaches it without the
/// existential, specialized for that type in the caller's module (unspecialized, a put spent
/// most of its time looking up generic metadata).
@usableFromInline final class RingQueueChannel<Element: BitwiseCopyable & Codable & Sendable>: QueueChannel {
  @usableFromInline let ring: SlotRing<Element>
  @usableFromInline let readLock: Lock
  @usableFromInline let writeLock: Lock
  /// The bound, or 0.
  @usableFromInline let maxSize: Int
  /// An unbounded queue's feed, for puts that find the ring full; nil for a bounded one.
  @usableFromInline let feed: RingFeed<Element>?

  /// The largest slot a ring is used for; larger values go through the pipe.
  static var largestSlot: Int { 4096 }
  /// The most shared memory a queue's ring may take; a larger bound goes through the pipe.
  static var largestRing: Int { 64 << 20 }

  /// The ring's slots: at least `maxSize` for a bounded queue; for an unbounded one, 1 MiB of
  /// slots, between 64 and 65,536 of them (beyond them, the items wait in their producers'
  /// feeders).
  static func capacity(maxSize: Int) -> Int {
    maxSize > 0 ? maxSize : min(max((1 << 20) / MemoryLayout<Element>.stride, 64), 1 << 16)
  }

  /// Whether a ring suits a queue of this bound: slots up to ``largestSlot`` and a ring up to
  /// ``largestRing``.
  static func fits(maxSize: Int) -> Bool {
    let stride = MemoryLayout<Element>.stride
    return stride <= largestSlot && capacity(maxSize: maxSize) <= largestRing / max(stride, 1)
  }

  /// A new, empty ring for a queue bounded by `maxSize` (0 or less: unbounded).
  init(maxSize: Int) throws {
    let maxSize = max(maxSize, 0)
    let ring = try SlotRing<Element>(capacity: Self.capacity(maxSize: maxSize), mode: .singleProducerSingleConsumer)
    let writeLock = try Lock()
    self.maxSize = maxSize
    self.ring = ring
    self.writeLock = writeLock
    readLock = try Lock()
    feed = maxSize == 0 ? RingFeed(ring: ring, writeLock: writeLock, feedBlock: try QueueFeedBlock()) : nil
  }

  /// Reopens the ring of `handle`'s parts; its kind must name this element type.
  init(_ handle: RingQueueChannelHandle) throws {
    let ring = try SlotRing<Element>(SlotRing.Handle(memory: handle.memory, kind: handle.kind))
    let writeLock = try Lock(handle.writeLock)
    self.ring = ring
    self.writeLock = writeLock
    readLock = try Lock(handle.readLock)
    maxSize = handle.maxSize
    feed = try handle.feed.map { RingFeed(ring: ring, writeLock: writeLock, feedBlock: try QueueFeedBlock($0)) }
  }

  var handle: QueueChannelHandle {
    let ring = ring.handle
    return .ring(
      RingQueueChannelHandle(
        memory: ring.memory, kind: ring.kind, readLock: readLock.handle, writeLock: writeLock.handle,
        maxSize: maxSize, feed: feed?.feedBlock.handle))
  }

  var transport: QueueTransport { .ring }

  @inlinable var isClosed: Bool { feed?.isClosed ?? ring.isClosed }

  var count: Int { ring.count + (feed?.feedBlock.buffered ?? 0) }

  var isFull: Bool { maxSize > 0 && ring.count >= min(maxSize, ring.capacity) }

  func close() {
    guard let feed else { return ring.close() }
    feed.close()
  }

  @inlinable func put(_ item: Element, until deadline: ContinuousClock.Instant?) throws(QueueError) {
    if let feed { return try feed.put(item) }
    let pushed: Void? = try writeLock.holding(until: deadline) { () throws(QueueError) in
      do throws(RingError) {
        // The bound, when below the ring's capacity; the capacity the push waits for itself.
        while maxSize > 0, ring.count >= maxSize, !ring.isClosed {
          try ring.waitForSpace(until: deadline, below: maxSize)
        }
        try ring.push(item, timeout: deadline.map { $0 - .now })
      } catch .timedOut {
        throw .full
      } catch {
        throw .closed
      }
    }
    if pushed == nil { throw .full }
  }

  @inlinable func get(until deadline: ContinuousClock.Instant?) throws(QueueError) -> Element? {
    let taken = try readLock.holding(until: deadline) { () throws(QueueError) -> Element? in
      let item: Element?
      if deadline == nil, let feed {
        item = feed.pop()
      } else {
        // A pop without a deadline ends only with an item or the end; with one, it may time out.
        do throws(RingError) { item = try ring.pop(timeout: deadline.map { $0 - .now }) } catch {
          // In vain: the next get sees the end if a dead process held it back.
          feed?.writeEndIfPendingWithoutWaiting(reclaimingDead: true)
          return nil
        }
      }
      guard let item else { throw .closed }
      return item
    }
    return taken ?? nil
  }
}
