import Foundation
import Testing

/// Every ```swift block of README.md, and of the DocC articles that show code, is compiled:
/// its lines appear, in order, in a file of `Examples/ReadmeExamples` (which `swift build`
/// compiles), so that an example cannot drift from the API without this test failing.
@Suite struct ReadmeSnippetTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// The articles whose Swift blocks are checked as README's are.
  static let articles = ["Sources/Multiprocessing/Multiprocessing.docc/FromPython.md"]

  /// The Swift blocks of the README (or of the file at `path`), each as its lines.
  static func snippets(in path: String = "README.md") throws -> [[String]] {
    let readme = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    var blocks: [[String]] = []
    var current: [String]?
    for line in readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
      if current == nil, line == "```swift" {
        current = []
      } else if current != nil, line == "```" {
        blocks.append(current!)
        current = nil
      } else {
        current?.append(line)
      }
    }
    return blocks
  }

  /// Lines compared without indentation (an example sits in a function in the example files),
  /// with runs of spaces as one (the README aligns comments, swift-format does not) and
  /// without blank lines.
  static func significant(_ lines: [String]) -> [String] {
    lines.map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
      .filter { !$0.isEmpty }
  }

  /// Whether `lines` appear in `text` in order.
  static func appears(_ lines: [String], inOrderIn text: [String]) -> Bool {
    var found = 0
    for line in text where found < lines.count && line == lines[found] { found += 1 }
    return found == lines.count
  }

  @Test func everySwiftBlockIsInTheCompiledExamples() throws {
    let directory = Self.root.appendingPathComponent("Examples/ReadmeExamples")
    let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".swift") }
    let sources = try files.map {
      Self.significant(
        try String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8).components(separatedBy: "\n"))
    }
    let snippets = try Self.snippets()
    #expect(snippets.count >= 7, "README.md's Swift blocks were not found")
    let articleSnippets = try Self.articles.map { try Self.snippets(in: $0) }
    #expect(articleSnippets.allSatisfy { $0.count >= 5 }, "an article's Swift blocks were not found")
    for snippet in snippets + articleSnippets.joined() {
      let lines = Self.significant(snippet)
      #expect(
        sources.contains { Self.appears(lines, inOrderIn: $0) },
        "not in Examples/ReadmeExamples:\n\(snippet.joined(separator: "\n"))")
    }
  }

  @Test func theCheckNoticesAChangedLine() {
    let example = ["let a = 1", "print(a)"]
    #expect(Self.appears(example, inOrderIn: ["func f() {", "let a = 1", "", "print(a)", "}"]))
    #expect(!Self.appears(example, inOrderIn: ["let a = 2", "print(a)"]))
    #expect(!Self.appears(example, inOrderIn: ["print(a)", "let a = 1"]))
    #expect(Self.significant(["  let a = 1   // one", ""]) == ["let a = 1 // one"])
  }
}
