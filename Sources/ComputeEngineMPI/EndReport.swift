import Dispatch
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// While installed, answers `SIGTERM` — what Open MPI's launcher sends every rank when one
/// dies — by writing a report to standard error, then ending the process as `SIGTERM` would.
final class EndReport: @unchecked Sendable {
  // @unchecked: the source is set once, and cancelled from the thread that installed it.
  private let source: any DispatchSourceSignal
  private let previous: sighandler_t?

  private init(source: any DispatchSourceSignal, previous: sighandler_t?) {
    self.source = source
    self.previous = previous
  }

  /// Starts answering `SIGTERM` with `report()`.
  static func install(_ report: @escaping @Sendable () -> String) -> EndReport {
    // A dispatch source sees the signal only once its default action is off.
    let previous = signal(SIGTERM, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
    source.setEventHandler {
      FileHandle.standardError.write(Data(report().utf8))
      signal(SIGTERM, SIG_DFL)
      raise(SIGTERM)
    }
    source.resume()
    return EndReport(source: source, previous: previous)
  }

  /// Stops answering: `SIGTERM` does what it did before.
  func remove() {
    source.cancel()
    signal(SIGTERM, previous)
  }
}
