import Foundation
import LoadGeneration

/// The live view on a terminal: one line per CPU, redrawn in place every interval.
struct LiveDisplay {
  let enabled: Bool
  private let drawn = Counter()

  init(enabled: Bool) {
    self.enabled = enabled
  }

  /// Redraws the lines with the latest interval, `elapsed` into a run of `duration` (nil:
  /// until stopped).
  func show(
    _ samples: [LoadGenerator.Sample], _ intervals: [LoadReport.Interval], elapsed: Duration, duration: Duration?
  ) {
    guard enabled else { return }
    var text = drawn.value > 0 ? "\u{1B}[\(drawn.value)A" : ""
    text += "\u{1B}[K" + Self.progress(elapsed: elapsed, duration: duration) + "\n"
    text += "\u{1B}[K  CPU  target  achieved  /proc/stat      ops/s\n"
    for (sample, interval) in zip(samples, intervals) {
      let proc = interval.procStat.map { String(format: "%9.1f%%", $0 * 100) } ?? "       n/a"
      let rate = Double(sample.operations) / max(1e-9, sample.cpuTime / .seconds(1))
      text +=
        "\u{1B}[K"
        + String(
          format: "  %3d  %5.1f%%  %7.1f%%  %@  %9.0f\n", sample.cpu, interval.target * 100, interval.achieved * 100,
          proc, rate * interval.achieved)
    }
    FileHandle.standardOutput.write(Data(text.utf8))
    drawn.value = samples.count + 2
  }

  /// "12.0 s elapsed, 18.0 s left of 30.0 s", or "12.0 s elapsed (until stopped: Ctrl-C)".
  static func progress(elapsed: Duration, duration: Duration?) -> String {
    let seconds = elapsed / .seconds(1)
    guard let duration else { return String(format: "mpload: %.1f s elapsed (until stopped: Ctrl-C)", seconds) }
    let total = duration / .seconds(1)
    return String(format: "mpload: %.1f s elapsed, %.1f s left of %.1f s", seconds, max(0, total - seconds), total)
  }

  /// Removes the lines before the report.
  func clear() {
    guard enabled, drawn.value > 0 else { return }
    var text = "\u{1B}[\(drawn.value)A"
    for _ in 0..<drawn.value { text += "\u{1B}[K\n" }
    text += "\u{1B}[\(drawn.value)A"
    FileHandle.standardOutput.write(Data(text.utf8))
  }

  /// How many lines are on screen.
  private final class Counter: @unchecked Sendable {
    // @unchecked: used from the main thread only.
    var value = 0
  }
}
