import Foundation

/// The wall times of an example's versions of one job, timed in alternation so that each
/// sees the same spells of a noisy host, and the table that compares them with the first.
public struct Timings {
  /// The versions, the first being the one the others' speedups are measured against.
  public let versions: [String]
  /// Each version's wall times, in seconds.
  public private(set) var walls: [String: [Double]] = [:]

  /// Timings of `versions`, the first the baseline.
  public init(versions: [String]) {
    self.versions = versions
  }

  /// Times `run`, which returns whether its result is right, as one run of `version`.
  ///
  /// - Throws: ``WrongResult`` when the run's result is wrong, or what `run` throws.
  public mutating func time(_ version: String, _ run: () throws -> Bool) throws {
    let started = ContinuousClock.now
    let right = try run()
    let elapsed = ContinuousClock.now - started
    guard right else { throw WrongResult(version: version) }
    walls[version, default: []].append(
      Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds))
  }

  /// The median wall of `version`, in seconds.
  public func median(_ version: String) -> Double {
    Self.median(walls[version] ?? [])
  }

  static func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
  }

  /// The median of `version`'s speedup over `baseline`, run by run.
  public func ratio(_ version: String, over baseline: String) -> Double {
    median(baseline) / median(version)
  }

  /// The median of `version`'s run-by-run ratios to `other` (`other`'s wall over
  /// `version`'s, each pair timed back to back): above 1 when `version` is faster.
  public func pairedRatio(_ version: String, to other: String) -> Double {
    Self.median(zip(walls[other] ?? [], walls[version] ?? []).map { $0 / $1 })
  }

  /// Prints each version's median wall (and range) and speedup over the first.
  public func print(title: String) {
    Swift.print("\(title) (median of \(walls[versions[0]]?.count ?? 0), range in brackets)")
    for version in versions {
      let times = walls[version] ?? []
      let line = String(
        format: "  %@ %8.3f s [%.3f–%.3f]  speedup %.2f×", version.padding(toLength: 20, withPad: " ", startingAt: 0),
        median(version),
        times.min() ?? .nan, times.max() ?? .nan, ratio(version, over: versions[0]))
      Swift.print(line)
    }
  }

  /// Checks that `version` is at least `minimum` × as fast as `other`, run by run (nil: no
  /// check), and prints the ratio.
  ///
  /// - Throws: ``TooSlow`` when it is not.
  public func check(_ version: String, against other: String, minimum: Double?) throws {
    let ratio = pairedRatio(version, to: other)
    Swift.print(String(format: "  %@ / %@ (run by run): %.3f×", version, other, ratio))
    if let minimum, !(ratio >= minimum) {
      throw TooSlow(version: version, other: other, ratio: ratio, minimum: minimum)
    }
  }
}

/// A version ran slower, against another, than the minimum ratio asked for.
public struct TooSlow: Error, CustomStringConvertible {
  /// The version, the one it was set against, their ratio and the minimum.
  public let version: String, other: String, ratio: Double, minimum: Double
  /// Names both and the figures.
  public var description: String {
    String(format: "%@ ran at %.3f× of %@, under the minimum %.3f×", version, ratio, other, minimum)
  }
}

/// A version of an example computed something other than the serial version did.
public struct WrongResult: Error, CustomStringConvertible {
  /// The version whose result was wrong.
  public let version: String
  /// Names the version.
  public var description: String { "the \(version) version's result differs from the serial one" }
}
