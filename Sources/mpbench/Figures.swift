import Foundation
import ToolSupport

/// Measured figures, each the statistics of repeated samples, printed as an aligned table
/// or as JSON.
struct Figures {
  /// One measured figure.
  struct Figure: Encodable {
    let name: String
    let unit: String
    let median: Double
    let min: Double
    let max: Double
  }

  private(set) var all: [Figure] = []

  /// Takes `repetitions` samples from `measure` and records their statistics as `name`.
  mutating func record(_ name: String, _ unit: String, repetitions: Int, _ measure: () throws -> Double) rethrows {
    record(name, unit, samples: try (0..<repetitions).map { _ in try measure() })
  }

  /// Records the statistics of `samples` as `name`.
  mutating func record(_ name: String, _ unit: String, samples: [Double]) {
    let stats = Statistics(samples)
    all.append(Figure(name: name, unit: unit, median: stats.median, min: stats.min, max: stats.max))
  }

  /// Prints the figures as JSON, or under `header` as a table with names padded to `width`.
  func print(json: Bool, header: String, width: Int, precision: Int = 2) throws {
    if json {
      Swift.print(try prettyJSON(all))
      return
    }
    Swift.print(header)
    let format = "%10.\(precision)f %-8@ (min %.\(precision)f, max %.\(precision)f)"
    for figure in all {
      let numbers = String(format: format, figure.median, figure.unit, figure.min, figure.max)
      Swift.print(figure.name.padding(toLength: width, withPad: " ", startingAt: 0) + numbers)
    }
  }
}
