import CSystemShims

/// A bounded ring of typed slots in shared memory, passing `BitwiseCopyable` values between
/// processes without serialising them.
///
/// ``Mode-swift.enum/singleProducerSingleConsumer`` is a Lamport ring: a push writes the slot
/// and publishes it with one store, and a batch publishes many slots with one store.
/// ``Mode-swift.enum/multiProducerMultiConsumer`` gives every slot a sequence number (Vyukov's
/// bounded queue), so that any number of processes push and pop at once.
///
/// Blocking operations spin briefly, then sleep on a futex; the other side makes a system
/// call only when someone sleeps. A single consumer's blocking pop that finds only a few items
/// while the producer is still pushing waits a moment (128 pause instructions at most, ~2 µs
/// here) for it to get ahead, so that each slot's cache line crosses between the cores once
/// rather than once per item. After ``close()`` pushes throw ``RingError/closed``, and
/// consumers take what is left and then see the end (`nil`).
///
/// Forked children use the ring as it is; spawned ones reopen it from ``handle``.
public final class SlotRing<T: BitwiseCopyable>: @unchecked Sendable {
  // @unchecked: the ring lives in shared memory and is only used through atomic operations;
  // the cached positions are used by the single producer or consumer their mode allows.

  /// Who may push and pop at once.
  public enum Mode: String, Sendable, Codable {
    /// One producing and one consuming thread at a time: the fastest. Threads or processes
    /// may take turns at either end under a lock (as a ``Queue``'s producers and takers do).
    case singleProducerSingleConsumer
    /// Any number of producers and consumers.
    case multiProducerMultiConsumer
  }

  /// What another process needs to reopen the ring.
  public struct Handle: Codable, Sendable, Hashable {
    @usableFromInline let memory: SharedMemory.Handle
    let kind: String
  }

  @usableFromInline static var kind: String { SharedKinds.shared.name(of: Self.self) { "SlotRing<\(T.self)>" } }

  @usableFromInline let memory: SharedMemory
  /// The number of slots (a power of two).
  public let capacity: Int
  /// Who may push and pop at once.
  public let mode: Mode
  @usableFromInline let mask: UInt64
  @usableFromInline let slots: UnsafeMutableRawPointer
  @usableFromInline let cellStride: Int
  @usableFromInline let head: AtomicCounter
  @usableFromInline let tail: AtomicCounter
  @usableFromInline let closedFlag: FutexWord
  @usableFromInline let consumersWaiting: FutexWord
  @usableFromInline let itemsSignal: FutexWord
  @usableFromInline let producersWaiting: FutexWord
  @usableFromInline let spaceSignal: FutexWord
  /// The producer's last look at the consumer's position, and the consumer's at the
  /// producer's (single-producer mode): each side reads the other's cache line only when its
  /// cached view says the ring is full or empty, instead of on every item.
  // Unchecked: each is used by one side only, and dynamic exclusivity checks would cost
  // more than the rest of a push or pop.
  @exclusivity(unchecked) @usableFromInline var producerSeesTail: UInt64 = 0
  @exclusivity(unchecked) @usableFromInline var consumerSeesHead: UInt64 = 0

  /// A ring of at least `capacity` slots (rounded up to a power of two).
  ///
  /// - Throws: ``RingError/invalidArgument(_:)`` for a capacity below 1 or above 2^30.
  public convenience init(capacity: Int, mode: Mode = .multiProducerMultiConsumer) throws {
    guard (1...(1 << 30)).contains(capacity) else {
      throw RingError.invalidArgument("capacity must be between 1 and 2^30, not \(capacity)")
    }
    var rounded = 1
    while rounded < capacity { rounded <<= 1 }
    let stride = Self.cellStride(mode)
    let memory = try SharedMemory(size: RingHeader.bodyOffset + rounded * stride)
    RingHeader.initialize(memory.baseAddress, capacity: rounded, mode: mode == .singleProducerSingleConsumer ? 0 : 1)
    self.init(memory: memory)
    if mode == .multiProducerMultiConsumer {
      for index in 0..<rounded { AtomicCounter(slots + index * stride).store(UInt64(index)) }
    }
  }

