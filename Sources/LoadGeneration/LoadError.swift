/// A load generator asked for something it cannot do; each case names the mistake.
public enum LoadError: Error, Equatable, CustomStringConvertible {
  /// A load outside 0…100 %.
  case invalidLoad(String)
  /// A profile that does not parse.
  case invalidProfile(String)
  /// A profile that spreads over the run (ramp, steps) without a duration.
  case profileNeedsDuration(String)
  /// A duration that is negative, zero where it must not be, or does not parse.
  case invalidDuration(String)
  /// A duty-cycle period outside 1 ms…1 s.
  case invalidPeriod(String)
  /// A sampling interval under 100 ms, or one that does not parse.
  case invalidInterval(String)
  /// A load given together with a profile that has loads of its own (all but constant).
  case loadWithProfile(load: String, profile: String)
  /// A method (kernel) the generator does not know.
  case unknownMethod(String)
  /// No CPU to load.
  case noCPUs
  /// `start()` on a generator that was already started: a generator runs once.
  case alreadyStarted

  /// What went wrong, in words.
  public var description: String {
    switch self {
    case .invalidLoad(let text): "invalid load '\(text)': give a percentage from 0 to 100"
    case .invalidProfile(let text):
      "invalid profile '\(text)': use constant, ramp:FROM-TO, sine:PERIOD:LOW-HIGH or steps:L1,L2,…"
    case .profileNeedsDuration(let text): "profile '\(text)' spreads over the run: give --duration"
    case .invalidDuration(let text): "invalid duration '\(text)': use a positive number with us, ms, s, m or h"
    case .invalidPeriod(let text): "invalid period '\(text)': give 1ms to 1s"
    case .invalidInterval(let text): "invalid interval '\(text)': sample every 100ms or more, as 100ms, 1s or 2s"
    case .loadWithProfile(let load, let profile):
      "--load \(load) only sets the constant profile's load: profile '\(profile)' carries its own loads"
    case .unknownMethod(let text):
      "unknown method '\(text)': use \(LoadMethod.allCases.map(\.rawValue).joined(separator: ", "))"
    case .noCPUs: "no CPU to load"
    case .alreadyStarted: "the load generator was already started: make a new one for another run"
    }
  }
}
