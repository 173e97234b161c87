import Foundation
import LoadGeneration

/// What mpload measured: per CPU and per sampling interval, the target, the load the worker
/// achieved (its CPU time over the interval) and the load `/proc/stat` saw on that CPU. Loads
/// are in percent, as the command line takes them; errors in percentage points.
struct LoadReport: Encodable {
  /// One CPU's summary, and its series of intervals.
  struct CPU: Encodable {
    let cpu: Int
    let pid: Int32
    let targetPercent: Double
    /// The worker's CPU time over wall time, per interval: mean and standard deviation.
    let achievedPercent: Double
    let achievedDeviationPercent: Double
    /// Achieved minus target, per interval: mean and standard deviation, in points.
    let errorPoints: Double
    let errorDeviationPoints: Double
    /// The CPU's load as `/proc/stat` counts it (every process on it), per interval.
    let procStatPercent: Double?
    let procStatDeviationPercent: Double?
    /// Quanta of work done (stress-ng's bogo ops), per second of the run and per second of
    /// the worker's CPU time (user + system).
    let operations: Int
    let operationsPerSecond: Double
    let operationsPerCPUSecond: Double
    /// The worker process's user and system CPU time (`getrusage`), and their sum over the
    /// run's wall time (stress-ng's "CPU used per instance").
    let userSeconds: Double
    let systemSeconds: Double
    let cpuUsedPercent: Double
    /// The worker's largest resident set (stress-ng's "RSS max").
    let maxResidentKilobytes: Int
    /// Every sampling interval, in order.
    let intervals: [IntervalReport]
  }

  /// One interval of one CPU, as the JSON report gives it.
  struct IntervalReport: Encodable {
    /// When the interval ended, in seconds into the run.
    let endSeconds: Double
    let targetPercent: Double
    let achievedPercent: Double
    let procStatPercent: Double?
  }

  /// One interval of one CPU (loads as fractions).
  struct Interval {
    var end: Duration
    var target: Double
    var achieved: Double
    var procStat: Double?
  }

  let method: String
  let profile: String
  let periodMilliseconds: Double
  var seconds = 0.0
  /// The signal that stopped the run early, if any.
  var interruptedBy: String?
  var cpus: [CPU] = []
  /// Workers that died, by CPU, with how they ended.
  var failedWorkers: [String] = []
  /// Every worker together, as stress-ng's `--metrics` line for the stressor.
  var totals: Totals?

  /// The sums over every worker (the largest resident set: the largest of any).
  struct Totals: Encodable {
    let instances: Int
    let operations: Int
    let operationsPerSecond: Double
    let operationsPerCPUSecond: Double
    let userSeconds: Double
    let systemSeconds: Double
    /// User + system time over wall time, per instance.
    let cpuUsedPerInstancePercent: Double
    let maxResidentKilobytes: Int
  }

  private var intervals: [Int: [Interval]] = [:]
  private var last:
    (samples: [LoadGenerator.Sample], proc: [Int: CPUTimes], at: ContinuousClock.Instant, elapsed: Duration)?

  private enum CodingKeys: String, CodingKey {
    case method, profile, periodMilliseconds, seconds, interruptedBy, cpus, failedWorkers, totals
  }

  private let loadProfile: LoadProfile
  private let duration: Duration?

  init(method: LoadMethod, profile: LoadProfile, duration: Duration?, period: Duration) {
    self.method = method.rawValue
    self.profile = profile.description
    loadProfile = profile
    self.duration = duration
    periodMilliseconds = period / .milliseconds(1)
  }

  /// Records the state `elapsed` into the run; from the second call on, returns the
  /// interval since the last one per CPU (in the order of the samples).
  mutating func record(_ samples: [LoadGenerator.Sample], at elapsed: Duration) -> [Interval]? {
    let now = ContinuousClock.now
    let proc = (try? CPUTimes.read()) ?? [:]
    defer { last = (samples, proc, now, elapsed) }
    guard let last else { return nil }
    let wall = (now - last.at) / .nanoseconds(1)
    guard wall > 0 else { return nil }
    let target = meanTarget(from: last.elapsed, to: elapsed)
    var result: [Interval] = []
    for (sample, before) in zip(samples, last.samples) {
      let used = (sample.cpuTime - before.cpuTime) / .nanoseconds(1)
      let outside = proc[sample.cpu].flatMap { current in last.proc[sample.cpu].flatMap { current.load(since: $0) } }
      let interval = Interval(end: elapsed, target: target, achieved: used / wall, procStat: outside)
      intervals[sample.cpu, default: []].append(interval)
      result.append(interval)
    }
    return result
  }

  /// The profile's mean target between two points of the run (sampled every millisecond).
  func meanTarget(from start: Duration, to end: Duration) -> Double {
    let steps = max(1, Int((end - start) / .milliseconds(1)))
    let step = (end - start) / steps
    return (0..<steps).reduce(0) { $0 + loadProfile.target(at: start + step * (Double($1) + 0.5), of: duration) }
      / Double(steps)
  }

