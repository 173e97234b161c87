/// What another process reopens a ``PipeQueueChannel`` from.
struct PipeQueueChannelHandle: Codable, Sendable {
  var reader: Connection.Handle
  var writer: Connection.Handle
  var readLock: SharedHandle
  var writeLock: SharedHandle
  var closed: SharedValue<Int>.Handle
  var items: SharedValue<Int>.Handle
  var places: SharedHandle?
}

/// A ``Queue``'s items as ``Connection`` messages on a pipe, in `BinaryEncoder`'s form: any
/// `Codable` value.
///
/// A bound is a semaphore of free places, taken before the producers' lock (so that a
/// producer waiting for room does not hold up a close). A close leaves an end message
/// behind the items, which every taker that reaches it puts back for the next. A message
/// under 4 KiB is written at once, so a producer killed while it puts leaves no half item.
/// Two windows remain that a ring does not have: a taker killed between reading a message's
/// length and its body (microseconds) leaves the pipe out of step, and one killed between
/// taking an item and giving its place back shrinks the bound by one.
struct PipeQueueChannel<Element: Codable & Sendable>: QueueChannel {
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
  /// Items written and not yet read: counted after each write and read, so a producer or
  /// taker killed between the two leaves it one off (Python's `qsize()` is approximate too).
  private let items: SharedValue<Int>
  private let places: Semaphore?

  /// A new, empty pipe, bounded by `maxSize` when above 0.
  init(maxSize: Int) throws {
    (reader, writer) = try Connection.pipe(duplex: false)
    readLock = try Lock()
    writeLock = try Lock()
    closedFlag = try SharedValue(0, lock: false)
    items = try SharedValue(0, lock: false)
    places = maxSize > 0 ? try Semaphore(value: maxSize) : nil
  }

  /// Reopens the pipe of `handle`'s parts.
  init(_ handle: PipeQueueChannelHandle) throws {
    reader = try Connection(handle.reader)
    writer = try Connection(handle.writer)
    readLock = try Lock(handle.readLock)
    writeLock = try Lock(handle.writeLock)
    closedFlag = try SharedValue(handle.closed)
    items = try SharedValue(handle.items)
    places = try handle.places.map(Semaphore.init)
  }

  var handle: QueueChannelHandle {
    .pipe(
      PipeQueueChannelHandle(
        reader: reader.handle, writer: writer.handle, readLock: readLock.handle, writeLock: writeLock.handle,
        closed: closedFlag.handle, items: items.handle, places: places?.handle))
  }

  var transport: QueueTransport { .pipe }

  var isClosed: Bool { closedFlag.load() != 0 }

  var count: Int { max(items.load(), 0) }

  var isFull: Bool { places.map { $0.currentValue <= 0 } ?? false }

  func close() {
    guard closedFlag.compareExchange(expected: 0, desired: 1).exchanged else { return }
    try? writeEnd()
  }

  /// Waits for a place until `deadline`; the pipe's own room is waited for in its write,
  /// which a deadline does not cut short.
  func put(_ item: Element, until deadline: ContinuousClock.Instant?) throws(QueueError) {
    if let places, !places.acquire(timeout: deadline.map { $0 - .now }) { throw .full }
    do throws(QueueError) {
      let written: Void? = try writeLock.holding(until: deadline) { () throws(QueueError) in
        try write(.item(item))
        items.add(1)
      }
      if written == nil { throw QueueError.full }
    } catch {
      try? places?.release()
      throw error
    }
  }

  func get(until deadline: ContinuousClock.Instant?) throws(QueueError) -> Element? {
    let taken = try readLock.holding(until: deadline) { () throws(QueueError) -> Element? in
      let message: Message?
      do throws(ConnectionError) { message = try read(until: deadline) } catch { throw .connection(error) }
      switch message {
      case nil:
        return nil
      case .item(let item)?:
        items.add(-1)
        return item
      case .end?:
        // Left for the other takers, before they may read.
        try? writeEnd()
        throw .closed
      }
    }
    guard let item = taken ?? nil else { return nil }
    try? places?.release()
    return item
  }

  /// The next message, or nil when none came by `deadline`. Without a deadline the read
  /// itself waits: no poll (a system call per item) first.
  private func read(until deadline: ContinuousClock.Instant?) throws(ConnectionError) -> Message? {
    if let deadline, try !reader.poll(timeout: max(.zero, deadline - .now)) { return nil }
    return try reader.recv(Message.self)
  }

  private func writeEnd() throws(QueueError) {
    _ = try writeLock.holding(until: nil) { () throws(QueueError) in try write(.end) }
  }

  private func write(_ message: Message) throws(QueueError) {
    do { try writer.send(message) } catch { throw .connection(error) }
  }
}
