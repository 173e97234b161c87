import Foundation

/// How a load generator's target changes over a run. Loads are fractions from 0 to 1.
public enum LoadProfile: Sendable, Equatable, CustomStringConvertible {
  /// The same load throughout.
  case constant(Double)
  /// From one load to another, linearly over the run's duration.
  case ramp(from: Double, to: Double)
  /// A sine wave between two loads, one cycle per period, starting at the middle going up.
  case sine(period: Duration, low: Double, high: Double)
  /// Loads held in turn, for equal parts of the run's duration.
  case steps([Double])

  /// Parses the command-line form: `constant` (with `load`), `ramp:FROM-TO`,
  /// `sine:PERIOD:LOW-HIGH` or `steps:L1,L2,…`, loads in percent.
  ///
  /// - Throws: ``LoadError/invalidProfile(_:)`` or ``LoadError/invalidLoad(_:)``.
  public init(parsing text: String, load: Double) throws(LoadError) {
    let parts = text.split(separator: ":", maxSplits: 2).map(String.init)
    func range(_ text: String) throws(LoadError) -> (Double, Double) {
      let bounds = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
      guard bounds.count == 2 else { throw .invalidProfile(textForError) }
      return (try Self.percent(bounds[0]), try Self.percent(bounds[1]))
    }
    let textForError = text
    switch (parts.first ?? "", parts.count) {
    case ("constant", 1):
      guard (0...1).contains(load) else { throw .invalidLoad("\(load * 100)") }
      self = .constant(load)
    case ("ramp", 2):
      let (from, to) = try range(parts[1])
      self = .ramp(from: from, to: to)
    case ("sine", 3):
      guard let period = try? parseDuration(parts[1]), period > .zero else { throw .invalidProfile(text) }
      let (low, high) = try range(parts[2])
      guard low <= high else { throw .invalidProfile(text) }
      self = .sine(period: period, low: low, high: high)
    case ("steps", 2):
      let loads = try parts[1].split(separator: ",", omittingEmptySubsequences: false).map {
        (part: Substring) throws(LoadError) -> Double in try Self.percent(String(part))
      }
      guard !loads.isEmpty else { throw .invalidProfile(text) }
      self = .steps(loads)
    default:
      throw .invalidProfile(text)
    }
  }

  /// A percentage from 0 to 100 as a fraction.
  ///
  /// - Throws: ``LoadError/invalidLoad(_:)``.
  public static func percent(_ text: String) throws(LoadError) -> Double {
    guard let value = Double(text.trimmingCharacters(in: .whitespaces)), (0...100).contains(value) else {
      throw .invalidLoad(text)
    }
    return value / 100
  }

  /// Whether the profile spreads over the run, and so needs a duration.
  public var needsDuration: Bool {
    switch self {
    case .ramp, .steps: true
    case .constant, .sine: false
    }
  }

  /// The target load `elapsed` into a run of `duration` (nil: no end).
  public func target(at elapsed: Duration, of duration: Duration?) -> Double {
    let progress = duration.map { min(1, max(0, elapsed / $0)) } ?? 0
    switch self {
    case .constant(let load):
      return load
    case .ramp(let from, let to):
      return from + (to - from) * progress
    case .sine(let period, let low, let high):
      let phase = (elapsed / period).truncatingRemainder(dividingBy: 1)
      return low + (high - low) * (1 + sin(2 * .pi * phase)) / 2
    case .steps(let loads):
      return loads[min(loads.count - 1, Int(progress * Double(loads.count)))]
    }
  }

  /// The command-line form.
  public var description: String {
    func percent(_ load: Double) -> String { String(format: "%g", load * 100) }
    switch self {
    case .constant(let load): return "constant \(percent(load))%"
    case .ramp(let from, let to): return "ramp:\(percent(from))-\(percent(to))"
    case .sine(let period, let low, let high): return "sine:\(secondsText(period)):\(percent(low))-\(percent(high))"
    case .steps(let loads): return "steps:" + loads.map(percent).joined(separator: ",")
    }
  }
}

/// A duration as mpload's command line writes it, in seconds: `20s`, `0.1s`.
func secondsText(_ duration: Duration) -> String {
  String(format: "%gs", duration / .seconds(1))
}

/// Parses a duration such as `50us` (or `µs`), `500ms`, `10s`, `1.5m` or `2h`; a bare number is
/// seconds.
///
/// - Throws: ``LoadError/invalidDuration(_:)`` for a negative or unparsable one.
public func parseDuration(_ text: String) throws(LoadError) -> Duration {
  let trimmed = text.trimmingCharacters(in: .whitespaces)
  // The two-letter units first: `ms`, `us` and `ns` also end with `s`.
  let units: [(String, Double)] = [
    ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
  ]
  var number = trimmed
  var scale = 1.0
  for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
    number = String(trimmed.dropLast(suffix.count))
    scale = factor
    break
  }
  guard let value = Double(number), value.isFinite, value >= 0 else { throw .invalidDuration(text) }
  return .nanoseconds(Int64((value * scale * 1e9).rounded()))
}
