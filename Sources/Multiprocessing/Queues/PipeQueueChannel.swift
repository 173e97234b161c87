import Foundation

/// What another process reopens a ``PipeQueueChannel`` from.
struct PipeQueueChannelHandle: Codable, Sendable {
  var reader: Connection.Handle
  var writer: Connection.Handle
  var readLock: SharedHandle
  var writeLock: SharedHandle
  var feed: SharedHandle
  var items: SharedValue<Int>.Handle
  var places: SharedHandle?
}

/// A ``Queue``'s items as ``Connection`` messages on a pipe, in `BinaryEncoder`'s form: any
/// `Codable` value.
///
/// A put encodes its item (an item that cannot be encoded throws there), takes a place of
/// the bound if there is one, and, with the producers' lock held, writes it through a
/// non-blocking end of the pipe. When the pipe has no room, the item goes to the process's
/// ``QueueFeeder``, whose thread writes it when room comes: a put never waits for the pipe,
/// only for a place of a bounded queue (in slices of 5 ms, so that it sees a close and its
/// deadline). The closing word is checked with the producers' lock held, and the end a close
/// leaves behind the items is written with that lock held once no process has items
/// buffered, so no item ever follows the end; every taker that reaches the end puts it back
/// for the next. A close never waits: the end is written by the last feeder to empty, the
/// next producer to let go of the lock, or the next taker to make room. While the end is held
/// back by buffered items, takers wait in slices of 100 ms (a close wakes one waiting on the
/// empty pipe), and after each give up the items of a process that died with some buffered,
/// and write it. A message under 4 KiB is written at once, so a producer killed while it puts
/// leaves no half item. Two windows remain that a ring does not have: a taker killed between
/// reading a message's length and its body (microseconds) leaves the pipe out of step, and
/// one killed between taking an item and giving its place back shrinks the bound by one.
struct PipeQueueChannel<Element: Codable & Sendable>: QueueChannel, QueueOutlet {
  /// One message on the pipe: an item, the end a close leaves behind it, or a wake-up for a
  /// taker that waits on an empty pipe when a close finds the end held back.
  private enum Message: Codable {
    case item(Element)
    case end
    case wake

    // Coded by hand, as a tag and the item in order: the synthesised coding of an enum finds
    // its case through a keyed container's `allKeys`, a cast of an array of keys for every
    // message (its first in a process a scan of every conformance record of the program).
    init(from decoder: any Decoder) throws {
      var fields = try decoder.unkeyedContainer()
      switch try fields.decode(UInt8.self) {
      case 0: self = .item(try fields.decode(Element.self))
      case 1: self = .end
      case 2: self = .wake
      case let tag:
        throw DecodingError.dataCorruptedError(in: fields, debugDescription: "no queue message has the tag \(tag)")
      }
    }

    func encode(to encoder: any Encoder) throws {
      var fields = encoder.unkeyedContainer()
      switch self {
      case .item(let element):
        try fields.encode(UInt8(0))
        try fields.encode(element)
      case .end: try fields.encode(UInt8(1))
      case .wake: try fields.encode(UInt8(2))
      }
    }
  }

  /// How long a wait for a place or for the producers' lock lasts before it looks at the
  /// closing word and the deadline again.
  private static var slice: Duration { .milliseconds(5) }
  /// How long a taker with no deadline waits on an empty pipe before it looks for an end
  /// held back by a dead process.
  private static var emptySlice: Duration { .milliseconds(100) }

  private let reader: Connection
  private let writer: Connection
  /// A second end on the pipe whose writes never wait at their start: the producers'.
  private let nonBlockingWriter: Connection
  private let readLock: Lock
  let writeLock: Lock
  @usableFromInline let feedBlock: QueueFeedBlock
  /// Items written and not yet read: counted after each write and read, so a producer or
  /// taker killed between the two leaves it one off (Python's `qsize()` is approximate too).
  private let items: SharedValue<Int>
  private let places: Semaphore?
  /// This process's items that found the pipe full.
  private let feeder = QueueFeeder<Data>()