  /// Reopens a ring from its ``handle`` (in a spawned or fork-server child).
  public convenience init(_ handle: Handle) throws {
    guard handle.kind == Self.kind else {
      throw SharedMemoryError.cannotReopen("the handle is for a \(handle.kind), not a \(Self.kind)")
    }
    self.init(memory: try SharedMemory(handle.memory))
  }

  @usableFromInline init(memory: SharedMemory) {
    let header = RingHeader(memory.baseAddress)
    self.memory = memory
    capacity = header.capacity
    mode =
      header.mode == 0
      ? .singleProducerSingleConsumer : .multiProducerMultiConsumer
    mask = UInt64(capacity - 1)
    cellStride = Self.cellStride(mode)
    slots = header.body
    head = header.head
    tail = header.tail
    closedFlag = header.closedFlag
    consumersWaiting = header.consumersWaiting
    itemsSignal = header.itemsSignal
    producersWaiting = header.producersWaiting
    spaceSignal = header.spaceSignal
  }

  /// A multi-producer cell is a sequence number followed by the value.
  @inlinable
  static var valueOffset: Int { max(8, MemoryLayout<T>.alignment) }

  @usableFromInline static func cellStride(_ mode: Mode) -> Int {
    switch mode {
    case .singleProducerSingleConsumer: return MemoryLayout<T>.stride
    case .multiProducerMultiConsumer:
      let size = valueOffset + MemoryLayout<T>.size
      let alignment = max(8, MemoryLayout<T>.alignment)
      return (size + alignment - 1) / alignment * alignment
    }
  }

  /// What another process needs to reopen the ring.
  public var handle: Handle { Handle(memory: memory.handle, kind: Self.kind) }

  /// Whether ``close()`` was called.
  @inlinable
  public var isClosed: Bool { closedFlag.load() != 0 }

  /// About how many items the ring holds now.
  @inlinable
  public var count: Int {
    let read = tail.load()
    return Int(head.load() &- read)
  }

  // MARK: Push

  /// Pushes `value` if there is room now.
  ///
  /// - Returns: false when the ring is full.
  /// - Throws: ``RingError/closed``.
  @inlinable
  public func tryPush(_ value: T) throws(RingError) -> Bool {
    guard !isClosed else { throw RingError.closed }
    guard tryPushOne(value) else { return false }
    signalItems()
    return true
  }

  /// Pushes `value`, waiting for room at most `timeout` (nil: as long as it takes).
  ///
  /// - Throws: ``RingError/closed``, or ``RingError/timedOut``.
  @inlinable
  public func push(_ value: T, timeout: Duration? = nil) throws(RingError) {
    guard !isClosed else { throw RingError.closed }
    if tryPushOne(value) {
      signalItems()
      return
    }
    // The deadline only when waiting: `ContinuousClock.Instant` is resilient, and handling an
    // optional one costs a push's worth of time.
    let deadline = ContinuousClock.Instant.deadline(after: timeout)
    while true {
      try waitForSpace(until: deadline)
      guard !isClosed else { throw RingError.closed }
      if tryPushOne(value) {
        signalItems()
        return
      }
    }
  }

  /// Pushes every element of `values`, in order, waiting for room as needed.
  ///
  /// A single-producer ring takes the values in runs of up to its capacity, each published
  /// with one store once there is room for all of it (rather than a slot at a time as the
  /// consumer frees them): at most `capacity` values go in whole or, on a timeout, not at all.
  ///
  /// - Throws: ``RingError/closed`` (the runs before the close were pushed), or
  ///   ``RingError/timedOut`` (likewise).
  @inlinable
  public func push(contentsOf values: UnsafeBufferPointer<T>, timeout: Duration? = nil) throws(RingError) {
    var done = 0
    while done < values.count {
      guard !isClosed else { throw RingError.closed }
      let pushed = tryPushMany(UnsafeBufferPointer(rebasing: values[done...]))
      // The deadline only when waiting, as in `push(_:timeout:)`.
      guard pushed > 0 else { return try pushWaiting(values, from: done, timeout: timeout) }
      done += pushed
      signalItems()
    }
  }

