import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

extension SystemCall {
  /// Waits until at least one of `descriptors` is readable (or hung up), or `timeout`
  /// passes (nil: no limit), and returns the ready ones. An interrupted wait resumes with
  /// the time left; any other failure (a closed descriptor in the list) returns none ready.
  package static func pollReadable(_ descriptors: [Int32], timeout: Duration?) -> [Int32] {
    var fds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    return waitForEvents(&fds, timeout: timeout) ? fds.filter { $0.revents != 0 }.map { $0.fd } : []
  }

  /// Waits until `descriptor` is writable (or the reader went: the write then says so), or
  /// `timeout` passes (nil: no limit); whether it is.
  package static func pollWritable(_ descriptor: Int32, timeout: Duration?) -> Bool {
    var fds = [pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)]
    return waitForEvents(&fds, timeout: timeout)
  }

  /// Polls `fds` until one has an event or `timeout` passes; whether one has. An interrupted
  /// wait resumes with the time left.
  private static func waitForEvents(_ fds: inout [pollfd], timeout: Duration?) -> Bool {
    let deadline = timeout.map { ContinuousClock.now + $0 }
    while true {
      var milliseconds: Int32 = -1
      if let deadline {
        let left = deadline - .now
        milliseconds = left <= .zero ? 0 : Int32(clamping: roundedUpMilliseconds(left))
      }
      let ready = poll(&fds, nfds_t(fds.count), milliseconds)
      if ready > 0 { return true }
      if ready == 0 || (ready < 0 && errno != EINTR) { return false }
    }
  }

  /// Whole milliseconds, rounded up so that a wait never ends early.
  package static func roundedUpMilliseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
  }
}
