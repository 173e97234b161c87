import ArgumentParser
import Foundation
import ToolSupport

/// A bound on one of a command's figures, given as `NAME=VALUE`: the figure whose name is
/// NAME, or the only one whose name contains it (case aside), and a value in its unit.
struct FigureBound: ExpressibleByArgument {
  /// The figure's name, or a part of it.
  let name: String
  /// The bound, in the figure's unit.
  let value: Double

  init?(argument: String) {
    guard let equals = argument.lastIndex(of: "="),
      let value = Double(argument[argument.index(after: equals)...].trimmingCharacters(in: .whitespaces)),
      value.isFinite
    else { return nil }
    name = argument[..<equals].trimmingCharacters(in: .whitespaces)
    guard !name.isEmpty else { return nil }
    self.value = value
  }

  /// The one figure of `figures` this bound is on.
  ///
  /// - Throws: a `LateUsageError` naming `option` when no figure, or more than one, has
  ///   such a name.
  func figure(in figures: [Figures.Figure], option: String) throws -> Figures.Figure {
    if let exact = figures.first(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }) { return exact }
    let matches = figures.filter { $0.name.localizedCaseInsensitiveContains(name) }
    guard matches.count == 1 else {
      let names = (matches.isEmpty ? figures : matches).map { "'\($0.name)'" }.joined(separator: ", ")
      throw LateUsageError(
        matches.isEmpty
          ? "\(option) '\(name)': no figure's name contains it (the figures: \(names))"
          : "\(option) '\(name)': \(matches.count) figures' names contain it (\(names)); give more of one")
    }
    return matches[0]
  }
}

/// `--max` and `--min`: bounds on a command's figures (their medians) that fail the run when
/// missed, so that a target can be checked where it is measured.
struct FigureBoundOptions: ParsableArguments {
  @Option(
    name: .customLong("max"),
    help: ArgumentHelp(
      "Fail when the median of the figure NAME names (its whole name, or a part only it has) is over VALUE, in its unit (repeatable).",
      valueName: "NAME=VALUE"))
  var maxima: [FigureBound] = []

  @Option(
    name: .customLong("min"),
    help: ArgumentHelp("Fail when that figure's median is under VALUE (repeatable).", valueName: "NAME=VALUE"))
  var minima: [FigureBound] = []

  /// Checks every bound against `figures`, after they were printed.
  ///
  /// - Throws: a `LateUsageError` for a bound that names no figure or several (before any
  ///   figure is checked), or a `BenchmarkFailure` that lists every bound missed.
  func check(_ figures: Figures) throws {
    let bounded =
      try maxima.map { (bound: $0, figure: try $0.figure(in: figures.all, option: "--max"), isMaximum: true) }
      + minima.map { (bound: $0, figure: try $0.figure(in: figures.all, option: "--min"), isMaximum: false) }
    let missed = bounded.compactMap { bound, figure, isMaximum -> String? in
      guard isMaximum ? figure.median > bound.value : figure.median < bound.value else { return nil }
      let (median, value) = (String(format: "%g", figure.median), String(format: "%g", bound.value))
      return "\(figure.name): \(median) \(figure.unit), \(isMaximum ? "over --max" : "under --min") \(value)"
    }
    guard missed.isEmpty else { throw BenchmarkFailure(missed.joined(separator: "\n")) }
  }
}