  /// The rest of ``push(contentsOf:timeout:)-(UnsafeBufferPointer<T>,_)`` once the ring had
  /// no room for the elements from `done` on.
  @usableFromInline func pushWaiting(_ values: UnsafeBufferPointer<T>, from done: Int, timeout: Duration?)
    throws(RingError)
  {
    let deadline = ContinuousClock.Instant.deadline(after: timeout)
    var done = done
    while done < values.count {
      // A single producer waits for room for the whole run: the slots one at a time as the
      // consumer frees them would be a store of the position, and a cache line crossing
      // back to the consumer, for each.
      let run = mode == .singleProducerSingleConsumer ? min(values.count - done, capacity) : nil
      try waitForSpace(until: deadline, below: run.map { capacity - $0 + 1 })
      guard !isClosed else { throw RingError.closed }
      let pushed = tryPushMany(UnsafeBufferPointer(rebasing: values[done...]))
      if pushed > 0 {
        done += pushed
        signalItems()
      }
    }
  }

  /// Pushes every element of `values`; see ``push(contentsOf:timeout:)-(UnsafeBufferPointer<T>,_)``.
  public func push(contentsOf values: [T], timeout: Duration? = nil) throws(RingError) {
    try values.withUnsafeBufferPointer { values in
      Result { () throws(RingError) in try push(contentsOf: values, timeout: timeout) }
    }.get()
  }

  @inlinable
  func tryPushOne(_ value: T) -> Bool {
    switch mode {
    case .singleProducerSingleConsumer:
      let written = head.loadRelaxed()
      if written - producerSeesTail >= UInt64(capacity) {
        producerSeesTail = tail.load()
        guard written - producerSeesTail < UInt64(capacity) else { return false }
      }
      (slots + Int(written & mask) * cellStride).storeBytes(of: value, as: T.self)
      head.store(written + 1)
      return true
    case .multiProducerMultiConsumer:
      var position = head.loadRelaxed()
      while true {
        let cell = slots + Int(position & mask) * cellStride
        let sequence = AtomicCounter(cell).load()
        if sequence == position {
          let (exchanged, original) = head.compareExchange(position, position + 1)
          if exchanged {
            (cell + Self.valueOffset).storeBytes(of: value, as: T.self)
            AtomicCounter(cell).store(position + 1)
            return true
          }
          position = original
        } else if sequence < position {
          return false
        } else {
          position = head.loadRelaxed()
        }
      }
    }
  }

  @inlinable
  func tryPushMany(_ values: UnsafeBufferPointer<T>) -> Int {
    guard mode == .singleProducerSingleConsumer else {
      var pushed = 0
      while pushed < values.count, tryPushOne(values[pushed]) { pushed += 1 }
      return pushed
    }
    let written = head.loadRelaxed()
    if written - producerSeesTail + UInt64(values.count) > UInt64(capacity) { producerSeesTail = tail.load() }
    let free = UInt64(capacity) - (written - producerSeesTail)
    let count = Int(min(free, UInt64(values.count)))
    // Only whole runs (up to the capacity): see `pushWaiting`.
    guard count > 0, count == min(values.count, capacity) else { return 0 }
    // Values are BitwiseCopyable and the slots contiguous: copy bytes, in two runs at the wrap.
    let start = Int(written & mask)
    let first = min(count, capacity - start)
    let source = UnsafeRawPointer(values.baseAddress!)
    (slots + start * cellStride).copyMemory(from: source, byteCount: first * cellStride)
    if first < count { slots.copyMemory(from: source + first * cellStride, byteCount: (count - first) * cellStride) }
    head.store(written + UInt64(count))
    return count
  }

  // MARK: Pop

