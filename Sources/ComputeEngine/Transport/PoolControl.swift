import Multiprocessing

#if canImport(Glibc)
  import Glibc
#endif

/// A control block in shared memory: a header line, then a ``WorkerStatus`` line for each
/// worker slot, then for each slot room for the message of an initializer that threw.
///
/// The shared-memory link's own (``SharedMemoryLinks``): its header says whether the pool's
/// thread sleeps and whether callers collect, so that workers ring its doorbell only when
/// needed, and its lines are where the pool reads what each worker does. A
/// ``parallelMap(_:placement:startMethod:chunkSize:taskTimeout:_:)`` uses one too, for its next
/// input and its workers' lines.
struct PoolControl: @unchecked Sendable {
  // @unchecked: the block is shared memory used through atomic loads and stores.
  static let lineSize = 64

  /// The header line's fields (byte offsets).
  enum Header: Int {
    /// Non-zero while the dispatcher sleeps: a worker that sends results then rings the doorbell.
    case dispatcherSleeping = 0
    /// The next input that no worker of a `parallelMap` has claimed.
    case nextInput = 8
    /// How many callers collect results themselves (``PoolDispatcher/help(until:)``): while
    /// one does, workers leave the sleeping dispatcher be.
    case collectors = 16
  }

  let memory: SharedMemory

  /// Bytes for one slot's start-failure message: its length, then its UTF-8 bytes.
  static let messageSize = 512

  init(slots: Int) throws {
    memory = try SharedMemory(size: (Self.lineSize + Self.messageSize) * slots + Self.lineSize)
    for slot in 0..<slots { status(slot).clear() }
  }

  init(_ handle: SharedMemory.Handle) throws {
    memory = try SharedMemory(handle)
  }

  /// The number of worker slots.
  var slots: Int { (memory.size - Self.lineSize) / (Self.lineSize + Self.messageSize) }

  private func message(_ slot: Int) -> UnsafeMutableRawPointer {
    memory.baseAddress + Self.lineSize * (slots + 1) + Self.messageSize * slot
  }

  /// Worker: leaves `text` (cut to fit) for the pool, as why it could not start.
  func recordStartFailure(slot: Int, message text: String) {
    let bytes = Array((text.isEmpty ? "an error with no description" : text).utf8.prefix(Self.messageSize - 8))
    bytes.withUnsafeBytes { (message(slot) + 8).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    SharedWord(message(slot)).value = bytes.count
  }

  /// Why the worker in `slot` could not start (its initializer's error), if it said.
  func startFailure(slot: Int) -> String? {
    let count = SharedWord(message(slot)).value
    guard count > 0 else { return nil }
    return String(decoding: UnsafeRawBufferPointer(start: message(slot) + 8, count: count), as: UTF8.self)
  }

  /// Forgets `slot`'s start failure, for the worker that takes the slot next.
  func clearStartFailure(slot: Int) { SharedWord(message(slot)).value = 0 }

  /// A field of the header line.
  func header(_ field: Header) -> SharedWord { SharedWord(memory.baseAddress + field.rawValue) }

  /// Worker `slot`'s line; `timed` when the pool has a task timeout, so that the worker
  /// records when each task starts.
  func status(_ slot: Int, timed: Bool = true) -> WorkerStatus {
    WorkerStatus(memory.baseAddress + Self.lineSize * (slot + 1), timed: timed)
  }
}
