import ArgumentParser

/// The CPU load generator. Its engine lands with the process pool; until then it says so.
@main
struct MPLoad: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mpload",
    abstract: "Hold chosen CPUs at a chosen load (not available yet: see the project's issue list)."
  )

  func run() throws {
    throw ValidationError("mpload's load engine is not built yet; it needs the process pool")
  }
}
