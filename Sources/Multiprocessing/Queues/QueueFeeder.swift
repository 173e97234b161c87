import Foundation

/// Where a ``QueueFeeder`` writes its items: the pipe or ring of one queue.
@usableFromInline protocol QueueOutlet<Item>: Sendable {
  associatedtype Item: Sendable

  /// The producers' lock, held for every write.
  var writeLock: Lock { get }

  /// The queue's closing word and buffered counts.
  var feedBlock: QueueFeedBlock { get }

  /// Writes `item` if there is room now, with the producers' lock held; false when there is
  /// none.
  ///
  /// - Throws: when the item can never be written (the pipe's readers are gone).
  func tryWrite(_ item: Item) throws(QueueError) -> Bool

  /// Waits up to `timeout` for room, with the producers' lock not held.
  func waitForRoom(_ timeout: Duration)

  /// Writes the end the takers see after the last item (the pipe's end message; the ring's
  /// close) if there is room now; whether it did. With the producers' lock held.
  func writeEnd() -> Bool
}

extension QueueOutlet {
  /// Writes the end once the queue is closed and no process holds buffered items (with
  /// `reclaimingDead`, counting those of dead processes as given up), if there is room; with
  /// the producers' lock held.
  @usableFromInline func writeEndIfPending(reclaimingDead: Bool = false) {
    let closing = feedBlock.closing
    guard closing.load() == QueueFeedBlock.Closing.endPending, feedBlock.allFlushed(reclaimingDead: reclaimingDead),
      writeEnd()
    else { return }
    _ = closing.compareExchange(QueueFeedBlock.Closing.endPending, QueueFeedBlock.Closing.ended)
  }

  /// ``writeEndIfPending(reclaimingDead:)`` if the queue's end is pending and the producers'
  /// lock is free now; otherwise the lock's holder writes it when it lets go, or a later
  /// taker does.
  @usableFromInline func writeEndIfPendingWithoutWaiting(reclaimingDead: Bool) {
    guard feedBlock.closing.load() == QueueFeedBlock.Closing.endPending else { return }
    _ = try? writeLock.holding(until: .now) { () throws(QueueError) in
      writeEndIfPending(reclaimingDead: reclaimingDead)
    }
  }
}

/// The items one process's puts accepted while its queue had no room, and the thread that
/// writes them as room comes: what lets a put on an unbounded queue never wait (Python's
/// feeder thread).
///
/// A put writes its item itself while this buffer is empty (no thread, no copy); once the
/// pipe or ring is full, it appends here instead, and so do the puts after it while the
/// buffer holds anything, so that one process's items keep their order. The thread starts
/// with the first item, claims a slot of the queue's ``QueueFeedBlock`` (where its count is
/// seen by every process), writes with the producers' lock held, and ends when the buffer is
/// empty. The buffer holds what was put and not yet written, and no more. A forked child
/// starts with an empty buffer (``QueueFeeders/resetInChild()``), and a process waits for its
/// feeders before it ends (``QueueFeeders/flushAll()``).
@usableFromInline final class QueueFeeder<Item: Sendable>: @unchecked Sendable {
  // @unchecked: `buffer`, `head` and `slot` are read and changed only with the queue's
  // producers' lock held (a process-shared lock, so one thread at a time), or in a freshly
  // forked child, which has one thread.
  // Unchecked exclusivity: the producers' lock already makes every access exclusive, and the
  // put's inlined check would otherwise pay for a dynamic one.
  @exclusivity(unchecked) @usableFromInline var buffer: [Item] = []
  /// The index of the next item to write in `buffer`.
  @exclusivity(unchecked) @usableFromInline var head = 0
  /// The feed block's slot the running thread holds; nil when no thread runs.
  @exclusivity(unchecked) @usableFromInline var slot: Int?

  init() {}

  /// Whether the buffer is empty, so that a put may write its item itself; with the
  /// producers' lock held.
  @inlinable var isIdle: Bool { head == buffer.count }

