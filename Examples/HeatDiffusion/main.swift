import ArgumentParser
import ComputeEngine
import ExampleSupport

/// `heat-diffusion`: the stencil serial, on threads and on a team of processes, timed in
/// alternation, with each version's grid checked against the serial one.
struct HeatDiffusionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "heat-diffusion",
    abstract: "Time a 2-D heat-diffusion stencil serial, on threads and on a team of processes.")

  @Option(help: "Cells per side of the square grid.")
  var size = 2048
  @Option(help: "Steps (sweeps of the whole grid).")
  var steps = 200
  @Option(help: "Timed runs of each version, alternated.")
  var repetitions = 5
  @Option(help: "Threads and team members (default: one per physical core).")
  var workers: Int?
  @Option(help: "Fail when the team's run-by-run ratio to threads is under R.")
  var minRatioToThreads: Double?

  func validate() throws {
    guard size >= 3 else { throw ValidationError("--size must be at least 3, not \(size)") }
    guard steps >= 1, repetitions >= 1 else { throw ValidationError("--steps and --repetitions must be positive") }
  }

  func run() throws {
    let team = try ProcessTeam(size: workers)
    let reference = HeatDiffusion.serial(size: size, steps: steps)
    var timings = Timings(versions: ["serial", "threads", "team of processes"])
    for _ in 0..<repetitions {
      try timings.time("serial") { HeatDiffusion.serial(size: size, steps: steps) == reference }
      try timings.time("threads") {
        HeatDiffusion.threads(size: size, steps: steps, workers: team.size) == reference
      }
      try timings.time("team of processes") {
        try HeatDiffusion.team(size: size, steps: steps, team: team) == reference
      }
    }
    timings.print(title: "heat diffusion, \(size)² cells, \(steps) steps, \(team.size) workers")
    try timings.check("team of processes", against: "threads", minimum: minRatioToThreads)
  }
}

HeatDiffusionCommand.main()
