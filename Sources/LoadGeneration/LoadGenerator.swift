import Foundation
import Multiprocessing
import Scheduler

#if canImport(Glibc)
  import Glibc
#endif

/// Holds chosen CPUs at a chosen load: one worker process per placement slot (by default per
/// logical CPU), pinned to it, that works
/// for part of every short period and sleeps for the rest (a duty cycle), correcting each
/// period by the CPU time it actually got in the ones before.
///
/// ```swift
/// let generator = try LoadGenerator(cpus: [0, 1], profile: .constant(0.5), duration: .seconds(10))
/// try generator.start()
/// while !generator.isDone {
///   sleep(1)
///   print(generator.sample().map(\.operations))   // each worker's work so far
/// }
/// generator.stop()
/// ```
///
/// Workers die with this process (`PR_SET_PDEATHSIG`), even if it is SIGKILLed.
public final class LoadGenerator: @unchecked Sendable {
  // @unchecked: the workers list is written by start and stop, which the owner calls in
  // turn; the statistics live in shared memory and are read and written atomically.

  /// One worker's state as last published.
  public struct Sample: Sendable, Equatable {
    /// The CPU the worker holds.
    public let cpu: Int
    /// The worker's process id (0 before it published anything).
    public let pid: Int32
    /// The CPU time the worker has used since it started.
    public let cpuTime: Duration
    /// Quanta of work done since it started.
    public let operations: Int
    /// The target load of its latest period (0…1).
    public let target: Double
    /// The worker process's user CPU time, as of its latest period's end.
    public var userTime: Duration = .zero
    /// The worker process's system CPU time, as of its latest period's end.
    public var systemTime: Duration = .zero
    /// The worker process's largest resident set so far, in kilobytes.
    public var maxResidentKilobytes = 0
  }

  /// The slots held, one worker each.
  public let placement: Placement
  /// The CPUs held, one worker each (each slot's first CPU).
  public var cpus: [Int] { placement.slots.map { $0.cpus.indices[0] } }
  /// How the target load changes over the run.
  public let profile: LoadProfile
  /// How long the run lasts; nil until stopped.
  public let duration: Duration?
  /// The work done while busy.
  public let method: LoadMethod
  /// The duty-cycle period.
  public let period: Duration

  private let statistics: SharedMemory
  private let stopEvent: Event
  private var workers: [Multiprocessing.Process] = []
  private var startedAt: ContinuousClock.Instant?
  private static let lineSize = 64

  /// A generator for `cpus` (operating-system indices): one worker on each.
  ///
  /// - Throws: ``LoadError/noCPUs`` for an empty list, or what
  ///   ``init(placement:profile:duration:method:period:)`` throws.
  public convenience init(
    cpus: [Int], profile: LoadProfile, duration: Duration? = nil, method: LoadMethod = .monteCarlo,
    period: Duration = .milliseconds(100)
  ) throws {
    guard !cpus.isEmpty else { throw LoadError.noCPUs }
    try self.init(placement: .cpus(cpus), profile: profile, duration: duration, method: method, period: period)
  }

  /// A generator with one worker per slot of `placement` on this machine (resolved once, here).
  ///
  /// - Throws: ``LoadError/profileNeedsDuration(_:)``,
  ///   ``LoadError/invalidPeriod(_:)`` for a period outside 1 ms…1 s,
  ///   ``LoadError/invalidDuration(_:)`` for a zero or negative duration,
  ///   a `SchedulerError` for a bad placement (a CPU this process may not use), or a
  ///   shared-memory error.
  public init(
    placement: PlacementPolicy = .logicalCPUs, profile: LoadProfile, duration: Duration? = nil,
    method: LoadMethod = .monteCarlo, period: Duration = .milliseconds(100)
  ) throws {
    try Self.check(profile: profile, duration: duration, period: period)
    self.placement = try Topology.current().placement(placement)
    self.profile = profile
    self.duration = duration
    self.method = method
    self.period = period
    statistics = try SharedMemory(size: Self.lineSize * self.placement.count)
    stopEvent = try Event()
  }

