/// Why a ``ClusterPool`` call failed.
public enum ClusterError: Error, Sendable, Equatable, CustomStringConvertible {
  /// An MPI function returned an error (communicators here return errors instead of
  /// aborting the job): the function, MPI's error code and its message.
  case mpi(function: String, code: Int32, message: String)
  /// A rank of the job died (ULFM's `MPI_ERR_PROC_FAILED`): seen by the serving ranks when the
  /// driver dies, and by the driver where the MPI library cannot recover (no ULFM, or a second
  /// failure during the recovery).
  case rankFailed(function: String)
  /// The driver (rank 0) died, seen by a serving rank with ULFM: the job ends with it (its
  /// journal resumes it in a new run).
  case driverLost
  /// The driver revoked the communicator after a rank died (ULFM's `MPI_ERR_REVOKED`): a
  /// serving rank joins the recovery when it sees this, so it escapes only from a recovery
  /// that failed.
  case revoked(function: String)
  /// MPI was already finalized in this process: it cannot be started again.
  case finalized
  /// MPI cannot give the thread level the pool needs (`MPI_THREAD_FUNNELED`).
  case threadLevel(provided: Int32)
  /// A call only the driver (rank 0) may make, made on another rank.
  case notDriver(rank: Int)
  /// A pool call from another thread than the one that made the pool: MPI runs at thread
  /// level `MPI_THREAD_FUNNELED`, where only that thread may call it.
  case wrongThread
  /// The pool has served its job: ``ClusterPool/serve(driver:)`` returned, MPI is finalized.
  case finished
  /// The driver shut the pool down (``ClusterPool/shutdown()``): the other ranks stopped
  /// serving, and it takes no more work.
  case shutDown
  /// A message that does not follow the pool's protocol (a version mismatch between ranks).
  case protocolViolation(String)
  /// An argument out of range.
  case invalidArgument(String)

  /// A message that names the failure.
  public var description: String {
    switch self {
    case .mpi(let function, let code, let message): "\(function) failed with MPI error \(code): \(message)"
    case .rankFailed(let function): "\(function) failed: a rank of the job died"
    case .driverLost: "the driver, rank 0, died: the job ends with it (run it again with its journal to resume)"
    case .revoked(let function): "\(function) failed: the communicator was revoked after a rank died"
    case .finalized: "MPI was already finalized in this process and cannot be started again"
    case .threadLevel(let provided):
      "MPI provides thread level \(provided), below MPI_THREAD_FUNNELED, which the pool needs"
    case .notDriver(let rank): "only the driver, rank 0, may call this; this is rank \(rank)"
    case .wrongThread:
      "the cluster pool was called from another thread than the one that made it (MPI_THREAD_FUNNELED: only that one may call MPI)"
    case .finished: "the cluster pool has served its job and MPI is finalized"
    case .shutDown: "the cluster pool was shut down: its other ranks stopped serving"
    case .protocolViolation(let what): "a message broke the cluster pool's protocol: \(what)"
    case .invalidArgument(let reason): "invalid cluster pool argument: \(reason)"
    }
  }
}

extension ClusterError {
  /// Whether this says a rank died (or the driver gave up the communicator for it): what the
  /// pool recovers from when the MPI library has ULFM.
  var isRankLoss: Bool {
    switch self {
    case .rankFailed, .revoked, .driverLost: true
    default: false
    }
  }
}