  /// Takes an item if one is there now; nil when the ring is empty (see ``isFinished``).
  @inlinable
  public func tryPop() -> T? {
    guard let value = tryPopOne() else { return nil }
    signalSpace()
    return value
  }

  /// Takes up to `buffer.count` items that are there now, without waiting.
  ///
  /// - Returns: how many were taken (0 when the ring is empty).
  @inlinable
  public func tryPop(into buffer: UnsafeMutableBufferPointer<T>) -> Int {
    let taken = tryPopMany(buffer)
    if taken > 0 { signalSpace() }
    return taken
  }

  /// Whether the ring is closed and drained: no item will ever come.
  @inlinable
  public var isFinished: Bool { isClosed && count == 0 }

  /// Takes an item, waiting as long as it takes; nil once the ring is closed and drained.
  @inlinable
  public func pop() -> T? {
    // Without a deadline the wait only ends with an item or the end.
    try! pop(timeout: nil)
  }

  /// Takes an item, waiting at most `timeout`; nil once the ring is closed and drained.
  ///
  /// - Throws: ``RingError/timedOut``.
  @inlinable
  public func pop(timeout: Duration?) throws(RingError) -> T? {
    if let value = tryPopOne(trailingProducer: true) {
      signalSpace()
      return value
    }
    let deadline = ContinuousClock.Instant.deadline(after: timeout)
    while true {
      guard try waitForItems(until: deadline) else { return nil }
      // After a wait the item is taken at once: its producer may be waiting on the answer.
      if let value = tryPopOne() {
        signalSpace()
        return value
      }
    }
  }

  /// Takes up to `buffer.count` items, waiting for at least one; a single-consumer ring frees
  /// them with one store. An empty ring is watched spinning for `spin` (``Spin/limit`` by
  /// default) before the wait sleeps in the kernel: a longer window answers an item that
  /// follows soon without a wake-up, at the price of a busy CPU while it lasts. A `yielding`
  /// spin gives that CPU to any other thread that wants it between looks
  /// (``Spin/untilYielding(limit:pausing:_:)``).
  ///
  /// - Returns: how many were taken; 0 once the ring is closed and drained.
  /// - Throws: ``RingError/timedOut``.
  @inlinable
  public func pop(
    into buffer: UnsafeMutableBufferPointer<T>, timeout: Duration? = nil, spin: Duration = Spin.limit,
    yielding: Bool = false
  ) throws(RingError) -> Int {
    guard buffer.count > 0 else { return 0 }
    var taken = tryPopMany(buffer, trailingProducer: true)
    if taken > 0 {
      signalSpace()
      return taken
    }
    let deadline = ContinuousClock.Instant.deadline(after: timeout)
    while true {
      guard try waitForItems(until: deadline, spin: spin, yielding: yielding) else { return 0 }
      taken = tryPopMany(buffer)
      if taken > 0 {
        signalSpace()
        return taken
      }
    }
  }

  @inlinable
  func tryPopOne(trailingProducer: Bool = false) -> T? {
    switch mode {
    case .singleProducerSingleConsumer:
      let read = tail.loadRelaxed()
      // At or behind the position: another consumer (one at a time, under a lock) took the
      // items this view saw.
      if consumerSeesHead <= read {
        consumerSeesHead = head.load()
        guard consumerSeesHead != read else { return nil }
        if trailingProducer { trailProducer(from: read) }
      }
      let value = (slots + Int(read & mask) * cellStride).loadUnaligned(as: T.self)
      tail.store(read + 1)
      return value
    case .multiProducerMultiConsumer:
      var position = tail.loadRelaxed()
      while true {
        let cell = slots + Int(position & mask) * cellStride
        let sequence = AtomicCounter(cell).load()
        if sequence == position + 1 {
          let (exchanged, original) = tail.compareExchange(position, position + 1)
          if exchanged {
            let value = (cell + Self.valueOffset).loadUnaligned(as: T.self)
            AtomicCounter(cell).store(position + mask + 1)
            return value
          }
          position = original
        } else if sequence < position + 1 {
          return nil
        } else {
          position = tail.loadRelaxed()
        }
      }
    }
  }

