import SystemCalls
import SystemPackage

/// How a sleeping pool thread is woken (see ``DispatcherSleeper``): a non-blocking pipe whose
/// read end the pool's thread polls beside its workers' sentinels. Its write end is rung by
/// the pool's side (a caller that stops collecting, a submit, a cancellation) and, inherited
/// or reopened through `/proc` (``PipeBell``), by the shared-memory link's workers.
struct PipeDoorbell: Sendable {
  let readEnd: FileDescriptor
  let writeEnd: FileDescriptor

  /// A new pipe, both ends closed on exec.
  init() throws(Errno) {
    (readEnd, writeEnd) = try FileDescriptor.pipeClosingOnExec(nonBlocking: true)
  }

  /// The descriptor the sleeper polls.
  var pollDescriptor: Int32 { readEnd.rawValue }

  /// Wakes the sleeper, or makes its next sleep end at once.
  func ring() { writeEnd.ring() }

  /// Takes every ring so far, once the poll said there was one.
  func drain() { readEnd.drain() }

  /// Closes both ends.
  func close() {
    readEnd.release()
    writeEnd.release()
  }
}

/// A doorbell's ringing end alone, as a worker holds it: the descriptor it inherited, or
/// the pool's write end reopened through `/proc/PID/fd` by a spawned worker.
struct PipeBell: Sendable {
  let writeEnd: FileDescriptor

  /// Wakes the pool's thread, or makes its next sleep end at once.
  func ring() { writeEnd.ring() }
}