  /// A new, empty pipe, bounded by `maxSize` when above 0.
  init(maxSize: Int) throws {
    (reader, writer) = try Connection.pipe(duplex: false)
    nonBlockingWriter = try writer.nonBlockingWriter()
    readLock = try Lock()
    writeLock = try Lock()
    feedBlock = try QueueFeedBlock()
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
    feedBlock = try QueueFeedBlock(handle.feed)
    items = try SharedValue(handle.items)
    places = try handle.places.map(Semaphore.init)
  }

  var handle: QueueChannelHandle {
    .pipe(
      PipeQueueChannelHandle(
        reader: reader.handle, writer: writer.handle, readLock: readLock.handle, writeLock: writeLock.handle,
        feed: feedBlock.handle, items: items.handle, places: places?.handle))
  }

  var transport: QueueTransport { .pipe }

  var isClosed: Bool { feedBlock.isClosed }

  var count: Int { max(items.load(), 0) + feedBlock.buffered }

  var isFull: Bool { places.map { $0.currentValue <= 0 } ?? false }

  func close() {
    guard feedBlock.close() else { return }
    // Without waiting: a producer that holds the lock writes the end when it lets go.
    writeEndIfPendingWithoutWaiting(reclaimingDead: true)
    // Held back by items still buffered: a taker waiting on the empty pipe wakes, to wait
    // from now on in slices that look for dead feeders (a busy lock is a write that wakes it).
    _ = try? writeLock.holding(until: .now) { () throws(QueueError) in
      if feedBlock.closing.load() == QueueFeedBlock.Closing.endPending {
        _ = try? nonBlockingWriter.trySend(Message.wake)
      }
    }
  }

  func put(_ item: Element, until deadline: ContinuousClock.Instant?) throws(QueueError) {
    guard !isClosed else { throw .closed }
    let message: Data
    do { message = try BinaryEncoder().encode(Message.item(item)) } catch {
      throw .connection(.codingFailed("\(error)"))
    }
    if let places { try waitForPlace(places, until: deadline) }
    do throws(QueueError) {
      // Without a deadline: the lock is held briefly (no one waits for room holding it), and
      // a put that has its place is never `full`.
      try holdingWriteLock(until: nil) { () throws(QueueError) in
        // Whatever happens, a close that came meanwhile gets its end, after this item.
        defer { writeEndIfPending() }
        // Checked with the lock held: a close from here on writes its end after the item.
        guard !isClosed else { throw .closed }
        if try feeder.put(message, outlet: self) { return }
        // Every slot of the feed block is taken: wait for room here, a slice at a time.
        while try !tryWrite(message) {
          guard let wait = Self.nextWait(until: deadline) else { throw .full }
          waitForRoom(wait)
          guard !isClosed else { throw .closed }
        }
      }
    } catch {
      try? places?.release()
      throw error
    }
  }

  func tryWrite(_ message: Data) throws(QueueError) -> Bool {
    let sent: Bool
    do throws(ConnectionError) { sent = try nonBlockingWriter.trySendBytes(message) } catch {
      throw .connection(error)
    }
    if sent { items.add(1) }
    return sent
  }

  func waitForRoom(_ timeout: Duration) {
    _ = try? nonBlockingWriter.waitUntilWritable(timeout: timeout)
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
        writeEndIfPendingWithoutWaiting(reclaimingDead: false)
        return item
      case .wake?:
        return nil  // Never: `read` skips wake-ups.
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
  /// itself waits (no poll, a system call per item, first) — unless the queue is closed and
  /// its end held back by buffered items: then it waits in slices, and after each looks for
  /// an end held back by a process that died with items buffered.
  private func read(until deadline: ContinuousClock.Instant?) throws(ConnectionError) -> Message? {
    while true {
      if let deadline {
        if try !reader.poll(timeout: max(.zero, deadline - .now)) {
          // In vain: the next get sees the end if a dead process held it back.
          writeEndIfPendingWithoutWaiting(reclaimingDead: true)
          return nil
        }
      } else {
        while feedBlock.closing.load() == QueueFeedBlock.Closing.endPending {
          if try reader.poll(timeout: Self.emptySlice) { break }
          writeEndIfPendingWithoutWaiting(reclaimingDead: true)
        }
      }
      let message = try reader.recv(Message.self)
      if case .wake = message { continue }
      return message
    }
  }

  func writeEnd() -> Bool { (try? nonBlockingWriter.trySend(Message.end)) == true }

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