  /// How many items a single consumer lets a pushing producer get ahead before it takes
  /// them: 256, or half the ring when that is less (a trailing consumer never waits for a
  /// full ring).
  @usableFromInline var trailingDistance: UInt64 { Swift.min(256, UInt64(capacity / 2)) }

  /// Lets a producer that is pushing right now get ``trailingDistance`` items ahead of
  /// `read`, when some items are there but fewer than that.
  ///
  /// A consumer that takes each item the moment it lands reads the slot's cache line while
  /// the producer is still writing the next slots of that line, so the line crosses between
  /// the cores twice per item and both sides run at the speed of that transfer. Waiting a
  /// little (128 pause instructions at most, and only while the producer's position keeps
  /// moving) lets the producer fill whole lines first; the consumer then reads them once each.
  /// The farther behind, the less the consumer's reads get in the way of the lines the
  /// producer is writing: 256 items (32 lines of 8-byte items) rather than 32 made one item
  /// per push and pop 1.2 times as fast and batches of 64 1.4 times, past the C ring's pace
  /// (docs/performance.md, "Rings").
  @usableFromInline func trailProducer(from read: UInt64) {
    let distance = trailingDistance
    guard consumerSeesHead != read, consumerSeesHead - read < distance else { return }
    for _ in 0..<8 {
      for _ in 0..<16 { cs_cpu_relax() }
      let seen = head.load()
      guard seen != consumerSeesHead else { return }
      consumerSeesHead = seen
      guard seen - read < distance else { return }
    }
  }

  @inlinable
  func tryPopMany(_ buffer: UnsafeMutableBufferPointer<T>, trailingProducer: Bool = false) -> Int {
    guard mode == .singleProducerSingleConsumer else {
      var taken = 0
      while taken < buffer.count, let value = tryPopOne() {
        buffer[taken] = value
        taken += 1
      }
      return taken
    }
    let read = tail.loadRelaxed()
    let wanted = UInt64(buffer.count)
    if consumerSeesHead < read || consumerSeesHead - read < wanted {
      consumerSeesHead = head.load()
      // Trailing pays even for a small buffer: the next pops take from the cached position.
      if trailingProducer { trailProducer(from: read) }
    }
    let available = consumerSeesHead - read
    let count = Int(min(available, UInt64(buffer.count)))
    guard count > 0 else { return 0 }
    let start = Int(read & mask)
    let first = min(count, capacity - start)
    let destination = UnsafeMutableRawPointer(buffer.baseAddress!)
    destination.copyMemory(from: slots + start * cellStride, byteCount: first * cellStride)
    if first < count {
      (destination + first * cellStride).copyMemory(from: slots, byteCount: (count - first) * cellStride)
    }
    tail.store(read + UInt64(count))
    return count
  }

  // MARK: Waiting

  /// Closes the ring: pushes throw from now on; consumers drain what is left, then see the
  /// end. Wakes every sleeper.
  public func close() {
    closedFlag.store(1)
    itemsSignal.add(1)
    itemsSignal.wake()
    spaceSignal.add(1)
    spaceSignal.wake()
  }

  @inlinable
  func signalItems() {
    if consumersWaiting.load() != 0, consumersWaiting.exchange(0) != 0 {
      itemsSignal.add(1)
      itemsSignal.wake()
    }
  }

  @inlinable
  func signalSpace() {
    if producersWaiting.load() != 0, producersWaiting.exchange(0) != 0 {
      spaceSignal.add(1)
      spaceSignal.wake()
    }
  }

  @inlinable
  var isFull: Bool {
    // The consumers' position first: it never passes the producers', which only grows, so
    // the difference read in this order cannot go negative.
    let read = tail.load()
    return head.load() &- read >= UInt64(capacity)
  }
  @inlinable
  var isEmpty: Bool { head.load() == tail.load() }

