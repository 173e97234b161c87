import CSystemShims
import Foundation
import SystemCalls

/// How a worker process reports its own crash: one line on standard error by default, or
/// the Swift runtime's full backtrace when asked for.
///
/// A Swift trap or a signal in a worker used to print the runtime's backtrace, about a
/// hundred lines per crash, although the pool already reports the death to the caller
/// (``TerminationStatus`` in the pool's error). A pool worker, a team member and a
/// `parallelMap` worker instead print `<name> (pid <pid>) crashed: signal <n>` after the
/// runtime's own one-line message (`Fatal error: Index out of range`, with file and line) and
/// die of the same signal, so their status is unchanged. Setting `SWIFT_BACKTRACE` in the
/// environment (`SWIFT_BACKTRACE=enable=yes`) keeps the runtime's backtrace.
package enum CrashReport {
  /// Installs the one-line report in this process, named `label`, unless the environment
  /// asks for the runtime's backtrace (`respectingEnvironment` false: whatever it says).
  package static func installOneLine(label: String, respectingEnvironment: Bool = true) {
    if respectingEnvironment, getenv("SWIFT_BACKTRACE") != nil { return }
    // Dropped: sigaction fails only for an invalid signal number, and these are fixed. The
    // label goes through `withCString`, which lends a short one's bytes from the stack (see
    // `SystemCall.setThreadName`): a worker runs this first thing.
    _ = try? SystemCall.shim { label.withCString { cs_install_one_line_crash_report($0) } }
  }
}
