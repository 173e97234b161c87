import SystemPackage

/// A failure to create, attach, reopen or unlink a ``SharedMemory`` block.
public enum SharedMemoryError: SystemCallFailure, Sendable, Equatable {
  /// A size of zero or less.
  case invalidSize(Int)
  /// A name that is empty, too long, or holds a `/`.
  case invalidName(String)
  /// A block of that name exists already.
  case alreadyExists(String)
  /// No block has that name.
  case notFound(String)
  /// A handle that can no longer be reopened.
  case cannotReopen(String)
  /// `unlink()` on an anonymous block.
  case anonymous
  /// A system call failed.
  case system(call: String, errno: Errno)

  /// The system call that failed beneath this error and its `Errno`, or nil when none did.
  public var failedCall: (call: String, errno: Errno)? {
    if case .system(let call, let errno) = self { return (call, errno) }
    return nil
  }

  /// A message that names the mistake.
  public var description: String {
    switch self {
    case .invalidSize(let size): "a shared memory block needs a positive size, not \(size)"
    case .invalidName(let name):
      "invalid shared memory name '\(name)': use 1 to 250 characters without '/' (no leading '/')"
    case .alreadyExists(let name): "a shared memory block named '\(name)' already exists"
    case .notFound(let name): "no shared memory block is named '\(name)'"
    case .cannotReopen(let what): "cannot reopen the shared memory block (\(what))"
    case .anonymous: "an anonymous shared memory block has no name to unlink"
    case .system(let call, let errno): Self.describe(call: call, errno: errno)
    }
  }
}
