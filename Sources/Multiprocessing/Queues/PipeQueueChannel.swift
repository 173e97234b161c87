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
/// A bound is a semaphore of free places, taken before the producers' lock. Items are written
/// through a non-blocking end of the pipe: a put whose item finds no room waits for it in
/// slices of 5 ms, so that it sees a close (and throws ``QueueError/closed``, its item not
/// written) and its deadline (``QueueError/full``) — an item over 4 KiB, once begun, is
/// written whole. The closed flag is checked with the producers' lock held, and a close
/// leaves an end message behind the items that is written with that lock held too, so no
/// item ever follows the end; every taker that reaches the end puts it back for the next.
/// A close never waits: when a producer holds the lock or the pipe is full, the end is
/// written by the next producer to release the lock or the next taker to make room. A
/// message under 4 KiB is written at once, so a producer killed while it puts leaves no half
/// item. Two windows remain that a ring does not have: a taker killed between reading a
/// message's length and its body (microseconds) leaves the pipe out of step, and one killed
/// between taking an item and giving its place back shrinks the bound by one.
/// The values of a ``PipeQueueChannel``'s closed flag.
private enum Closing {
  static let open = 0
  /// Closed; the end message is still to be written.
  static let endPending = 1
  /// Closed, and the end message written.
  static let ended = 2
}

struct PipeQueueChannel<Element: Codable & Sendable>: QueueChannel {
  /// One message on the pipe: an item, or the end a close leaves behind it.
  private enum Message: Codable {
    case item(Element)
    case end
  }

  /// How long a wait for room, for a place or for the producers' lock lasts before it looks
  /// at the closed flag and the deadline again.
  private static var slice: Duration { .milliseconds(5) }

  private let reader: Connection
  private let writer: Connection
  /// A second end on the pipe whose writes never wait at their start: the producers'.
  private let nonBlockingWriter: Connection
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
    nonBlockingWriter = try writer.nonBlockingWriter()
    readLock = try Lock()
    writeLock = try Lock()
    closedFlag = try SharedValue(Closing.open, lock: false)
    items = try SharedValue(0, lock: false)
    places = maxSize > 0 ? try Semaphore(value: maxSize) : nil
  }

  /// Reopens the pipe of `handle`'s parts.
  init(_ handle: PipeQueueChannelHandle) throws {
    reader = try Connection(handle.reader)
    writer = try Connection(handle.writer)
    nonBlockingWriter = try writer.nonBlockingWriter()
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

  var isClosed: Bool { closedFlag.load() != Closing.open }

  var count: Int { max(items.load(), 0) }

  var isFull: Bool { places.map { $0.currentValue <= 0 } ?? false }

  func close() {
    guard closedFlag.compareExchange(expected: Closing.open, desired: Closing.endPending).exchanged else { return }
    // Without waiting: a producer that holds the lock writes the end when it lets go.
    writeEndIfPendingWithoutWaiting()
  }

  func put(_ item: Element, until deadline: ContinuousClock.Instant?) throws(QueueError) {
    guard !isClosed else { throw .closed }
    if let places { try waitForPlace(places, until: deadline) }
    do throws(QueueError) {
      try holdingWriteLock(until: deadline) { () throws(QueueError) in
        // Whatever happens, a close that came meanwhile gets its end, after this item.
        defer { writeEndIfPending() }
        while true {
          // Checked with the lock held: a close from here on writes its end after the item.
          guard !isClosed else { throw .closed }
          let sent: Bool
          do throws(ConnectionError) { sent = try nonBlockingWriter.trySend(Message.item(item)) } catch {
            throw .connection(error)
          }
          if sent { break }
          // The pipe is full: wait for room, a slice at a time.
          guard let wait = Self.nextWait(until: deadline) else { throw .full }
          _ = try? nonBlockingWriter.waitUntilWritable(timeout: wait)
        }
        items.add(1)
      }
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
        // A close that found the pipe full left its end to write: there may be room now.
        if closedFlag.load() == Closing.endPending { writeEndIfPendingWithoutWaiting() }
        return item
      case .end?:
        // Left for the other takers, before they may read (the end just read made room).
        _ = try? writeLock.holding(until: nil) { () throws(QueueError) in
          do throws(ConnectionError) { try writer.send(Message.end) } catch { throw .connection(error) }
        }
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

  /// Writes the end message, once closed, if the pipe has room now; with the producers' lock
  /// held.
  private func writeEndIfPending() {
    guard closedFlag.load() == Closing.endPending, (try? nonBlockingWriter.trySend(Message.end)) == true else {
      return
    }
    _ = closedFlag.compareExchange(expected: Closing.endPending, desired: Closing.ended)
  }

  /// Writes the end message, once closed, if the producers' lock is free now and the pipe has
  /// room; otherwise leaves it to the lock's holder or to a later taker.
  private func writeEndIfPendingWithoutWaiting() {
    _ = try? writeLock.holding(until: .now) { () throws(QueueError) in writeEndIfPending() }
  }

  /// Takes a place of the bound: at once if one is free, else a slice at a time.
  ///
  /// - Throws: ``QueueError/closed`` once the queue is closed, ``QueueError/full`` at the
  ///   deadline.
  private func waitForPlace(_ places: Semaphore, until deadline: ContinuousClock.Instant?) throws(QueueError) {
    var wait = Duration.zero
    while true {
      guard !isClosed else { throw .closed }
      if places.acquire(timeout: wait) {
        guard !isClosed else {
          try? places.release()
          throw .closed
        }
        return
      }
      guard let next = Self.nextWait(until: deadline) else { throw .full }
      wait = next
    }
  }

  /// Runs `body` holding the producers' lock: at once if it is free, else waiting a slice at
  /// a time.
  ///
  /// - Throws: what `body` throws, ``QueueError/closed`` once the queue is closed while
  ///   waiting, ``QueueError/full`` at the deadline.
  private func holdingWriteLock(
    until deadline: ContinuousClock.Instant?, _ body: () throws(QueueError) -> Void
  ) throws(QueueError) {
    var wait = Duration.zero
    while true {
      if try writeLock.holding(until: .now + wait, body) != nil { return }
      guard !isClosed else { throw .closed }
      guard let next = Self.nextWait(until: deadline) else { throw .full }
      wait = next
    }
  }

  /// How long the next wait lasts: a slice, or what is left before `deadline`; nil once the
  /// deadline has passed (a caller tries once before its first wait, so `timeout: .zero` is
  /// Python's `block=False`).
  private static func nextWait(until deadline: ContinuousClock.Instant?) -> Duration? {
    guard let deadline else { return slice }
    let left = deadline - .now
    return left > .zero ? min(slice, left) : nil
  }
}
