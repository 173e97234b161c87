import Logging

/// The logger the process API and the pools write to: silent (it discards everything) until
/// the program sets one, so that a library never writes to a program's output uninvited.
///
/// ```swift
/// var logger = Logger(label: "app.multiprocessing")
/// logger.logLevel = .notice
/// multiprocessingLogger = logger
/// ```
public var multiprocessingLogger: Logger {
  get { LibraryLogger.shared.lock.withLock { LibraryLogger.shared.logger } }
  set { LibraryLogger.shared.lock.withLock { LibraryLogger.shared.logger = newValue } }
}

/// The storage behind ``multiprocessingLogger``.
final class LibraryLogger: @unchecked Sendable {
  // @unchecked: `logger` and `warnedAboutThreads` are read and written only under `lock`.
  static let shared = LibraryLogger()

  let lock = ForkSafeLock()
  var logger = Logger(label: "swift-multiprocessing", factory: { _ in SwiftLogNoOpLogHandler() })
  /// Whether the warning about forking a multi-threaded process was given.
  var warnedAboutThreads = false
}
