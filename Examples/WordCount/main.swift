import ArgumentParser
import ComputeEngine
import ExampleSupport

/// `word-count`: a generated text's words counted serial, on threads and by a map-reduce on a
/// team of processes, timed in alternation, each count checked against the serial one.
struct WordCountCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "word-count",
    abstract: "Time a word count serial, on threads and as a map-reduce on a team of processes.")

  @Option(help: "Size of the generated text in megabytes.")
  var megabytes = 200
  @Option(help: "Pieces the text is cut into.")
  var pieces = 64
  @Option(help: "Timed runs of each version, alternated.")
  var repetitions = 5
  @Option(help: "Fail when the team's run-by-run ratio to threads is under R.")
  var minRatioToThreads: Double?

  func validate() throws {
    guard megabytes >= 1, pieces >= 1, repetitions >= 1 else {
      throw ValidationError("--megabytes, --pieces and --repetitions must be positive")
    }
  }

  func run() throws {
    let text = WordCount.text(bytes: megabytes << 20)
    let team = try ProcessTeam()
    let reference = WordCount.serial(text)
    var timings = Timings(versions: ["serial", "threads", "team map-reduce"])
    for _ in 0..<repetitions {
      try timings.time("serial") { WordCount.serial(text) == reference }
      try timings.time("threads") { WordCount.threads(text, pieces: pieces) == reference }
      try timings.time("team map-reduce") { try WordCount.team(text, pieces: pieces, team: team) == reference }
    }
    timings.print(
      title: "word count, \(megabytes) MB, \(reference.count) distinct words, \(pieces) pieces, \(team.size) workers")
    try timings.check("team map-reduce", against: "threads", minimum: minRatioToThreads)
  }
}

WordCountCommand.main()
