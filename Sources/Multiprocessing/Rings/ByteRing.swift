import Foundation

/// A ring of bytes in shared memory carrying messages of any size between two processes,
/// larger than the ring included: the producer streams a message in as the consumer takes
/// it out. One producer and one consumer at a time. ``send(_:timeout:)-(Encodable,_)`` and
/// ``receive(_:timeout:)`` carry `Codable` values in ``BinaryEncoder``'s form.
///
/// Blocking operations spin briefly, then sleep on a futex. After ``close()`` sends throw
/// ``RingError/closed`` and the consumer takes what is left, then sees the end (`nil`).
public final class ByteRing: @unchecked Sendable {
  // @unchecked: the ring lives in shared memory; positions are published with atomic
  // stores, and each end is used by one thread at a time.

  /// What another process needs to reopen the ring.
  public struct Handle: Codable, Sendable, Hashable {
    let memory: SharedMemory.Handle
  }

  let memory: SharedMemory
  /// The ring's size in bytes (a power of two).
  public let capacity: Int
  private let mask: UInt64
  private let data: UnsafeMutableRawPointer
  private let head: AtomicCounter
  private let tail: AtomicCounter
  private let closedFlag: FutexWord
  private let consumerWaiting: FutexWord
  private let dataSignal: FutexWord
  private let producerWaiting: FutexWord
  private let spaceSignal: FutexWord

  /// A ring of at least `capacity` bytes (rounded up to a power of two, at least 64).
  ///
  /// - Throws: ``RingError/invalidArgument(_:)`` for a capacity below 1 or above 2^30.
  public convenience init(capacity: Int) throws {
    guard (1...(1 << 30)).contains(capacity) else {
      throw RingError.invalidArgument("capacity must be between 1 and 2^30 bytes, not \(capacity)")
    }
    var rounded = 64
    while rounded < capacity { rounded <<= 1 }
    let memory = try SharedMemory(size: RingHeader.bodyOffset + rounded)
    RingHeader.initialize(memory.baseAddress, capacity: rounded, mode: 0)
    self.init(memory: memory)
  }

  /// Reopens a ring from its ``handle`` (in a spawned or fork-server child).
  public convenience init(_ handle: Handle) throws {
    self.init(memory: try SharedMemory(handle.memory))
  }

  private init(memory: SharedMemory) {
    let header = RingHeader(memory.baseAddress)
    self.memory = memory
    capacity = header.capacity
    mask = UInt64(capacity - 1)
    data = header.body
    head = header.head
    tail = header.tail
    closedFlag = header.closedFlag
    consumerWaiting = header.consumersWaiting
    dataSignal = header.itemsSignal
    producerWaiting = header.producersWaiting
    spaceSignal = header.spaceSignal
  }

  /// What another process needs to reopen the ring.
  public var handle: Handle { Handle(memory: memory.handle) }

  /// Whether ``close()`` was called.
  public var isClosed: Bool { closedFlag.load() != 0 }

  /// Whether bytes are waiting: a message, or the start of one.
  public var hasData: Bool { !isEmpty }

  /// How many bytes fit now (a message takes 8 more than its length).
  public var freeBytes: Int {
    let read = tail.load()
    return capacity - Int(head.load() &- read)
  }

  /// Sends one message, waiting for room as needed.
  ///
  /// - Parameters:
  ///   - message: the bytes, of any length (a message longer than the ring streams through it).
  ///   - timeout: the longest wait for room; nil waits as long as it takes.
  ///   - peerGone: checked every 100 ms while waiting for room; when it returns true, the
  ///     send stops (the consumer died, say, and will never make room).
  /// - Throws: ``RingError/closed`` (a message cut short by the close is dropped by the
  ///   consumer), ``RingError/timedOut``, or ``RingError/peerGone``.
  public func send(
    _ message: UnsafeRawBufferPointer, timeout: Duration? = nil, peerGone: (() -> Bool)? = nil
  ) throws(RingError) {
    let deadline = ContinuousClock.Instant.deadline(after: timeout)
    try withUnsafeBytes(of: UInt64(message.count)) { length in
      Result { () throws(RingError) in try write(length, until: deadline, peerGone: peerGone) }
    }.get()
    try write(message, until: deadline, peerGone: peerGone)
  }

  /// Sends one message of bytes; see ``send(_:timeout:peerGone:)-(UnsafeRawBufferPointer,_,_)``.
  public func send(_ message: Data, timeout: Duration? = nil, peerGone: (() -> Bool)? = nil) throws(RingError) {
    try message.withUnsafeBytes { message in
      Result { () throws(RingError) in try send(message, timeout: timeout, peerGone: peerGone) }
    }.get()
  }

  /// Sends a value encoded by ``BinaryEncoder``.
  public func send(_ value: some Encodable, timeout: Duration? = nil) throws {
    try BinaryEncoder().encodeBytes(value).withUnsafeBytes { try send($0, timeout: timeout) }
  }

  /// Receives one message, waiting at most `timeout` (nil: as long as it takes). An empty
  /// ring is watched spinning for `spin` (``Spin/limit`` by default) before the wait sleeps;
  /// a `yielding` spin gives the CPU to any other thread that wants it between looks
  /// (``Spin/untilYielding(limit:pausing:_:)``).
  ///
  /// - Returns: the message, or nil once the ring is closed and drained.
  /// - Throws: ``RingError/timedOut``.
  public func receive(
    timeout: Duration? = nil, spin: Duration = Spin.limit, yielding: Bool = false
  ) throws(RingError) -> Data? {
    let deadline = ContinuousClock.Instant.deadline(after: timeout)
    var length: UInt64 = 0
    let started = try withUnsafeMutableBytes(of: &length) { length in
      Result { () throws(RingError) in try read(into: length, until: deadline, spin: spin, yielding: yielding) }
    }.get()
    guard started else { return nil }
    var message = Data(count: Int(length))
    let complete = try message.withUnsafeMutableBytes { message in
      Result { () throws(RingError) in try read(into: message, until: deadline) }
    }.get()
    return complete ? message : nil
  }

