import CSystemShims
import Dispatch
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// While installed, answers `SIGTERM` — what Open MPI's launcher sends every rank when one
/// dies — and `SIGINT` by writing a report to standard error, then ending the process as the
/// signal would.
///
/// The report is written from a Dispatch thread, where every signal is blocked: the signal is
/// raised again there only after that thread unblocks it, so that it ends the process at once
/// (raised while blocked, it stayed pending and the driver worked on until the launcher
/// killed it).
final class EndReport: @unchecked Sendable {
  // @unchecked: the sources are set once, and cancelled from the thread that installed them.
  private static let signals = [SIGTERM, SIGINT]
  private let sources: [any DispatchSourceSignal]
  private let previous: [sighandler_t?]

  private init(sources: [any DispatchSourceSignal], previous: [sighandler_t?]) {
    self.sources = sources
    self.previous = previous
  }

  /// Starts answering `SIGTERM` and `SIGINT` with `report()`.
  static func install(_ report: @escaping @Sendable () -> String) -> EndReport {
    var previous: [sighandler_t?] = []
    var sources: [any DispatchSourceSignal] = []
    for signalNumber in signals {
      // A dispatch source sees the signal only once its default action is off.
      previous.append(signal(signalNumber, SIG_IGN))
      let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
      source.setEventHandler {
        FileHandle.standardError.write(Data(report().utf8))
        signal(signalNumber, SIG_DFL)
        cs_unblock_all_signals()
        raise(signalNumber)
      }
      source.resume()
      sources.append(source)
    }
    return EndReport(sources: sources, previous: previous)
  }

  /// Stops answering: the signals do what they did before.
  func remove() {
    for (source, (signalNumber, handler)) in zip(sources, zip(Self.signals, previous)) {
      source.cancel()
      signal(signalNumber, handler)
    }
  }
}
