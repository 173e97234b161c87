import SystemCalls

/// Waits until at least one of `descriptors` is readable (or hung up), or `timeout` passes
/// (nil: no limit), and returns the ready ones. Interrupted waits resume with the time left.
/// Process sentinels are such descriptors.
public func pollReadable(_ descriptors: [Int32], timeout: Duration?) -> [Int32] {
  SystemCall.pollReadable(descriptors, timeout: timeout)
}
