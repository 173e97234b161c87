import Foundation
import Testing

/// The README's front-page example runs, and prints what the README says it prints.
@Suite(.timeLimit(.minutes(2))) struct ReadmeRunTests {
  @Test func theFrontPageExamplePrintsWhatTheReadmeSays() throws {
    let program = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
      .appendingPathComponent("ReadmeExamples")
    let process = Foundation.Process()
    process.executableURL = program
    process.arguments = ["front-page"]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    // The values the README's comments give, read from the README itself.
    let readme = try ReadmeSnippetTests.snippets()[0].joined(separator: "\n")
    let promised = readme.split(separator: "\n").compactMap { line -> String? in
      guard line.hasPrefix("print("), let comment = line.range(of: "// ") else { return nil }
      return String(line[comment.upperBound...])
    }
    #expect(promised == ["524", "998001"], "the README's first example prints these")
    #expect(printed.split(separator: "\n").map(String.init) == promised)
  }
}
