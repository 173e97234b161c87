import ArgumentParser
import Testing

@testable import mpbench
@testable import mpload

/// Every command's help reads well in an 80-column terminal.
@Suite struct HelpTextTests {
  static let commands: [(String, any ParsableCommand.Type)] =
    [("mpload", MPLoad.self), ("mpbench", MPBench.self)]
    + MPBench.configuration.subcommands.map { ("mpbench \($0._commandName)", $0) }

  /// No line is wider than 80 columns, and no sentence is broken where the source was: a short
  /// line followed by more of the same paragraph is a hard line break ArgumentParser kept.
  @Test(arguments: commands.map(\.0))
  func helpFitsEightyColumns(name: String) {
    let command = Self.commands.first { $0.0 == name }!.1
    let help = MPBench.helpMessage(for: command, columns: 80)
    let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    for line in lines { #expect(line.count <= 80, "\(name): \(line)") }
    let prose = lines.prefix { !$0.hasPrefix("USAGE:") }
    for (line, next) in zip(prose, prose.dropFirst())
    where !line.isEmpty && !next.isEmpty && !next.hasPrefix(" ") && !line.hasSuffix(":") {
      #expect(line.count >= 50, "\(name): a paragraph breaks after '\(line)'")
    }
  }

  /// A usage line written by hand (to wrap it) names every option the command has.
  @Test(arguments: commands.map(\.0))
  func usageNamesEveryOption(name: String) {
    let command = Self.commands.first { $0.0 == name }!.1
    let help = MPBench.helpMessage(for: command, columns: 80)
    guard let usageStart = help.range(of: "USAGE:"), let optionsStart = help.range(of: "\nOPTIONS:") else {
      Issue.record("\(name): no USAGE or OPTIONS section")
      return
    }
    let usage = help[usageStart.upperBound..<optionsStart.lowerBound]
    guard !usage.contains("<options>") else { return }
    let options = help[optionsStart.upperBound...].split(separator: "\n").compactMap { line -> String? in
      // An option's line is indented by two spaces (help texts continue further in).
      guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
      return line.split(separator: " ").prefix(2).first { $0.hasPrefix("--") }.map { String($0.filter { $0 != "," }) }
    }
    for option in options where option != "--help" && option != "--version" {
      #expect(usage.contains(option), "\(name): the usage leaves out \(option)")
    }
  }

  @Test(arguments: [("mpbench", MPBench.configuration.version), ("mpload", MPLoad.configuration.version)])
  func versionIsPrinted(tool: String, version: String) throws {
    #expect(version.first?.isNumber == true)
    let run = try runExecutable(tool, ["--version"])
    #expect(run.status == 0)
    #expect(run.stdout == version + "\n", "\(run.stdout)")
  }
}
