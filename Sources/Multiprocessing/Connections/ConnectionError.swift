import SystemPackage

/// Why a ``Connection`` call failed.
public enum ConnectionError: SystemCallFailure, Sendable, Equatable {
  /// This end was closed (``Connection/close()``).
  case closed
  /// Every writer at the other end closed, or died, before a whole message came (Python's
  /// `EOFError`).
  case endOfStream
  /// Nobody reads at the other end any more: a send fails instead of raising `SIGPIPE`.
  case peerGone
  /// A one-way end used the other way: `send` on the receiving end, `recv` on the sending one.
  case wrongDirection(String)
  /// A message over the 1 GiB limit of one message.
  case messageTooLarge(Int)
  /// A received message longer than the caller's limit (``Connection/recvBytes(maxLength:)``);
  /// it was dropped whole, and the connection reads on.
  case messageOverLimit(length: Int, limit: Int)
  /// A received message longer than the caller's buffer (``Connection/recvBytes(into:)``,
  /// Python's `BufferTooShort`): here whole; the connection reads on.
  case bufferTooShort([UInt8])
  /// A value could not be encoded, or a message decoded as the type asked for; the message
  /// was taken whole, so the next one reads normally.
  case codingFailed(String)
  /// The authentication key check of ``Listener`` or ``Connection/connect(to:authKey:)``
  /// failed (Python's `AuthenticationError`): the peer's key differs, it has none, or it does
  /// not speak the challenge. The connection is closed.
  case authenticationFailed(String)
  /// A system call failed.
  case system(call: String, errno: Errno)

  /// The system call that failed beneath this error and its `Errno`, or nil when none did.
  public var failedCall: (call: String, errno: Errno)? {
    if case .system(let call, let errno) = self { return (call, errno) }
    return nil
  }

  /// A message that names the failure.
  public var description: String {
    switch self {
    case .closed: "the connection is closed"
    case .endOfStream: "the other end closed the connection (end of stream)"
    case .peerGone: "nobody reads at the other end of the connection any more"
    case .wrongDirection(let what): "this end of a one-way pipe cannot \(what)"
    case .messageTooLarge(let bytes): "a message of \(bytes) bytes is over the 1 GiB limit"
    case .bufferTooShort(let message): "a message of \(message.count) bytes does not fit in the buffer given"
    case .messageOverLimit(let length, let limit):
      "a message of \(length) bytes is over the limit of \(limit) asked for; it was dropped"
    case .codingFailed(let reason): "the message could not be encoded or decoded: \(reason)"
    case .authenticationFailed(let reason): "authentication failed: \(reason)"
    case .system(let call, let errno): Self.describe(call: call, errno: errno)
    }
  }
}