  /// Appends `item` for the thread to write, starting the thread if none runs; with the
  /// producers' lock held. False when every slot of the feed block is taken (a put then waits
  /// for room itself).
  @inlinable func accept<Outlet: QueueOutlet<Item>>(_ item: Item, outlet: Outlet) -> Bool {
    if slot == nil {
      guard let claimed = start(outlet) else { return false }
      slot = claimed
    }
    outlet.feedBlock.add(1, at: slot!)
    buffer.append(item)
    return true
  }

  /// A put's way, with the producers' lock held: the buffered items that have room first,
  /// then `item` itself while nothing is left buffered and there is room, else into the
  /// buffer. False when every slot of the feed block is taken: the put then waits for room
  /// itself.
  @inlinable func put<Outlet: QueueOutlet<Item>>(_ item: Item, outlet: Outlet) throws(QueueError) -> Bool {
    if !isIdle { writeWhatFits(outlet) }
    if isIdle, try outlet.tryWrite(item) { return true }
    return accept(item, outlet: outlet)
  }

  /// Writes the buffered items that have room now, in order; with the producers' lock held.
  /// A put calls it before its own item, so that while a process keeps putting, its puts
  /// write its buffer (the thread is left the items no later put came to write).
  @inlinable func writeWhatFits<Outlet: QueueOutlet<Item>>(_ outlet: Outlet) {
    guard let slot else { return }
    let first = head
    defer { QueueFeeders.shared.wrote(head - first) }
    while head < buffer.count {
      let wrote: Bool
      do { wrote = try outlet.tryWrite(buffer[head]) } catch {
        // Nowhere to write to, ever (the readers are gone): the items are dropped.
        outlet.feedBlock.add(-(buffer.count - head), at: slot)
        head = buffer.count
        break
      }
      guard wrote else {
        // Let go of what was written once it is most of the buffer.
        if head >= 1024, head * 2 >= buffer.count {
          buffer.removeFirst(head)
          head = 0
        }
        return
      }
      head += 1
      outlet.feedBlock.add(-1, at: slot)
    }
    buffer = []
    head = 0
  }

  /// Starts the thread and waits until it has claimed a slot: the slot is held by the
  /// thread that writes, so that its death (and only its death) frees the items' count.
  @usableFromInline func start<Outlet: QueueOutlet<Item>>(_ outlet: Outlet) -> Int? {
    let claimed = ClaimedSlot()
    QueueFeeders.shared.started(self)
    startThread(named: "mp-queue-feeder") { [self] in
      claimed.slot = outlet.feedBlock.claim()
      claimed.ready.signal()
      guard claimed.slot != nil else { return }
      run(outlet)
      QueueFeeders.shared.finished(self)
    }
    claimed.ready.wait()
    if claimed.slot == nil { QueueFeeders.shared.finished(self) }
    return claimed.slot
  }

  /// The thread's work: write, wait for room, write again, until the buffer is empty.
  private func run<Outlet: QueueOutlet<Item>>(_ outlet: Outlet) {
    while true {
      let done = (try? outlet.writeLock.holding(until: nil) { () throws(QueueError) in writeAll(outlet) }) ?? nil
      if done == true { return }
      outlet.waitForRoom(.milliseconds(5))
    }
  }

  /// Writes what has room; with the producers' lock held. True once the buffer is empty, the
  /// slot given back and the thread to end.
  private func writeAll<Outlet: QueueOutlet<Item>>(_ outlet: Outlet) -> Bool {
    guard let slot else { return true }
    writeWhatFits(outlet)
    guard isIdle else { return false }
    self.slot = nil
    outlet.feedBlock.release(slot)
    outlet.writeEndIfPending()
    return true
  }

  /// Forgets the parent's items in a freshly forked child (they are the parent's to write):
  /// the buffer is dropped without being freed, since the fork may have caught another
  /// thread changing it.
  func resetInChild() {
    withUnsafeMutablePointer(to: &buffer) { $0.initialize(to: []) }
    head = 0
    slot = nil
  }
}

/// The slot a new feeder thread claimed, handed to the put that started it.
private final class ClaimedSlot: @unchecked Sendable {
  // @unchecked: `slot` is written by the thread before `ready` is signalled and read after.
  var slot: Int?
  let ready = DispatchSemaphore(value: 0)
}
