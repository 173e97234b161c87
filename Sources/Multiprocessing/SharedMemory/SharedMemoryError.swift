import SystemPackage

/// A failure to create, attach, reopen or unlink a ``SharedMemory`` block.
public enum SharedMemoryError: Error, Sendable, Equatable, CustomStringConvertible {
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

  /// The system call's error beneath this one, or nil when no system call failed.
  public var underlyingErrno: Errno? {
    if case .system(_, let errno) = self { return errno }
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
    case .system(let call, let errno): "\(call) failed: \(errno)"
    }
  }
}
