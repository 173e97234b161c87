import ArgumentParser
import Dispatch
import Foundation
import LoadGeneration
import Multiprocessing
import Scheduler
import ToolSupport

#if canImport(Glibc)
  import Glibc
#endif

/// The CPU load generator: holds chosen CPUs at a chosen load, measured and corrected.
@main
struct MPLoad: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mpload",
    abstract: "Hold chosen CPUs at a chosen load, like stress-ng --cpu-load, but measured and corrected.",
    // ArgumentParser does not wrap the usage line it builds: this one fits 80 columns.
    usage: """
      mpload [--cpus <cpus>] [--load <load> | --profile <profile>] [--duration <duration>]
             [--method <method>] [--period <period>] [--interval <interval>] [--json]
             [--output <output>]
      """,
    discussion: """
      One worker process per CPU, pinned to it, works for part of every period and sleeps for \
      the rest; each period is corrected by the CPU time the worker actually got. On a terminal \
      a live display shows each CPU's target, achieved load (the worker's CPU time), the load \
      /proc/stat sees and the work rate; at the end (or on SIGINT/SIGTERM, within a second) a \
      report.

      Examples:
        mpload --cpus physical --load 50 --duration 30s
        mpload --cpus 0-1 --profile sine:20s:20-80 --duration 2m --json
      """,
    version: swiftMultiprocessingVersion
  )

  @Option(help: "CPUs to load: all, physical (one per core), or a list such as 0-3,8.")
  var cpus = "all"

  @Option(parsing: .unconditional, help: "Target load in percent (0–100) for the constant profile (default: 100).")
  var load: String?

  @Option(
    parsing: .unconditional,
    help: "How long to run (500ms, 30s, 2m, 1h; a bare number is seconds). Default: until stopped.")
  var duration: String?

  @Option(help: "The work: \(LoadMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
  var method = LoadMethod.monteCarlo.rawValue

  @Option(help: "constant, ramp:FROM-TO, sine:PERIOD:LOW-HIGH or steps:L1,L2,… (loads in percent).")
  var profile = "constant"

  @Option(parsing: .unconditional, help: "The duty-cycle period (1ms–1s).")
  var period = "100ms"

  @Option(parsing: .unconditional, help: "How often to sample and refresh the display.")
  var interval = "1s"

  @Flag(help: "Print the report as JSON.")
  var json = false

  @Option(
    help: "Also write the report to this file: YAML if it ends in .yaml or .yml (as stress-ng --yaml), else JSON.")
  var output: String?

  /// The parsed command line.
  struct Settings {
    var placement: Placement
    var profile: LoadProfile
    var duration: Duration?
    var method: LoadMethod
    var period: Duration
    var interval: Duration
  }

  func settings() throws -> Settings {
    do {
      let loadValue = try LoadProfile.percent(load ?? "100")
      let profile = try LoadProfile(parsing: profile, load: loadValue)
      if let load, profile != .constant(loadValue) {
        throw LoadError.loadWithProfile(load: load, profile: self.profile)
      }
      let duration = try duration.map(parseDuration)
      guard let period = try? parseDuration(period) else { throw LoadError.invalidPeriod(self.period) }
      try LoadGenerator.check(profile: profile, duration: duration, period: period)
      guard let interval = try? parseDuration(interval), interval >= .milliseconds(100) else {
        throw LoadError.invalidInterval(self.interval)
      }
      return Settings(
        placement: try Self.placement(cpus), profile: profile, duration: duration,
        method: try LoadMethod(parsing: method),
        period: period, interval: interval)
    } catch let error as LoadError {
      throw ValidationError(error.description)
    }
  }

  /// The placement `--cpus` names, resolved once on this machine (the list parsed, and
  /// checked, by Scheduler).
  static func placement(_ text: String) throws -> Placement {
    let policy: PlacementPolicy
    switch text {
    case "all": policy = .logicalCPUs
    case "physical": policy = .physicalCores
    default:
      guard let parsed = try? PlacementPolicy(parsing: "cpus:\(text)") else {
        throw ValidationError("invalid CPU list '\(text)': use all, physical or a list such as 0-3,8")
      }
      policy = parsed
    }
    do { return try Topology.current().placement(policy) } catch { throw ValidationError("\(error)") }
  }

  func validate() throws {
    _ = try settings()
    if let output { try OutputPath.checkWritable(output, option: "--output") }
  }

  func run() throws {
    let settings = try settings()
    // A launcher's blocked signals are inherited (one started from a libdispatch worker
    // thread has SIGINT and SIGTERM blocked): start from none blocked. Signals are taken by a
    // dispatch source once the workers run; until then, and in the workers (forked with this
    // disposition), they are ignored.
    var none = sigset_t()
    sigemptyset(&none)
    pthread_sigmask(SIG_SETMASK, &none, nil)
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let generator = try LoadGenerator(
      placement: .slots(settings.placement.slots), profile: settings.profile, duration: settings.duration,
      method: settings.method,
      period: settings.period)
    try generator.start()

    let wake = DispatchSemaphore(value: 0)
    let received = SignalBox()
    let sources = [SIGINT, SIGTERM].map { number in
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler {
        received.set(number)
        wake.signal()
      }
      source.resume()
      return source
    }
    defer { sources.forEach { $0.cancel() } }

    var report = LoadReport(
      method: settings.method, profile: settings.profile, duration: settings.duration, period: settings.period)
    let display = LiveDisplay(enabled: isatty(STDOUT_FILENO) == 1 && !json)
    // The baseline once every worker runs its loop, so that no interval holds a start.
    let started = ContinuousClock.now
    while generator.sample().contains(where: { $0.pid == 0 }), ContinuousClock.now - started < .seconds(2) {
      usleep(1000)
    }
    _ = report.record(generator.sample(), at: generator.elapsed)
    while true {
      var next = settings.interval
      if let duration = settings.duration { next = min(next, max(duration - generator.elapsed, .zero)) }
      let deadline = DispatchTime.now() + .nanoseconds(Int(next / .nanoseconds(1)))
      if wake.wait(timeout: deadline) == .success { break }
      let samples = generator.sample()
      let elapsed = generator.elapsed
      if let intervals = report.record(samples, at: elapsed) {
        display.show(samples, intervals, elapsed: elapsed, duration: settings.duration)
      }
      // A wait may end a few milliseconds short of the duration: what is left is too little
      // to be an interval of its own (a 5 ms tail interval read 41 % from a handful of ticks).
      if let duration = settings.duration, duration - generator.elapsed < settings.interval / 20 { break }
      if generator.isDone { break }
    }
    let final = generator.sample()
    let elapsed = generator.elapsed
    generator.stop()
    display.clear()
    report.interruptedBy = received.name
    report.failedWorkers = generator.failedWorkers.map { cpu, status in "CPU \(cpu): \(status)" }
    report.finish(final, elapsed: elapsed)
    if json {
      print(String(decoding: try ReportFormat.json.encode(report), as: UTF8.self))
    } else {
      report.printTable()
    }
    if let output {
      do {
        try ReportFormat(path: output).encode(report).write(to: URL(fileURLWithPath: output))
      } catch {
        FileHandle.standardError.write(Data("mpload: cannot write \(output): \(error.localizedDescription)\n".utf8))
        throw ExitCode.failure
      }
    }
    if !report.failedWorkers.isEmpty { throw ExitCode(2) }
  }
}

/// The signal that stopped the run, set from the signal source's queue.
final class SignalBox: @unchecked Sendable {
  // @unchecked: guarded by the lock.
  private let lock = NSLock()
  private var number: Int32?

  func set(_ signal: Int32) { lock.withLock { number = number ?? signal } }

  /// SIGINT or SIGTERM, if one came.
  var name: String? {
    lock.withLock { number.map { $0 == SIGINT ? "SIGINT" : "SIGTERM" } }
  }
}
