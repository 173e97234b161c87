import Foundation
import Testing

/// Every ```swift block of README.md and of every DocC catalog's pages is compiled: its lines
/// appear, in order, in a file of `Examples/` (`ReadmeExamples`, or the example program an
/// article quotes, which `swift build` compiles), so that an example cannot drift from the
/// API without this test failing.
@Suite struct ReadmeSnippetTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// Every page of every DocC catalog (`Sources/<Module>/<Module>.docc/*.md`), relative to the root.
  static func articles() throws -> [String] {
    let sources = root.appendingPathComponent("Sources")
    return try FileManager.default.contentsOfDirectory(atPath: sources.path).sorted().flatMap { module in
      let catalog = "Sources/\(module)/\(module).docc"
      let directory = root.appendingPathComponent(catalog).path
      let pages = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
      return pages.filter { $0.hasSuffix(".md") }.sorted().map { "\(catalog)/\($0)" }
    }
  }

  /// The Swift files under `Examples/`, each as its significant lines.
  static func exampleSources() throws -> [[String]] {
    let examples = root.appendingPathComponent("Examples")
    let files = try FileManager.default.subpathsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".swift") }
    return try files.map {
      significant(
        try String(contentsOf: examples.appendingPathComponent($0), encoding: .utf8).components(separatedBy: "\n"))
    }
  }

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
    let sources = try Self.exampleSources()
    #expect(sources.count >= 10, "the example files were not found")
    let snippets = try Self.snippets()
    #expect(!snippets.isEmpty, "README.md's Swift blocks were not found")
    let articles = try Self.articles()
    #expect(articles.count >= 20, "the DocC catalogs' pages were not found: \(articles)")
    let articleSnippets = try articles.map { try Self.snippets(in: $0) }
    #expect(articleSnippets.joined().count >= 30, "the articles' Swift blocks were not found")
    for snippet in snippets + articleSnippets.joined() {
      let lines = Self.significant(snippet)
      #expect(
        sources.contains { Self.appears(lines, inOrderIn: $0) },
        "not in Examples/:\n\(snippet.joined(separator: "\n"))")
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
