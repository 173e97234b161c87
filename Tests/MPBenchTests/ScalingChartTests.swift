import Testing

@testable import mpbench

/// The chart draws bars when lines would not read (fewer than three worker counts) and lines
/// otherwise, every mode in a colour of its own.
@Suite struct ScalingChartTests {
  static func report(workers: [Int], modes: [String] = ["threads-pinned", "pool-fork", ScalingReport.openmpMode])
    -> ScalingReport
  {
    var report = ScalingReport(machine: "test", units: 4, repetitions: 1, parameters: [:])
    for kernel in ["monte-carlo", "imbalanced"] {
      report.add(kernel, mode: "serial", workers: 1, units: 4, walls: [1.0], serial: 1.0)
      for mode in modes {
        for count in workers {
          report.add(kernel, mode: mode, workers: count, units: 4, walls: [1.0 / Double(count)], serial: 1.0)
        }
      }
    }
    return report
  }

  @Test func twoWorkerCountsGiveABarPerModeAndKernel() {
    let chart = ScalingChart(report: Self.report(workers: [1, 2]))
    #expect(chart.usesBars)
    let svg = chart.svg()
    #expect(svg.components(separatedBy: "<polyline").count == 1)
    // 3 modes × 2 kernels bars, each titled with the mode and its speedup at 2 workers.
    #expect(svg.components(separatedBy: "× 2: 2.00×</title></rect>").count - 1 == 6)
    #expect(svg.contains("openmp-c × 2"))
  }

  @Test func threeWorkerCountsGiveALinePerModeAndKernel() {
    let chart = ScalingChart(report: Self.report(workers: [1, 2, 4]))
    #expect(!chart.usesBars)
    #expect(chart.svg().components(separatedBy: "<polyline").count - 1 == 6)
  }

  @Test func everyModeHasItsOwnColourAndNoneIsTheIdealsGrey() {
    let modes = ScalingMode.allCases.map(\.rawValue).filter { $0 != "serial" } + [ScalingReport.openmpMode]
    let svg = ScalingChart(report: Self.report(workers: [1, 2], modes: modes)).svg()
    let fills = svg.components(separatedBy: "<rect x=").dropFirst().compactMap { bar -> String? in
      guard let range = bar.range(of: "fill=\"#") else { return nil }
      return String(bar[range.upperBound...].prefix(6))
    }
    let colours = Set(fills.filter { $0 != "ffffff" })
    #expect(colours.count == modes.count, "\(colours)")
    #expect(!colours.contains("999999") && !colours.contains("7f7f7f"))
  }
}