  deinit {
    stop()
  }

  /// Throws unless a generator can run `profile` for `duration` with `period`.
  ///
  /// - Throws: ``LoadError/profileNeedsDuration(_:)``, ``LoadError/invalidDuration(_:)`` for
  ///   a zero or negative duration, ``LoadError/invalidPeriod(_:)`` for a period outside
  ///   1 ms…1 s.
  public static func check(profile: LoadProfile, duration: Duration?, period: Duration) throws(LoadError) {
    if profile.needsDuration, duration == nil { throw .profileNeedsDuration(profile.description) }
    if let duration, duration <= .zero { throw .invalidDuration(secondsText(duration)) }
    guard (.milliseconds(1)...(.seconds(1))).contains(period) else { throw .invalidPeriod(secondsText(period)) }
  }

  /// Starts one pinned worker per CPU.
  ///
  /// - Throws: ``LoadError/alreadyStarted`` on a second call, or a `ProcessError` when a
  ///   worker cannot start (those started are stopped).
  public func start() throws {
    guard workers.isEmpty, startedAt == nil else { throw LoadError.alreadyStarted }
    // One quantum here first, so that a forked worker finds the kernel's code paths ready.
    _ = method.quantum(0)
    let startNanoseconds = monotonicNanoseconds()
    startedAt = .now
    for (index, slot) in placement.slots.enumerated() {
      let line = statistics.baseAddress + index * Self.lineSize
      let cpu = slot.cpus.indices[0]
      let plan = LoadWorker(
        cpus: slot.cpus, line: line, stop: stopEvent, profile: profile, duration: duration, method: method,
        periodNanoseconds: period.nanoseconds, startNanoseconds: startNanoseconds)
      let process = Multiprocessing.Process(name: "mpload-cpu\(cpu)", daemon: true, startMethod: .fork) {
        try plan.run()
      }
      do {
        try process.start()
      } catch {
        stop()
        throw error
      }
      workers.append(process)
    }
  }

  /// Every worker's latest published state, in the order of ``cpus``.
  public func sample() -> [Sample] {
    cpus.enumerated().map { index, cpu in
      let line = statistics.baseAddress + index * Self.lineSize
      func field(_ field: LoadWorker.Field) -> Int { LoadWorker.word(field, of: line).value }
      return Sample(
        cpu: cpu, pid: Int32(truncatingIfNeeded: field(.pid)), cpuTime: .nanoseconds(field(.cpuNanoseconds)),
        operations: field(.operations), target: Double(field(.targetMillionths)) / 1e6,
        userTime: .microseconds(field(.userMicroseconds)), systemTime: .microseconds(field(.systemMicroseconds)),
        maxResidentKilobytes: field(.maxResidentKilobytes))
    }
  }

  /// The time since ``start()``.
  public var elapsed: Duration { startedAt.map { .now - $0 } ?? .zero }

  /// Whether every worker has ended (after the duration, or a stop).
  public var isDone: Bool { !workers.isEmpty && workers.allSatisfy { (try? $0.isAlive) == false } }

  /// The CPUs whose worker ended other than by finishing, with how it ended.
  public var failedWorkers: [(cpu: Int, status: TerminationStatus)] {
    zip(cpus, workers).compactMap { cpu, worker in
      guard let status = try? worker.terminationStatus, !status.isSuccess else { return nil }
      return (cpu, status)
    }
  }

  /// Stops every worker: they see the stop within a period's sleep or a quantum of work;
  /// any still running after `timeout` is killed. Returns once all have ended.
  public func stop(timeout: Duration = .seconds(1)) {
    stopEvent.set()
    let deadline = ContinuousClock.now + timeout
    for worker in workers {
      let left = deadline - .now
      if (try? worker.join(timeout: max(left, .zero))) == nil || (try? worker.isAlive) == true {
        try? worker.kill()
        _ = try? worker.join()
      }
    }
  }
}
