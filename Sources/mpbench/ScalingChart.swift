import ArgumentParser
import Foundation

/// The scaling suite drawn as SVG: one panel per kernel and the ideal (speedup = workers)
/// dashed. With three or more worker counts, speedup against workers, a line per mode; with
/// fewer (a 2-core machine), a bar per mode at the largest count: two-point lines of a dozen
/// modes lie on top of one another.
struct ScalingChart {
  let report: ScalingReport

  /// One colour per mode, none of them grey (the ideal line's colour).
  private static let colors = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#393b79", "#bcbd22", "#17becf",
    "#843c39",
  ]
  /// The C/OpenMP reference, when the run has it.
  private static let openmpColor = "#000000"
  private let panelWidth = 340.0
  private let panelHeight = 250.0
  private let margin = (left: 50.0, right: 15.0, top: 40.0, bottom: 40.0)
  private let columns = 3

  func svg() -> String {
    let kernels = report.kernels
    let modes = (ScalingMode.allCases.map(\.rawValue) + [ScalingReport.openmpMode])
      .filter { mode in report.rows.contains { $0.mode == mode } }
      .filter { $0 != ScalingMode.serial.rawValue }
    let rowsOfPanels = (kernels.count + columns - 1) / columns
    let legendHeight = Double((modes.count + 2) / 3) * 18 + 20
    let width = Double(columns) * panelWidth
    let height = 40 + Double(rowsOfPanels) * panelHeight + legendHeight
    var out = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
      font-family="sans-serif" font-size="11">
      <rect width="100%" height="100%" fill="white"/>
      <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">\(title) — \
      \(escape(report.machine))</text>

      """
    for (index, kernel) in kernels.enumerated() {
      let x = Double(index % columns) * panelWidth
      let y = 40 + Double(index / columns) * panelHeight
      out += usesBars ? barPanel(kernel, modes: modes, x: x, y: y) : panel(kernel, modes: modes, x: x, y: y)
    }
    let legendTop = 40 + Double(rowsOfPanels) * panelHeight + 10
    for (index, mode) in modes.enumerated() {
      let x = 20 + Double(index % 3) * (width / 3)
      let y = legendTop + Double(index / 3) * 18
      let swatch =
        usesBars
        ? "<rect x=\"\(x + 6)\" y=\"\(y - 6)\" width=\"12\" height=\"12\" fill=\"\(color(mode))\"/>"
        : "<line x1=\"\(x)\" y1=\"\(y)\" x2=\"\(x + 24)\" y2=\"\(y)\" stroke=\"\(color(mode))\" stroke-width=\"2.5\"/>"
      out += "\(swatch)\n<text x=\"\(x + 30)\" y=\"\(y + 4)\">\(mode)</text>\n"
    }
    let last = legendTop + Double((modes.count + 2) / 3) * 18
    out += """
      <line x1="20" y1="\(last)" x2="44" y2="\(last)" stroke="#999" stroke-dasharray="4 3"/>
      <text x="50" y="\(last + 4)">ideal (speedup = workers)</text>
      </svg>

      """
    return out
  }

  /// The worker counts measured beyond serial.
  private var workerCounts: [Int] {
    Array(Set(report.rows.filter { $0.mode != ScalingMode.serial.rawValue }.map(\.workers))).sorted()
  }

  private var title: String {
    usesBars
      ? "Speedup over a serial run with \(workerCounts.last ?? 1) workers" : "Speedup over a serial run against workers"
  }

  /// Bars when there are too few worker counts for lines to read.
  var usesBars: Bool { workerCounts.count < 3 }

  private func color(_ mode: String) -> String {
    guard let index = ScalingMode.allCases.firstIndex(where: { $0.rawValue == mode }) else { return Self.openmpColor }
    return Self.colors[index % Self.colors.count]
  }

  /// One kernel as bars: each mode's speedup at the largest worker count, the ideal dashed.
  private func barPanel(_ kernel: String, modes: [String], x: Double, y: Double) -> String {
    let workers = workerCounts.last ?? 1
    let rows = report.rows.filter { $0.kernel == kernel && $0.workers == workers }
    let bars = modes.compactMap { mode in rows.first { $0.mode == mode } }
    let maxSpeedup = max(Double(workers), bars.map(\.speedup).max() ?? 1) * 1.1
    let plotLeft = x + margin.left
    let plotRight = x + panelWidth - margin.right
    let plotTop = y + margin.top
    let plotBottom = y + panelHeight - margin.bottom
    func py(_ speedup: Double) -> Double { plotBottom - speedup / maxSpeedup * (plotBottom - plotTop) }
    var out = """
      <text x="\(x + panelWidth / 2)" y="\(y + 22)" text-anchor="middle" font-size="13">\(escape(kernel))</text>
      <rect x="\(plotLeft)" y="\(plotTop)" width="\(plotRight - plotLeft)" height="\(plotBottom - plotTop)" \
      fill="none" stroke="#444"/>
      <text x="\((plotLeft + plotRight) / 2)" y="\(plotBottom + 16)" text-anchor="middle">\(workers) \
      worker\(workers == 1 ? "" : "s"), one bar per mode</text>
      <text x="\(x + 14)" y="\((plotTop + plotBottom) / 2)" text-anchor="middle" \
      transform="rotate(-90 \(x + 14) \((plotTop + plotBottom) / 2))">speedup</text>

      """
    let step = maxSpeedup > 8 ? 2.0 : (maxSpeedup > 4 ? 1.0 : 0.5)
    for tick in stride(from: 0.0, through: maxSpeedup, by: step) {
      out += """
        <line x1="\(plotLeft)" y1="\(py(tick))" x2="\(plotRight)" y2="\(py(tick))" stroke="#eee"/>
        <text x="\(plotLeft - 5)" y="\(py(tick) + 4)" text-anchor="end">\(String(format: "%g", tick))</text>

        """
    }
    let slot = (plotRight - plotLeft) / Double(max(bars.count, 1))
    for (index, bar) in bars.enumerated() {
      let left = plotLeft + Double(index) * slot + slot * 0.15
      out += "<rect x=\"\(left)\" y=\"\(py(bar.speedup))\" width=\"\(slot * 0.7)\" "
      out += "height=\"\(plotBottom - py(bar.speedup))\" fill=\"\(color(bar.mode))\">"
      out += "<title>\(bar.mode) × \(workers): \(String(format: "%.2f", bar.speedup))×</title></rect>\n"
    }
    out += """
      <line x1="\(plotLeft)" y1="\(py(Double(workers)))" x2="\(plotRight)" y2="\(py(Double(workers)))" \
      stroke="#999" stroke-dasharray="4 3"/>

      """
    return out
  }

  private func panel(_ kernel: String, modes: [String], x: Double, y: Double) -> String {
    let rows = report.rows.filter { $0.kernel == kernel && $0.mode != ScalingMode.serial.rawValue }
    let maxWorkers = Double(rows.map(\.workers).max() ?? 1)
    let maxSpeedup = max(maxWorkers, rows.map(\.speedup).max() ?? 1) * 1.05
    let plotLeft = x + margin.left
    let plotRight = x + panelWidth - margin.right
    let plotTop = y + margin.top
    let plotBottom = y + panelHeight - margin.bottom
    func px(_ workers: Double) -> Double {
      maxWorkers <= 1
        ? (plotLeft + plotRight) / 2 : plotLeft + (workers - 1) / (maxWorkers - 1) * (plotRight - plotLeft)
    }
    func py(_ speedup: Double) -> Double { plotBottom - speedup / maxSpeedup * (plotBottom - plotTop) }
    var out = """
      <text x="\(x + panelWidth / 2)" y="\(y + 22)" text-anchor="middle" font-size="13">\(escape(kernel))</text>
      <rect x="\(plotLeft)" y="\(plotTop)" width="\(plotRight - plotLeft)" height="\(plotBottom - plotTop)" \
      fill="none" stroke="#444"/>
      <text x="\((plotLeft + plotRight) / 2)" y="\(plotBottom + 30)" text-anchor="middle">workers</text>
      <text x="\(x + 14)" y="\((plotTop + plotBottom) / 2)" text-anchor="middle" \
      transform="rotate(-90 \(x + 14) \((plotTop + plotBottom) / 2))">speedup</text>

      """
    let workerTicks = Array(Set(rows.map(\.workers))).sorted()
    for tick in workerTicks {
      out += "<text x=\"\(px(Double(tick)))\" y=\"\(plotBottom + 14)\" text-anchor=\"middle\">\(tick)</text>\n"
    }
    let step = maxSpeedup > 8 ? 2.0 : (maxSpeedup > 4 ? 1.0 : 0.5)
    for tick in stride(from: 0.0, through: maxSpeedup, by: step) {
      out += """
        <line x1="\(plotLeft)" y1="\(py(tick))" x2="\(plotRight)" y2="\(py(tick))" stroke="#eee"/>
        <text x="\(plotLeft - 5)" y="\(py(tick) + 4)" text-anchor="end">\(String(format: "%g", tick))</text>

        """
    }
    out += """
      <line x1="\(px(1))" y1="\(py(1))" x2="\(px(maxWorkers))" y2="\(py(maxWorkers))" stroke="#999" \
      stroke-dasharray="4 3"/>

      """
    for mode in modes {
      let points = rows.filter { $0.mode == mode }.sorted { $0.workers < $1.workers }
      guard !points.isEmpty else { continue }
      let path = points.map { "\(px(Double($0.workers))),\(py($0.speedup))" }.joined(separator: " ")
      out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color(mode))\" stroke-width=\"2\"/>\n"
      for point in points {
        out += "<circle cx=\"\(px(Double(point.workers)))\" cy=\"\(py(point.speedup))\" r=\"2.5\" "
        out += "fill=\"\(color(mode))\"><title>\(mode) × \(point.workers): \(String(format: "%.2f", point.speedup))×"
        out += "</title></circle>\n"
      }
    }
    return out
  }

  private func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;")
  }
}