  /// Receives one message and decodes it with ``BinaryDecoder``.
  public func receive<T: Decodable>(_ type: T.Type, timeout: Duration? = nil) throws -> T? {
    guard let message = try receive(timeout: timeout) else { return nil }
    return try BinaryDecoder().decode(type, from: message)
  }

  /// Closes the ring and wakes both ends.
  public func close() {
    closedFlag.store(1)
    dataSignal.add(1)
    dataSignal.wake()
    spaceSignal.add(1)
    spaceSignal.wake()
  }

  private func write(
    _ bytes: UnsafeRawBufferPointer, until deadline: ContinuousClock.Instant?, peerGone: (() -> Bool)?
  ) throws(RingError) {
    var done = 0
    while done < bytes.count {
      guard !isClosed else { throw RingError.closed }
      let written = head.loadRelaxed()
      let free = UInt64(capacity) - (written - tail.load())
      let count = Int(min(free, UInt64(bytes.count - done)))
      guard count > 0 else {
        guard let peerGone else {
          try waitForSpace(until: deadline)
          continue
        }
        do {
          try waitForSpace(until: WaitSlices.next(deadline))
        } catch .timedOut {
          if peerGone() { throw RingError.peerGone }
          if let deadline, ContinuousClock.now >= deadline { throw RingError.timedOut }
        } catch {
          throw error
        }
        continue
      }
      copy(from: bytes.baseAddress! + done, toRingAt: written, count: count)
      head.storeSequentially(written + UInt64(count))
      done += count
      if consumerWaiting.load() != 0, consumerWaiting.exchange(0) != 0 {
        dataSignal.add(1)
        dataSignal.wake()
      }
    }
  }

  /// Fills `bytes` from the ring; false when the ring ended before it was full.
  private func read(
    into bytes: UnsafeMutableRawBufferPointer, until deadline: ContinuousClock.Instant?, spin: Duration = Spin.limit,
    yielding: Bool = false
  ) throws(RingError) -> Bool {
    var done = 0
    while done < bytes.count {
      let read = tail.loadRelaxed()
      let count = Int(min(head.load() - read, UInt64(bytes.count - done)))
      guard count > 0 else {
        guard try waitForData(until: deadline, spin: spin, yielding: yielding) else { return false }
        continue
      }
      copy(fromRingAt: read, to: bytes.baseAddress! + done, count: count)
      tail.storeSequentially(read + UInt64(count))
      done += count
      if producerWaiting.load() != 0, producerWaiting.exchange(0) != 0 {
        spaceSignal.add(1)
        spaceSignal.wake()
      }
    }
    return true
  }

  private func copy(from source: UnsafeRawPointer, toRingAt position: UInt64, count: Int) {
    let start = Int(position & mask)
    let first = min(count, capacity - start)
    (data + start).copyMemory(from: source, byteCount: first)
    if first < count { data.copyMemory(from: source + first, byteCount: count - first) }
  }

  private func copy(fromRingAt position: UInt64, to destination: UnsafeMutableRawPointer, count: Int) {
    let start = Int(position & mask)
    let first = min(count, capacity - start)
    destination.copyMemory(from: data + start, byteCount: first)
    if first < count { (destination + first).copyMemory(from: data, byteCount: count - first) }
  }

  private var isEmpty: Bool { head.load() == tail.load() }
  private var isFull: Bool {
    let read = tail.load()
    return head.load() &- read >= UInt64(capacity)
  }

  /// Waits until data may be there; false at the end (closed and drained).
  private func waitForData(
    until deadline: ContinuousClock.Instant?, spin: Duration, yielding: Bool
  ) throws(RingError) -> Bool {
    if yielding {
      if Spin.untilYielding(limit: spin, { !isEmpty || isClosed }) { return !(isClosed && isEmpty) }
    } else if Spin.until(limit: spin, { !isEmpty || isClosed }) {
      return !(isClosed && isEmpty)
    }
    while true {
      // "Someone sleeps": the next producer to make progress clears it and wakes us, once.
      consumerWaiting.store(1)
      let seen = dataSignal.load()
      if !isEmpty { return true }
      if isClosed { return !isEmpty }
      if !dataSignal.wait(whileEqualTo: seen, until: deadline) {
        if !isEmpty { return true }
        throw RingError.timedOut
      }
    }
  }

  private func waitForSpace(until deadline: ContinuousClock.Instant?) throws(RingError) {
    if Spin.until({ !isFull || isClosed }) { return }
    while true {
      producerWaiting.store(1)
      let seen = spaceSignal.load()
      if !isFull || isClosed { return }
      if !spaceSignal.wait(whileEqualTo: seen, until: deadline) {
        if !isFull { return }
        throw RingError.timedOut
      }
    }
  }
}

extension ByteRing.Handle {
  /// Decodes a handle from its one field (see ``encode(to:)``).
  public init(from decoder: any Decoder) throws {
    var fields = try decoder.unkeyedContainer()
    memory = try fields.decode(SharedMemory.Handle.self)
  }

  /// Encodes the handle as its one field, without a key (as ``SharedMemory/Handle``).
  public func encode(to encoder: any Encoder) throws {
    var fields = encoder.unkeyedContainer()
    try fields.encode(memory)
  }
}
