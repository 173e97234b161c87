import Foundation
import Multiprocessing
import Scheduler
import SystemCalls

#if canImport(Glibc)
  import Glibc
#endif

/// One load generator worker: pinned to its CPU, it runs a duty cycle of work and sleep in
/// periods, publishing what it did to its line of shared memory.
struct LoadWorker: @unchecked Sendable {
  // @unchecked: `line` points into shared memory that outlives the worker, written only by
  // it with atomic stores.

  /// What a worker publishes on its line of shared memory (byte offsets).
  enum Field: Int {
    /// The worker's process id.
    case pid = 0
    /// The CPU time it has used, in nanoseconds.
    case cpuNanoseconds = 8
    /// The quanta of work it has done.
    case operations = 16
    /// Its current target load, in millionths.
    case targetMillionths = 24
    /// The user and system CPU time of the process (`getrusage`), in microseconds.
    case userMicroseconds = 32
    case systemMicroseconds = 40
    /// The process's largest resident set, in kilobytes.
    case maxResidentKilobytes = 48
  }

  /// Field `field` of the line at `line`.
  static func word(_ field: Field, of line: UnsafeMutableRawPointer) -> SharedWord {
    SharedWord(line + field.rawValue)
  }

  /// The slot's CPUs, which the worker is bound to.
  let cpus: CPUSet
  let line: UnsafeMutableRawPointer
  let stop: Event
  let profile: LoadProfile
  let duration: Duration?
  let method: LoadMethod
  let periodNanoseconds: Int
  /// The generator's start on the monotonic clock: every worker follows the same profile.
  let startNanoseconds: Int

  /// Runs until the duration is over or the generator stops.
  ///
  /// Each period the worker works until it has used `target × period` of CPU time plus what
  /// it still owes from earlier periods (time it was preempted, the last quantum's overrun),
  /// then sleeps to the period's end. Measuring CPU time rather than wall time is the
  /// feedback: whatever the worker did not get, it makes up in the next period.
  func run() throws {
    try Topology.bindCallingThread(to: cpus)
    SystemCall.setThreadName(Self.name(cpu: cpus.indices[0]))
    SystemCall.ignoreSignal(SIGINT)
    SystemCall.ignoreSignal(SIGTERM)
    Self.word(.pid, of: line).value = Int(getpid())
    let period = Double(periodNanoseconds)
    let cpuAtStart = clockNanoseconds(CLOCK_THREAD_CPUTIME_ID)
    var debt = 0.0
    var operations = 0
    var sink: UInt64 = 0
    while !stop.isSet {
      let periodStart = monotonicNanoseconds()
      let elapsed = Duration.nanoseconds(periodStart - startNanoseconds)
      if let duration, elapsed >= duration { break }
      // The target in the middle of the period: a ramp or a sine is then followed without lag.
      let target = profile.target(at: elapsed + .nanoseconds(periodNanoseconds / 2), of: duration)
      Self.word(.targetMillionths, of: line).value = Int((target * 1e6).rounded())
      let wanted = target * period + debt
      let budget = min(period, max(0, wanted))
      let cpuBefore = clockNanoseconds(CLOCK_THREAD_CPUTIME_ID)
      var used = 0
      // Published every millisecond of work as well as at the period's end, so that a sample
      // taken in the middle of a busy period (at 100 %, every period is busy to its end) sees
      // the work done so far rather than the state of the period before.
      var publishAt = Self.publishNanoseconds
      while Double(used) < budget {
        sink &+= method.quantum(operations)
        operations += 1
        used = clockNanoseconds(CLOCK_THREAD_CPUTIME_ID) - cpuBefore
        if used >= publishAt {
          publish(cpu: cpuBefore - cpuAtStart + used, operations: operations)
          publishAt = used + Self.publishNanoseconds
        }
        if monotonicNanoseconds() - periodStart >= periodNanoseconds { break }
      }
      debt = min(period, max(-period, wanted - Double(used)))
      publish(cpu: clockNanoseconds(CLOCK_THREAD_CPUTIME_ID) - cpuAtStart, operations: operations)
      publishResourceUsage()
      let rest = periodStart + periodNanoseconds - monotonicNanoseconds()
      if rest > 0 { _ = stop.wait(timeout: .nanoseconds(rest)) }
    }
    publishResourceUsage()
    // Keeps the work from being optimised away.
    if sink == 1 { Self.word(.operations, of: line).value = operations + 1 }
  }

  /// The worker's name in `ps` and `top`: the program's name and the CPU, as `mpload: cpu 3`,
  /// the program's name cut so that the whole fits the kernel's 15 bytes.
  static func name(cpu: Int, program: String = ProcessInfo.processInfo.processName) -> String {
    let suffix = ": cpu \(cpu)"
    return (String(program.utf8.prefix(max(0, 15 - suffix.utf8.count))) ?? "load") + suffix
  }

  /// How often a busy worker publishes its CPU time and operations.
  static let publishNanoseconds = 1_000_000

  /// Publishes the process's user and system time and largest resident set, once a period
  /// (a system call: not worth making every millisecond).
  private func publishResourceUsage() {
    let usage = SystemCall.ownResourceUsage()
    Self.word(.userMicroseconds, of: line).value = Int(usage.user / .microseconds(1))
    Self.word(.systemMicroseconds, of: line).value = Int(usage.system / .microseconds(1))
    Self.word(.maxResidentKilobytes, of: line).value = usage.maxResidentKilobytes
  }

  private func publish(cpu: Int, operations: Int) {
    Self.word(.cpuNanoseconds, of: line).value = cpu
    Self.word(.operations, of: line).value = operations
  }
}
