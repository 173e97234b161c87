/// An unbounded ring queue's puts: each writes its item into the ring itself while the ring
/// has room and its process's ``QueueFeeder`` is empty, and hands it to the feeder otherwise,
/// so that no put waits. The queue's closing word is in the ``QueueFeedBlock``; the ring
/// itself is closed, the end its takers see, once no process holds buffered items.
///
/// A class: the put reaches it through its channel without copying its parts (a struct's
/// copy retained each of them, on every put).
@usableFromInline final class RingFeed<Element: BitwiseCopyable & Sendable>: QueueOutlet, @unchecked Sendable {
  // @unchecked: `closing` points into the feed block's shared memory, which `feedBlock` keeps
  // mapped, and is only used through atomic operations.
  @usableFromInline let ring: SlotRing<Element>
  @usableFromInline let writeLock: Lock
  @usableFromInline let feedBlock: QueueFeedBlock
  /// The feed block's closing word, kept here for the inlined put.
  @usableFromInline let closing: FutexWord
  /// This process's items that found the ring full.
  @usableFromInline let feeder = QueueFeeder<Element>()

  init(ring: SlotRing<Element>, writeLock: Lock, feedBlock: QueueFeedBlock) {
    self.ring = ring
    self.writeLock = writeLock
    self.feedBlock = feedBlock
    closing = feedBlock.closing
  }

  /// Whether the queue was closed, by any process.
  @inlinable var isClosed: Bool { closing.load() != QueueFeedBlock.Closing.open }

  /// Puts `item` without waiting for room.
  ///
  /// - Throws: ``QueueError/closed``.
  @inlinable func put(_ item: Element) throws(QueueError) {
    // The lock without a deadline: it is held briefly, and an unbounded put is never `full`.
    _ = try writeLock.holding(until: nil) { () throws(QueueError) in
      // Checked with the lock held: a close from here on ends the ring after the item.
      guard !isClosed else { throw .closed }
      if try feeder.put(item, outlet: self) { return }
      // Every slot of the feed block is taken: wait for room here.
      do throws(RingError) { try ring.push(item) } catch { throw .closed }
    }
  }

  @inlinable func tryWrite(_ item: Element) throws(QueueError) -> Bool {
    do throws(RingError) { return try ring.tryPush(item) } catch { throw .closed }
  }

  @usableFromInline func waitForRoom(_ timeout: Duration) {
    try? ring.waitForSpace(until: .now + timeout)
  }

  /// Takes an item, waiting as long as it takes; nil once the queue is closed and drained.
  /// The wait looks, every 100 ms, for an end held back by a process that died with items
  /// buffered.
  @inlinable func pop() -> Element? {
    while true {
      do throws(RingError) { return try ring.pop(timeout: .milliseconds(100)) } catch {
        writeEndIfPendingWithoutWaiting(reclaimingDead: true)
      }
    }
  }

  /// Closes the queue for every process; the ring ends once nothing is buffered.
  func close() {
    guard feedBlock.close() else { return }
    writeEndIfPendingWithoutWaiting(reclaimingDead: true)
  }

  /// The end the ring's takers see: the ring closed.
  @usableFromInline func writeEnd() -> Bool {
    ring.close()
    return true
  }
}
