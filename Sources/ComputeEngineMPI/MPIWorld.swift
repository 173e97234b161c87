import CMPI
import Foundation
import Synchronization

/// This process's part in `MPI_COMM_WORLD`: MPI started once per process at thread level
/// `MPI_THREAD_FUNNELED` (only the thread that started it calls MPI), with errors returned
/// to the caller instead of aborting the job, and messages of bytes between ranks.
final class MPIWorld: Sendable {
  /// Whether MPI was started, then finalized, in this process (it cannot start again).
  private static let state = Mutex<(started: Bool, finalized: Bool)>((false, false))

  /// This process's rank.
  let rank: Int
  /// The number of ranks.
  let size: Int

  /// Starts MPI in this process.
  ///
  /// - Throws: ``ClusterError/finalized`` after an earlier finalize, ``ClusterError/mpi``
  ///   when MPI cannot start, ``ClusterError/threadLevel(provided:)``.
  init() throws(ClusterError) {
    try Self.state.withLock { state throws(ClusterError) in
      if state.finalized { throw .finalized }
      if !state.started {
        var provided: Int32 = 0
        try Self.check("MPI_Init_thread", MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided))
        state.started = true
        guard provided >= cmpi_thread_funneled() else { throw .threadLevel(provided: provided) }
        try Self.check("MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(cmpi_comm_world(), cmpi_errors_return()))
      }
    }
    var rank: Int32 = 0
    var size: Int32 = 0
    try Self.check("MPI_Comm_rank", MPI_Comm_rank(cmpi_comm_world(), &rank))
    try Self.check("MPI_Comm_size", MPI_Comm_size(cmpi_comm_world(), &size))
    (self.rank, self.size) = (Int(rank), Int(size))
  }

  /// Finalizes MPI in this process (again: nothing).
  func finalize() {
    Self.state.withLock { state in
      guard state.started, !state.finalized else { return }
      MPI_Finalize()
      state.finalized = true
    }
  }

  /// Sends `bytes` to rank `destination` with `tag`, waiting until the buffer may be reused.
  func send(_ bytes: [UInt8], to destination: Int, tag: Int32) throws(ClusterError) {
    let code = bytes.withUnsafeBytes {
      MPI_Send($0.baseAddress, Int32($0.count), cmpi_byte(), Int32(destination), tag, cmpi_comm_world())
    }
    try Self.check("MPI_Send", code)
  }

  /// Starts sending `bytes` to rank `destination` with `tag` without waiting: a copy of the
  /// bytes stays with the returned send until ``isComplete(_:)`` says it went. The driver
  /// sends chunks this way: a blocking send of a large message waits for the receiver, and
  /// the receiver may itself be blocked sending its results to the driver.
  func startSend(_ bytes: [UInt8], to destination: Int, tag: Int32) throws(ClusterError) -> PendingSend {
    let send = PendingSend(bytes)
    try Self.check(
      "MPI_Isend", cmpi_isend(send.buffer.baseAddress, Int32(send.buffer.count), Int32(destination), tag, send.request))
    return send
  }

  /// Whether `send` completed (its buffer is then freed).
  func isComplete(_ send: PendingSend) throws(ClusterError) -> Bool {
    var flag: Int32 = 0
    try Self.check("MPI_Test", cmpi_test(send.request, &flag))
    return flag != 0
  }

  /// A message waiting for this rank from `source` (any rank when nil): its sender, tag and
  /// size, or nil when none is there yet.
  func poll(from source: Int? = nil) throws(ClusterError) -> (source: Int, tag: Int32, count: Int)? {
    var flag: Int32 = 0
    var status = MPI_Status()
    try Self.check(
      "MPI_Iprobe",
      MPI_Iprobe(source.map(Int32.init) ?? cmpi_any_source(), cmpi_any_tag(), cmpi_comm_world(), &flag, &status))
    guard flag != 0 else { return nil }
    var count: Int32 = 0
    try Self.check("MPI_Get_count", MPI_Get_count(&status, cmpi_byte(), &count))
    return (Int(status.MPI_SOURCE), status.MPI_TAG, Int(count))
  }

  /// Waits for the next message from `source` (any rank when nil), polling without pause
  /// for `spin` and then with sleeps of up to 1 ms (``IdleBackoff``).
  func waitForMessage(
    from source: Int? = nil, spin: Duration = .zero
  ) throws(ClusterError) -> (source: Int, tag: Int32, count: Int) {
    var backoff = IdleBackoff(spin: spin)
    while true {
      if let message = try poll(from: source) { return message }
      backoff.idle()
    }
  }

  /// Receives the message `poll` or `waitForMessage` announced.
  func receive(_ message: (source: Int, tag: Int32, count: Int)) throws(ClusterError) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: message.count)
    let code = bytes.withUnsafeMutableBytes {
      MPI_Recv(
        $0.baseAddress, Int32(message.count), cmpi_byte(), Int32(message.source), message.tag, cmpi_comm_world(),
        cmpi_status_ignore())
    }
    try Self.check("MPI_Recv", code)
    return bytes
  }

  /// Every rank's `value`, in rank order.
  func allGather(_ value: Int) throws(ClusterError) -> [Int] {
    var mine = Int64(value)
    var all = [Int64](repeating: 0, count: size)
    let code = all.withUnsafeMutableBytes {
      MPI_Allgather(&mine, 1, cmpi_int64(), $0.baseAddress, 1, cmpi_int64(), cmpi_comm_world())
    }
    try Self.check("MPI_Allgather", code)
    return all.map(Int.init)
  }

  /// Throws ``ClusterError/mpi`` for a code other than `MPI_SUCCESS`.
  static func check(_ function: String, _ code: Int32) throws(ClusterError) {
    guard code != cmpi_success() else { return }
    var buffer = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
    var length: Int32 = 0
    MPI_Error_string(code, &buffer, &length)
    throw .mpi(
      function: function, code: code,
      message: String(decoding: buffer.prefix(Int(length)).map(UInt8.init(bitPattern:)), as: UTF8.self))
  }
}

/// A send under way: its request and its own copy of the bytes, freed with it.
final class PendingSend {
  /// The `MPI_Request`, as bytes (see the shim: its type differs between MPI libraries).
  let request = UnsafeMutableRawPointer.allocate(byteCount: Int(cmpi_request_size()), alignment: 8)
  let buffer: UnsafeMutableRawBufferPointer

  init(_ bytes: [UInt8]) {
    buffer = .allocate(byteCount: max(bytes.count, 1), alignment: 8)
    bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
  }

  deinit {
    request.deallocate()
    buffer.deallocate()
  }
}
