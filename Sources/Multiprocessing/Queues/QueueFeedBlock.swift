/// The part of a queue every process shares about items put but not yet in the pipe or ring:
/// whether the queue is closing, and, for each process whose feeder holds items, how many.
///
/// One page of shared memory: a closing word, then ``slotCount`` slots of a ``LockCore`` and a
/// count. A ``QueueFeeder``'s thread holds its slot's lock for as long as it holds items, so
/// that a process killed with items in its buffer is seen as such (its thread is gone) and its
/// count reclaimed: its items are lost, but the end of the queue is not held back by them.
/// Counts change, and are summed, with the queue's producers' lock held: a close that finds
/// them all zero under that lock knows that every item put before it is in the pipe or ring.
@usableFromInline struct QueueFeedBlock: Sendable {
  /// The values of the closing word.
  @usableFromInline enum Closing {
    @usableFromInline static let open: UInt32 = 0
    /// Closed; the end is still to be written (buffered items, or no room for it yet).
    @usableFromInline static let endPending: UInt32 = 1
    /// Closed, and the end written.
    @usableFromInline static let ended: UInt32 = 2
  }

  static let kind = "QueueFeedBlock"
  static let size = 4096
  private static let slotsOffset = 64
  private static let slotSize = 16
  /// How many processes may hold buffered items of one queue at once; a put in one more waits
  /// for room as a bounded queue's does.
  static let slotCount = (size - slotsOffset) / slotSize

  private let slot: SharedSlot

  /// A new block: open, no buffered item.
  init() throws {
    slot = try SharedSlot(size: Self.size)
  }

  /// Reopens the block of `handle`.
  init(_ handle: SharedHandle) throws {
    slot = try SharedSlot(handle, kind: Self.kind, size: Self.size)
  }

  /// What another process reopens the block from.
  var handle: SharedHandle { slot.handle(kind: Self.kind) }

  /// The closing word: ``Closing/open``, ``Closing/endPending`` or ``Closing/ended``.
  var closing: FutexWord { FutexWord(slot.pointer) }

  /// Whether the queue was closed, by any process.
  var isClosed: Bool { closing.load() != Closing.open }

  /// Marks the queue closed; false when it was already.
  func close() -> Bool { closing.compareExchange(Closing.open, Closing.endPending).exchanged }

  private func lock(_ index: Int) -> LockCore { LockCore(slot.pointer + Self.slotsOffset + index * Self.slotSize) }
  private func count(_ index: Int) -> FutexWord {
    FutexWord(slot.pointer + Self.slotsOffset + index * Self.slotSize + 8)
  }

  /// Takes a free slot (or one whose holder died, whose items are then given up) for the
  /// calling thread, which keeps it until ``release(_:)``; nil when every slot is held.
  func claim() -> Int? {
    for index in 0..<Self.slotCount {
      switch lock(index).acquire(blocking: false, timeout: nil) {
      case .acquired, .acquiredFromDeadHolder:
        count(index).store(0)
        return index
      case .timedOut:
        continue
      }
    }
    return nil
  }

  /// Gives a slot back; its count must be 0.
  func release(_ index: Int) { lock(index).release() }

  /// Counts `delta` items into or out of a slot, with the producers' lock held.
  @usableFromInline func add(_ delta: Int, at index: Int) {
    if delta >= 0 { count(index).add(UInt32(delta)) } else { count(index).subtract(UInt32(-delta)) }
  }

  /// The items buffered in every process, as last counted.
  var buffered: Int { (0..<Self.slotCount).reduce(0) { $0 + Int(count($1).load()) } }

  /// Whether no process holds buffered items, with the producers' lock held. With
  /// `reclaimingDead`, a slot whose holder died is emptied and freed first (it costs a look
  /// at `/proc` per slot that holds items: for a taker that waited in vain, not for every item).
  func allFlushed(reclaimingDead: Bool) -> Bool {
    var flushed = true
    for index in 0..<Self.slotCount where count(index).load() != 0 {
      guard reclaimingDead else {
        flushed = false
        continue
      }
      switch lock(index).acquire(blocking: false, timeout: nil) {
      case .acquiredFromDeadHolder, .acquired:
        // Dead, or (never seen) a count left behind by a holder that let go.
        count(index).store(0)
        lock(index).release()
      case .timedOut:
        flushed = false
      }
    }
    return flushed
  }
}
