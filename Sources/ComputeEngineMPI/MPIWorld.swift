import CMPI
import Foundation
import Synchronization

/// This process's part in the job: MPI started once per process at thread level
/// `MPI_THREAD_FUNNELED` (only the thread that started it calls MPI), with errors returned
/// to the caller instead of aborting the job, and messages of bytes between ranks.
///
/// The ranks talk over `MPI_COMM_WORLD` until one dies; then, where the MPI library has ULFM
/// (``isFaultTolerant``), over the communicator of the survivors that ``shrink()`` makes.
final class MPIWorld: @unchecked Sendable {
  // @unchecked: the communicator and the ranks change only in shrink(), which, as every MPI
  // call, runs on the thread that started MPI (the pool checks it); no other thread reads them.

  /// Whether MPI was started, then finalized, in this process (it cannot start again).
  private static let state = Mutex<(started: Bool, finalized: Bool)>((false, false))

  /// Whether the MPI library loaded can revoke and shrink a communicator after a rank died.
  static let isFaultTolerant = cmpi_fault_tolerant() != 0

  /// The communicator of the ranks still in the job.
  private var communicator: MPI_Comm
  /// This process's rank in it.
  private(set) var rank: Int
  /// The number of ranks in it.
  private(set) var size: Int
  /// Each rank's rank in `MPI_COMM_WORLD`, by its rank now: what the launcher and the
  /// environment (`OMPI_COMM_WORLD_RANK`) call it.
  private(set) var worldRanks: [Int]
  /// The number of ranks the job started with.
  private let worldSize: Int

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
    communicator = cmpi_comm_world()
    var rank: Int32 = 0
    var size: Int32 = 0
    try Self.check("MPI_Comm_rank", MPI_Comm_rank(communicator, &rank))
    try Self.check("MPI_Comm_size", MPI_Comm_size(communicator, &size))
    (self.rank, self.size) = (Int(rank), Int(size))
    worldRanks = Array(0..<Int(size))
    worldSize = Int(size)
  }

  /// Gives up the communicator after a rank died, with every other survivor: revokes it (so
  /// that every rank's next call on it fails with ``ClusterError/revoked(function:)``, which
  /// brings them here too) and makes the communicator of the ranks still alive, on which the
  /// job goes on. Ranks keep their order; the driver stays rank 0 while it lives.
  ///
  /// - Returns: the `MPI_COMM_WORLD` ranks lost since the last shrink.
  /// - Throws: ``ClusterError/rankFailed(function:)`` when the library has no ULFM, or a
  ///   ``ClusterError`` of the shrink.
  func shrink() throws(ClusterError) -> [Int] {
    guard Self.isFaultTolerant else { throw .rankFailed(function: "MPIX_Comm_shrink (no ULFM in this MPI library)") }
    // Revoked already when another rank revoked it first: the call is then a no-op.
    _ = cmpi_comm_revoke(communicator)
    var error: Int32 = 0
    let survivors: MPI_Comm = cmpi_comm_shrink(communicator, &error)
    try Self.check("MPIX_Comm_shrink", error)
    try Self.check("MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(survivors, cmpi_errors_return()))
    var rank: Int32 = 0
    var size: Int32 = 0
    try Self.check("MPI_Comm_rank", MPI_Comm_rank(survivors, &rank))
    try Self.check("MPI_Comm_size", MPI_Comm_size(survivors, &size))
    // The survivors' ranks in the communicator given up, and so in MPI_COMM_WORLD.
    var ranksBefore = [Int32](repeating: 0, count: Int(size))
    try Self.check("MPI_Group_translate_ranks", cmpi_ranks_in(survivors, communicator, size, &ranksBefore))
    let surviving = ranksBefore.map { worldRanks[Int($0)] }
    let lost = worldRanks.filter { !surviving.contains($0) }
    cmpi_comm_release(communicator)
    communicator = survivors
    (self.rank, self.size, worldRanks) = (Int(rank), Int(size), surviving)
    return lost
  }

  /// Finalizes MPI in this process (again: nothing).
  ///
  /// After ranks were lost (``shrink()``), the survivors first meet at a barrier on their own
  /// communicator, then finalize without the library's fence over `MPI_COMM_WORLD`, whose
  /// dead processes can hold it up for ever.
  func finalize() {
    Self.state.withLock { state in
      guard state.started, !state.finalized else { return }
      if worldRanks.count < worldSize {
        // A rank that fails now leaves the barrier in error: nothing to wait for then.
        _ = MPI_Barrier(communicator)
        _ = cmpi_skip_finalize_fence()
      }
      MPI_Finalize()
      state.finalized = true
    }
  }

  /// Sends `bytes` to rank `destination` with `tag`, waiting until the buffer may be reused.
  func send(_ bytes: [UInt8], to destination: Int, tag: Int32) throws(ClusterError) {
    let code = bytes.withUnsafeBytes {
      MPI_Send($0.baseAddress, Int32($0.count), cmpi_byte(), Int32(destination), tag, communicator)
    }
    try Self.check("MPI_Send", code)
  }

  /// Starts sending `bytes` to rank `destination` with `tag` without waiting: a copy of the
  /// bytes stays with the returned send until ``isComplete(_:)`` says it went. The driver
  /// sends chunks this way: a blocking send of a large message waits for the receiver, and
  /// the receiver may itself be blocked sending its results to the driver.
  func startSend(_ bytes: [UInt8], to destination: Int, tag: Int32) throws(ClusterError) -> PendingSend {
    let send = PendingSend(bytes)
    let code = cmpi_isend(
      send.buffer.baseAddress, Int32(send.buffer.count), Int32(destination), tag, communicator, send.request)
    try Self.check("MPI_Isend", code)
    return send
  }

  /// Sends `bytes` to rank `destination` with `tag` and waits until it went, probing for a
  /// message from `destination` meanwhile: a serving rank sends its results so. A blocking
  /// send to a driver that died waits for as long as the transport takes to notice (a test
  /// saw the serving ranks silent for 90 s after the driver's SIGKILL, under load), where a
  /// probe of the dead rank fails with `MPI_ERR_PROC_FAILED` once ULFM knows
  /// (``ClusterError/rankFailed``), as a rank waiting for a message learns of it.
  func sendWatching(_ bytes: [UInt8], to destination: Int, tag: Int32) throws(ClusterError) {
    let send = try startSend(bytes, to: destination, tag: tag)
    var backoff = IdleBackoff(spin: .milliseconds(1))
    while try !isComplete(send) {
      _ = try poll(from: destination)
      backoff.idle()
    }
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
      MPI_Iprobe(source.map(Int32.init) ?? cmpi_any_source(), cmpi_any_tag(), communicator, &flag, &status))
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
        $0.baseAddress, Int32(message.count), cmpi_byte(), Int32(message.source), message.tag, communicator,
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
      MPI_Allgather(&mine, 1, cmpi_int64(), $0.baseAddress, 1, cmpi_int64(), communicator)
    }
    try Self.check("MPI_Allgather", code)
    return all.map(Int.init)
  }

  /// Throws for a code other than `MPI_SUCCESS`: ``ClusterError/rankFailed(function:)`` or
  /// ``ClusterError/revoked(function:)`` for ULFM's classes, ``ClusterError/mpi`` otherwise.
  static func check(_ function: String, _ code: Int32) throws(ClusterError) {
    guard code != cmpi_success() else { return }
    var errorClass: Int32 = 0
    if MPI_Error_class(code, &errorClass) == cmpi_success() {
      if errorClass == cmpi_err_proc_failed() || errorClass == cmpi_err_proc_failed_pending() {
        throw .rankFailed(function: function)
      }
      if errorClass == cmpi_err_revoked() { throw .revoked(function: function) }
    }
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
