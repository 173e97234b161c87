/// Thrown from a process's target to end the process with an exit code, as Python's
/// `sys.exit(code)`: the child exits with `code` and prints nothing.
///
/// ```swift
/// let p = Process { throw ProcessExit(3) }
/// try p.start(); try p.join()
/// try p.exitCode   // 3
/// ```
public struct ProcessExit: Error, Sendable, Equatable {
  /// The exit code the process ends with.
  public let code: Int32

  /// Ends the throwing process with `code`.
  public init(_ code: Int32) {
    self.code = code
  }
}
