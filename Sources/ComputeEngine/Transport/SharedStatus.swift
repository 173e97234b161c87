import Multiprocessing
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// A worker's status where both ends map it: its slot's line of the shared-memory link's
/// control block (``PoolControl``), with the pool's doorbell, which the worker rings after
/// sending while the pool's thread sleeps and no caller collects. Made by
/// ``SharedMemoryLinks`` for each worker; the worker reopens it from its ``handle``.
final class SharedStatus: @unchecked Sendable {
  // @unchecked: the control block is shared memory used through atomic words; the doorbell
  // is a descriptor that only the worker's thread rings.

  /// What a worker reopens the status from: the control block, the slot, and the write end
  /// of the pool's doorbell in the pool's process.
  struct Handle: Codable, Sendable {
    var control: SharedMemory.Handle
    var slot: Int
    var doorbellPid: Int32
    var doorbellFD: Int32
    /// Whether the worker was forked from the pool's process or its fork template, and so
    /// holds the doorbell's descriptor itself (otherwise it reopens it through `/proc`).
    var forked: Bool
  }

  let control: PoolControl
  let slot: Int
  let handle: Handle
  /// The worker's end of the doorbell; nil at the pool's end.
  private let bell: PipeBell?

  /// The pool's end, for the worker of `slot`: the line and the start failure cleared.
  init(control: PoolControl, slot: Int, doorbellFD: Int32, forked: Bool) {
    self.control = control
    self.slot = slot
    handle = Handle(
      control: control.memory.handle, slot: slot, doorbellPid: getpid(), doorbellFD: doorbellFD, forked: forked)
    bell = nil
    control.clearStartFailure(slot: slot)
    control.status(slot).clear()
  }

  /// The worker's end, reopened from `handle`.
  init(_ handle: Handle) throws {
    control = try PoolControl(handle.control)
    slot = handle.slot
    self.handle = handle
    bell = PipeBell(
      writeEnd: handle.forked
        ? FileDescriptor(rawValue: handle.doorbellFD)
        : try FileDescriptor.openClosingOnExec(
          descriptor: handle.doorbellFD, ofProcess: handle.doorbellPid, flags: O_WRONLY))
  }

  /// The worker's line; `timed`: its tasks' starts are timed (for the task timeout).
  func status(timed: Bool = true) -> WorkerStatus { control.status(slot, timed: timed) }

  /// Why the worker could not start, if it said.
  var startFailure: String? { control.startFailure(slot: slot) }

  /// Worker: leaves `message` for the pool, as why it could not start.
  func recordStartFailure(_ message: String) { control.recordStartFailure(slot: slot, message: message) }

  /// Whether a caller collects results itself (the pool's thread is then left asleep).
  var callerCollects: Bool { control.header(.collectors).value != 0 }

  /// Worker: rings the doorbell if the pool's thread sleeps and no caller collects.
  func wakeParent() {
    if control.header(.dispatcherSleeping).value != 0, control.header(.collectors).value == 0 { bell?.ring() }
  }
}

extension SharedStatus.Handle {
  /// Decodes the fields in order, as ``encode(to:)`` wrote them.
  init(from decoder: any Decoder) throws {
    var fields = try decoder.unkeyedContainer()
    control = try fields.decode(SharedMemory.Handle.self)
    slot = try fields.decode(Int.self)
    doorbellPid = try fields.decode(Int32.self)
    doorbellFD = try fields.decode(Int32.self)
    forked = try fields.decode(Bool.self)
  }

  /// Encodes the fields in order, without keys: every worker decodes this at its start,
  /// where keyed containers' generic code was a page fault after another.
  func encode(to encoder: any Encoder) throws {
    var fields = encoder.unkeyedContainer()
    try fields.encode(control)
    try fields.encode(slot)
    try fields.encode(doorbellPid)
    try fields.encode(doorbellFD)
    try fields.encode(forked)
  }
}
