import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// The one way this package calls the system. Each wrapper retries `EINTR` where a retry is
/// right (everywhere but `close` and waits that carry a timeout, which resume with the time
/// left), and reports a failure as swift-system's `Errno`.
///
/// Two conventions meet here: libc's (−1 and `errno`) through ``retrying(_:)``, and
/// CSystemShims' (a non-negative result or −errno) through ``shim(_:)``.
package enum SystemCall {
  /// Calls `body`, a libc function that returns −1 and sets `errno` when it fails, again
  /// while it fails with `EINTR`; throws any other `errno`.
  @inline(__always)
  package static func retrying<Result: FixedWidthInteger & SignedInteger>(
    _ body: () -> Result
  ) throws(Errno) -> Result {
    while true {
      let result = body()
      if result != -1 { return result }
      let code = Errno(rawValue: errno)
      if code != .interrupted { throw code }
    }
  }

  /// Calls `body`, a CSystemShims function that returns a non-negative result or −errno,
  /// again while it returns −`EINTR`; throws any other error.
  @inline(__always)
  package static func shim<Result: FixedWidthInteger & SignedInteger>(
    _ body: () -> Result
  ) throws(Errno) -> Result {
    while true {
      let result = body()
      if result >= 0 { return result }
      let code = Errno(rawValue: Int32(truncatingIfNeeded: -result))
      if code != .interrupted { throw code }
    }
  }
}
