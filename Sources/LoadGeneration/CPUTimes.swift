import Foundation

/// Per-CPU time counters from `/proc/stat`, the kernel's own accounting: how a CPU's load
/// looks from outside any process.
public struct CPUTimes: Sendable, Equatable {
  /// Clock ticks spent running something (user, nice, system, irq, softirq; guest time is
  /// inside user).
  public let busy: UInt64
  /// Clock ticks the CPU had, without the time the hypervisor stole from this guest.
  public let available: UInt64

  /// The counters of every CPU, by operating-system index.
  ///
  /// - Throws: when `/proc/stat` cannot be read.
  public static func read() throws -> [Int: CPUTimes] {
    // Read to its end: `String(contentsOfFile:)` stops at the first read of a /proc file (a
    // page), which on a machine of over ~60 CPUs leaves the last ones out.
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/stat"))
    defer { try? handle.close() }
    let text = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
    var times: [Int: CPUTimes] = [:]
    for line in text.split(separator: "\n") where line.hasPrefix("cpu") && !line.hasPrefix("cpu ") {
      let fields = line.split(separator: " ")
      guard let cpu = Int(fields[0].dropFirst(3)) else { continue }
      let values = fields.dropFirst().compactMap { UInt64($0) }
      guard values.count >= 8 else { continue }
      // user nice system idle iowait irq softirq steal [guest guest_nice]
      let busy = values[0] + values[1] + values[2] + values[5] + values[6]
      let idle = values[3] + values[4]
      times[cpu] = CPUTimes(busy: busy, available: busy + idle)
    }
    return times
  }

  /// The load between `earlier` and this reading: busy ticks over available ticks (0…1),
  /// nil when no tick passed.
  public func load(since earlier: CPUTimes) -> Double? {
    let available = self.available &- earlier.available
    guard available > 0 else { return nil }
    return Double(busy &- earlier.busy) / Double(available)
  }
}
