import SystemPackage

/// The shape shared by the errors of the areas that make system calls (``ProcessError``,
/// ``SharedMemoryError``, ``ConnectionError``, ``QueueError``, and `ComputeEngine`'s
/// `PoolError`): a case for a system call that failed, `system(call:errno:)`, whose message is
/// the call and swift-system's `Errno` (`mmap failed: Cannot allocate memory`), and
/// ``underlyingErrno``, that `Errno` whichever case carries it.
///
/// Code that calls into several areas can catch their system failures as one:
///
/// ```swift
/// do {
///   _ = try SharedMemory(size: .max)  // more than the address space holds
/// } catch let error as any SystemCallFailure {
///   print(error)  // mmap failed: Cannot allocate memory
///   print(error.underlyingErrno == .noMemory)  // true
/// }
/// ```
public protocol SystemCallFailure: Error, CustomStringConvertible {
  /// The error for system call `call` failing with `errno`.
  static func system(call: String, errno: Errno) -> Self
  /// The system call that failed beneath this error and its `Errno`, or nil when none did.
  var failedCall: (call: String, errno: Errno)? { get }
}

extension SystemCallFailure {
  /// The system call's error beneath this one, or nil when no system call failed.
  public var underlyingErrno: Errno? { failedCall?.errno }

  /// The message of a failed system call: `call failed: <errno's description>`.
  package static func describe(call: String, errno: Errno) -> String { "\(call) failed: \(errno)" }
}