  /// Whether the next item can be taken now. A multi-producer slot is reserved before it is
  /// written: a consumer that spun on `!isEmpty` while the reserving producer was preempted
  /// would spin for the whole time slice instead of sleeping and giving it the core.
  @inlinable
  var hasItemReady: Bool {
    switch mode {
    case .singleProducerSingleConsumer: return !isEmpty
    case .multiProducerMultiConsumer:
      let position = tail.load()
      // Above the position when another consumer took it first: look again.
      return AtomicCounter(slots + Int(position & mask) * cellStride).load() > position
    }
  }

  /// Whether a push can go ahead now (the multi-producer counterpart of ``hasItemReady``: a
  /// slot taken by a consumer is free only once that consumer has read it).
  @inlinable
  var hasSpaceReady: Bool {
    switch mode {
    case .singleProducerSingleConsumer: return !isFull
    case .multiProducerMultiConsumer:
      let position = head.load()
      return AtomicCounter(slots + Int(position & mask) * cellStride).load() >= position
    }
  }

  /// Waits until an item may be there; false at the end (closed and drained).
  @usableFromInline func waitForItems(
    until deadline: ContinuousClock.Instant?, spin: Duration = Spin.limit, yielding: Bool = false
  ) throws(RingError) -> Bool {
    if yielding {
      if Spin.untilYielding(limit: spin, { hasItemReady || isClosed }) { return !(isClosed && isEmpty) }
    } else if Spin.until(limit: spin, { hasItemReady || isClosed }) {
      return !(isClosed && isEmpty)
    }
    while true {
      // "Someone sleeps": the next producer to make progress clears it and wakes us, once.
      let fresh = consumersWaiting.exchange(1) == 0
      let seen = itemsSignal.load()
      if hasItemReady { return true }
      if isClosed { return !isEmpty }
      let until = fresh ? WaitSlices.next(deadline, slice: Self.announcementSlice) : deadline
      if !itemsSignal.wait(whileEqualTo: seen, until: until), until == deadline {
        if hasItemReady { return true }
        throw RingError.timedOut
      }
    }
  }

  /// Waits until there may be room, or the ring closes; with a `limit`, until the ring holds
  /// fewer items than that (a bound below the capacity, kept by one producer at a time).
  @usableFromInline func waitForSpace(until deadline: ContinuousClock.Instant?, below limit: Int? = nil)
    throws(RingError)
  {
    let ready = { limit.map { self.count < $0 } ?? self.hasSpaceReady }
    if Spin.until({ ready() || isClosed }) { return }
    while true {
      let fresh = producersWaiting.exchange(1) == 0
      let seen = spaceSignal.load()
      if ready() || isClosed { return }
      let until = fresh ? WaitSlices.next(deadline, slice: Self.announcementSlice) : deadline
      if !spaceSignal.wait(whileEqualTo: seen, until: until), until == deadline {
        if ready() { return }
        throw RingError.timedOut
      }
    }
  }

  /// How long the first sleep after announcing a sleeper lasts.
  ///
  /// A push or pop publishes its position (or, with many producers, the slot's sequence
  /// number) with a plain release store (a sequentially consistent one is a full fence per
  /// item, half the cost of a push) and then reads the other side's sleeper flag. Without the
  /// fence the flag may be read before the store is visible, so a sleeper that announces
  /// itself at that very moment may see the old state and be missed. Only that first sleep
  /// can miss a wake-up: the flag stays set, so every later push or pop sees it. The first
  /// sleep is therefore cut short, and a missed wake-up costs at most this long.
  static var announcementSlice: Duration { .microseconds(200) }
}

extension SlotRing.Handle {
  /// Decodes a handle from its fields in order (see ``encode(to:)``).
  public init(from decoder: any Decoder) throws {
    var fields = try decoder.unkeyedContainer()
    memory = try fields.decode(SharedMemory.Handle.self)
    kind = try fields.decode(String.self)
  }

  /// Encodes the handle as its fields in order, without keys (as ``SharedMemory/Handle``).
  public func encode(to encoder: any Encoder) throws {
    var fields = encoder.unkeyedContainer()
    try fields.encode(memory)
    try fields.encode(kind)
  }
}
