// The README's examples, compiled with the package (`swift build` builds this target) so that
// none drifts from the API; `ReadmeSnippetTests` checks that every ```swift block of README.md
// appears in these files, line for line. The spawn example below is the program's entry point;
// `ReadmeExamples front-page` runs the front page's example instead (`ReadmeRunTests`).

import Multiprocessing

struct Job: Codable, Sendable { var units: Range<Int> }
let work = EntryPoint<Job>("work") { job in print(job.units.count, "units") }

@main struct App {
  static func main() throws {
    bootstrapMultiprocessing(entryPoints: [work])
    if CommandLine.arguments.dropFirst().first == "front-page" { return try frontPageExample() }
    let p = Process(startMethod: .spawn, entryPoint: work, arguments: Job(units: 0..<32))
    try p.start()
    try p.join()
  }
}
