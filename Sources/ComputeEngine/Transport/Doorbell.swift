import SystemCalls
import SystemPackage

/// How a sleeping pool thread is woken: a worker that sent results, or a caller that stops
/// collecting, rings it (see ``DispatcherSleeper``).
protocol Doorbell: Sendable {
  /// Wakes the sleeper, or makes its next sleep end at once.
  func ring()
}

/// A doorbell on a non-blocking pipe: the pool's thread polls the read end beside its
/// workers' sentinels; the write end is rung by the pool's side and, inherited or reopened
/// through `/proc`, by its workers.
struct PipeDoorbell: Doorbell {
  let readEnd: FileDescriptor
  let writeEnd: FileDescriptor

  /// A new pipe, both ends closed on exec.
  init() throws(Errno) {
    (readEnd, writeEnd) = try FileDescriptor.pipeClosingOnExec(nonBlocking: true)
  }

  /// The descriptor the sleeper polls.
  var pollDescriptor: Int32 { readEnd.rawValue }

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
struct PipeBell: Doorbell {
  let writeEnd: FileDescriptor

  func ring() { writeEnd.ring() }
}
