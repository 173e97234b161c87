import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A progress line on standard error while the suite runs, when that is a terminal.
final class Progress: @unchecked Sendable {
  // @unchecked: used from the main thread only.
  /// The planned number of steps.
  var total: Int
  private var done = 0
  private let visible = isatty(STDERR_FILENO) == 1

  init(total: Int) {
    self.total = total
  }

  /// Counts one run of `what` (number `repetition`, counting `warmups` untimed ones first)
  /// and shows it.
  func step(_ what: String, _ repetition: Int, warmups: Int = 0) {
    done += 1
    guard visible else { return }
    let run = repetition < warmups ? "warm-up" : "run \(repetition - warmups + 1)"
    FileHandle.standardError.write(Data("\r\u{1B}[K[\(done)/\(total)] \(what), \(run)".utf8))
  }

  /// Clears the progress line.
  func finish() {
    guard visible else { return }
    FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
  }
}
