/// Why a ring operation did not happen.
public enum RingError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The ring was closed: nothing more may be pushed.
  case closed
  /// The wait ended before there was room (push) or an item (pop).
  case timedOut
  /// A capacity or batch size out of range.
  case invalidArgument(String)
  /// The process at the other end is gone (a send given up on): the ring may hold a message
  /// cut short and is not to be used again.
  case peerGone

  /// A message that names the problem.
  public var description: String {
    switch self {
    case .closed: "the ring is closed"
    case .timedOut: "the ring operation timed out"
    case .invalidArgument(let reason): "invalid ring argument: \(reason)"
    case .peerGone: "the process at the other end of the ring is gone"
    }
  }
}
