import ArgumentParser
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

extension ParsableCommand {
  /// Parses `arguments` (the command line's by default) as this root command and runs the
  /// command they name, as `main()` does, except that a ``LateUsageError`` is said with status
  /// 64 and no usage line.
  package static func runAsRoot(_ arguments: [String]? = nil) -> Never {
    do {
      var command = try parseAsRoot(arguments)
      try command.run()
      Glibc.exit(0)
    } catch let error as LateUsageError {
      FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
      Glibc.exit(ExitCode.validationFailure.rawValue)
    } catch {
      exit(withError: error)
    }
  }
}