  /// Summarises the intervals and the final samples.
  mutating func finish(_ samples: [LoadGenerator.Sample], elapsed: Duration) {
    seconds = elapsed / .seconds(1)
    cpus = samples.map { sample in
      let cpuSeconds = (sample.userTime + sample.systemTime) / .seconds(1)
      let recorded = intervals[sample.cpu] ?? []
      let achieved = Self.meanAndDeviation(recorded.map(\.achieved))
      let error = Self.meanAndDeviation(recorded.map { $0.achieved - $0.target })
      let outside = recorded.compactMap(\.procStat)
      let proc = outside.isEmpty ? nil : Self.meanAndDeviation(outside)
      return CPU(
        cpu: sample.cpu, pid: sample.pid, targetPercent: Self.meanAndDeviation(recorded.map(\.target)).mean * 100,
        achievedPercent: achieved.mean * 100, achievedDeviationPercent: achieved.deviation * 100,
        errorPoints: error.mean * 100, errorDeviationPoints: error.deviation * 100,
        procStatPercent: proc.map { $0.mean * 100 }, procStatDeviationPercent: proc.map { $0.deviation * 100 },
        operations: sample.operations, operationsPerSecond: seconds > 0 ? Double(sample.operations) / seconds : 0,
        operationsPerCPUSecond: cpuSeconds > 0 ? Double(sample.operations) / cpuSeconds : 0,
        userSeconds: sample.userTime / .seconds(1), systemSeconds: sample.systemTime / .seconds(1),
        cpuUsedPercent: seconds > 0 ? cpuSeconds / seconds * 100 : 0,
        maxResidentKilobytes: sample.maxResidentKilobytes,
        intervals: recorded.map {
          IntervalReport(
            endSeconds: $0.end / .seconds(1), targetPercent: $0.target * 100, achievedPercent: $0.achieved * 100,
            procStatPercent: $0.procStat.map { $0 * 100 })
        })
    }
    let operations = cpus.reduce(0) { $0 + $1.operations }
    let user = cpus.reduce(0) { $0 + $1.userSeconds }
    let system = cpus.reduce(0) { $0 + $1.systemSeconds }
    let perInstance = seconds > 0 && !cpus.isEmpty ? (user + system) / seconds / Double(cpus.count) * 100 : 0
    totals = Totals(
      instances: cpus.count, operations: operations,
      operationsPerSecond: seconds > 0 ? Double(operations) / seconds : 0,
      operationsPerCPUSecond: user + system > 0 ? Double(operations) / (user + system) : 0, userSeconds: user,
      systemSeconds: system, cpuUsedPerInstancePercent: perInstance,
      maxResidentKilobytes: cpus.map(\.maxResidentKilobytes).max() ?? 0)
  }

  static func meanAndDeviation(_ values: [Double]) -> (mean: Double, deviation: Double) {
    guard !values.isEmpty else { return (0, 0) }
    let mean = values.reduce(0, +) / Double(values.count)
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
    return (mean, variance.squareRoot())
  }

  /// Prints the report as a table.
  func printTable() {
    let ending = interruptedBy.map { ", stopped by \($0)" } ?? ""
    print(
      String(
        format: "mpload: %.1f s, %@, method %@, period %g ms%@", seconds, profile, method, periodMilliseconds, ending))
    print("  CPU  target   achieved (± sd)   error pp (± sd)   /proc/stat (± sd)       operations      ops/s")
    for cpu in cpus {
      let proc =
        cpu.procStatPercent.map { String(format: "%6.1f%% (± %4.1f)", $0, cpu.procStatDeviationPercent ?? 0) }
        ?? "      n/a         "
      print(
        String(
          format: "  %3d  %5.1f%%  %6.1f%% (± %4.1f)  %+6.2f (± %4.2f)   %@  %15d  %9.0f", cpu.cpu, cpu.targetPercent,
          cpu.achievedPercent, cpu.achievedDeviationPercent, cpu.errorPoints, cpu.errorDeviationPoints, proc,
          cpu.operations, cpu.operationsPerSecond))
    }
    for failure in failedWorkers { print("  worker died: \(failure)") }
    guard let totals else { return }
    print("  metrics (as stress-ng --metrics):")
    print(
      "  instances  bogo ops  real s   usr s   sys s  bogo ops/s real  bogo ops/s usr+sys  CPU/instance  RSS max")
    print(
      String(
        format: "  %9d  %8d  %6.2f  %6.2f  %6.2f  %15.1f  %18.1f  %11.1f%%  %5d KB", totals.instances,
        totals.operations, seconds, totals.userSeconds, totals.systemSeconds, totals.operationsPerSecond,
        totals.operationsPerCPUSecond, totals.cpuUsedPerInstancePercent, totals.maxResidentKilobytes))
  }
}
