import ArgumentParser
import ComputeEngine
import ExampleSupport

/// `render`: a Mandelbrot image serial, on threads and on a pool of processes (rows as
/// `[UInt8]` and as `Data`), timed in alternation, each image checked against the serial one.
struct RenderCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "render",
    abstract: "Time a Mandelbrot render serial, on threads and on a pool of processes.")

  @Option(help: "Image width in pixels.")
  var width = 2000
  @Option(help: "Image height in pixels (one task per row).")
  var height = 2000
  @Option(help: "Timed runs of each version, alternated.")
  var repetitions = 5
  @Option(help: "Fail when the [UInt8] pool's run-by-run ratio to threads is under R.")
  var minRatioToThreads: Double?
  @Option(help: "Fail when the [UInt8] pool's run-by-run ratio to the Data pool is under R.")
  var minRatioToData: Double?

  func validate() throws {
    guard width >= 1, height >= 1 else { throw ValidationError("--width and --height must be positive") }
    guard repetitions >= 1 else { throw ValidationError("--repetitions must be positive") }
  }

  func run() throws {
    // Pools are made once, as a program that renders more than one image would.
    let pool = try Render.pool(width: width, height: height)
    let dataPool = try Render.dataPool(width: width, height: height)
    defer {
      pool.terminate()
      dataPool.terminate()
    }
    let reference = Render.serial(width: width, height: height)
    let team = try ProcessTeam()
    var timings = Timings(versions: [
      "serial", "threads", "pool, [UInt8] rows", "pool, Data rows", "team, shared image",
    ])
    for _ in 0..<repetitions {
      try timings.time("serial") { Render.serial(width: width, height: height) == reference }
      try timings.time("threads") { Render.threads(width: width, height: height) == reference }
      try timings.time("pool, [UInt8] rows") { try Render.processes(height: height, pool: pool) == reference }
      try timings.time("pool, Data rows") { try Render.processes(height: height, pool: dataPool) == reference }
      try timings.time("team, shared image") { try Render.team(width: width, height: height, team: team) == reference }
    }
    timings.print(title: "Mandelbrot render, \(width) × \(height), \(pool.workerCount) workers")
    try timings.check("pool, [UInt8] rows", against: "pool, Data rows", minimum: minRatioToData)
    try timings.check("team, shared image", against: "threads", minimum: nil)
    try timings.check("pool, [UInt8] rows", against: "threads", minimum: minRatioToThreads)
  }
}

RenderCommand.main()
