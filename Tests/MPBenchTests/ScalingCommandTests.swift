import Foundation
import Testing

@testable import mpbench

/// `mpbench scaling` end to end, on small sizes: every mode runs and is checked, the table's
/// arithmetic holds, the chart draws every line, Python's checksums match ours, and bad
/// input is refused.
extension MachineWideTests {
  @Suite(.timeLimit(.minutes(3))) struct ScalingCommandTests {
    struct Report: Decodable {
      struct Row: Decodable {
        let kernel: String
        let mode: String
        let workers: Int
        let median: Double
        let min: Double
        let max: Double
        let speedup: Double
        let efficiency: Double
      }
      struct Python: Decodable {
        struct Entry: Decodable {
          let kernel: String
          let mode: String
          let ratio: Double
        }
        let entries: [Entry]
      }
      struct OpenMPRatio: Decodable {
        let kernel: String
        let mode: String
        let workers: Int
        let ratio: Double
      }
      let rows: [Row]
      let python: Python?
      let openmpRatios: [OpenMPRatio]?
    }

    static let cores = Int(
      runExecutableLines("mpbench", ["topology", "--json"]).filter { $0.contains("\"core\"") }.count)
    var counts: [Int] { Self.cores >= 2 ? [1, 2] : [1] }

    @Test func everyModeRunsEveryKernelAndIsChecked() throws {
      let run = try runExecutable(
        "mpbench",
        [
          "scaling", "--units", "4", "--scale", "0.01", "--repetitions", "2", "--warmups", "0", "--workers",
          counts.map(String.init).joined(separator: ","), "--json",
        ])
      #expect(run.status == 0, "\(run.stderr)")
      #expect(run.stderr.isEmpty, "no progress line when standard error is not a terminal")
      let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
      for kernel in KernelKind.allCases {
        let rows = report.rows.filter { $0.kernel == kernel.rawValue }
        let expected = ScalingMode.allCases.filter { $0 != .serial && $0.supports(kernel) }.count * counts.count + 1
        #expect(rows.count == expected, "\(kernel.rawValue)")
        #expect(rows.first { $0.mode == "serial" }?.speedup == 1)
      }
      for row in report.rows {
        #expect(row.min <= row.median && row.median <= row.max)
        #expect(abs(row.efficiency - row.speedup / Double(row.workers)) < 1e-9)
      }
      // Spawned and fork-server workers share no memory with the parent: no contended rows.
      #expect(!report.rows.contains { $0.kernel == "contended-packed" && $0.mode == "pool-spawn" })
    }

    @Test func aWrongResultFailsTheRun() {
      let workload = Workload(.triad, units: 3, parameter: 8192)
      #expect(throws: (any Error).self) { try workload.verify(12345, reference: nil, mode: "test") }
      let right = (0..<3).reduce(UInt64(0)) { $0 &+ workload.run($1) }
      #expect(throws: Never.self) { try workload.verify(right, reference: nil, mode: "test") }
      let counted = Workload(.contendedPadded, units: 2, parameter: 10)
      counted.prepare()
      _ = counted.run(0)
      // One unit of two ran: the counters hold 10, not 20.
      #expect(throws: (any Error).self) { try counted.verify(20, reference: nil, mode: "test") }
      let serial = Workload(.allocation, units: 2, parameter: 10)
      #expect(throws: (any Error).self) { try serial.verify(1, reference: 2, mode: "test") }
    }

    @Test func theChartDrawsEveryModeAndKernel() throws {
      let path = NSTemporaryDirectory() + "mpbench-chart-\(UUID().uuidString).svg"
      defer { try? FileManager.default.removeItem(atPath: path) }
      let run = try runExecutable(
        "mpbench",
        [
          "scaling", "--kernels", "monte-carlo", "imbalanced", "--modes", "pool-fork", "threads-pinned", "--units", "4",
          "--scale", "0.01", "--repetitions", "1", "--workers", counts.map(String.init).joined(separator: ","),
          "--plot",
          path,
        ])
      #expect(run.status == 0, "\(run.stderr)")
      #expect(run.stdout.contains("speedup"))
      let svg = try String(contentsOfFile: path, encoding: .utf8)
      #expect(svg.hasPrefix("<svg"))
      // Lines from three worker counts on; bars below (ScalingChartTests checks both forms).
      let drawn = counts.count >= 3 ? "<polyline" : "</title></rect>"
      #expect(svg.components(separatedBy: drawn).count - 1 == 4)
      #expect(svg.contains(">monte-carlo<") && svg.contains(">imbalanced<"))
      #expect(svg.contains(">pool-fork<") && svg.contains(">threads-pinned<"))
    }

    /// The C/OpenMP reference runs beside the pool with the same units and size (its checksum
    /// checked against ours), and each mode's speedup is set over OpenMP's. Interleaved, each
    /// of the three blocks runs every mode once, and the rows gather all three runs.
    @Test func openMPRunsBesideThePool() throws {
      let source = repositoryPath("Scripts/openmp_reference.c")
      let workers = counts.map(String.init).joined(separator: ",")
      let run = try runExecutable(
        "mpbench",
        [
          "scaling", "--kernels", "monte-carlo", "imbalanced", "--modes", "pool-fork", "--units", "8", "--scale",
          "0.002", "--repetitions", "3", "--interleave", "3", "--warmups", "0", "--workers", workers,
          "--compare-openmp", "--openmp-source", source, "--json",
        ])
      #expect(run.status == 0, "\(run.stderr)")
      let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
      for kernel in ["monte-carlo", "imbalanced"] {
        let openmp = report.rows.filter { $0.kernel == kernel && $0.mode == "openmp-c" }
        #expect(openmp.map(\.workers) == counts)
        #expect(openmp.allSatisfy { $0.speedup > 0 && $0.min <= $0.median && $0.median <= $0.max })
        // One run per block: a row that kept a single block's run would have min == max.
        let rows = report.rows.filter { $0.kernel == kernel }
        #expect(rows.allSatisfy { $0.min < $0.max }, "\(rows)")
        for count in counts {
          let pool = try #require(
            report.rows.first { $0.kernel == kernel && $0.mode == "pool-fork" && $0.workers == count })
          let ratio = try #require(
            report.openmpRatios?.first { $0.kernel == kernel && $0.mode == "pool-fork" && $0.workers == count })
          let theirs = openmp.first { $0.workers == count }!
          #expect(abs(ratio.ratio - pool.speedup / theirs.speedup) < 1e-9)
        }
      }
      // A floor on the ratio fails the run when a mode is under it, and names the mode.
      for (floor, fails) in [("1000", true), ("0.001", false)] {
        let checked = try runExecutable(
          "mpbench",
          [
            "scaling", "--kernels", "monte-carlo", "--modes", "pool-fork", "--units", "4", "--scale", "0.002",
            "--repetitions", "1", "--warmups", "0", "--workers", "1", "--compare-openmp", "--openmp-source", source,
            "--min-openmp-ratio", floor,
          ])
        #expect(checked.status == (fails ? 1 : 0), "\(checked.stderr)")
        #expect(checked.stderr.contains("pool-fork × 1 on monte-carlo") == fails, "\(checked.stderr)")
        #expect(checked.stdout.contains("speedup ÷ OpenMP's speedup"))
      }
      let missing = try runExecutable(
        "mpbench", ["scaling", "--compare-openmp", "--openmp-source", "/nonexistent.c", "--units", "1"])
      #expect(missing.status != 0 && missing.stderr.contains("/nonexistent.c"), "\(missing.stderr)")
    }

    /// A reference built elsewhere (what `Scripts/scaling-bundle` carries to a machine without
    /// a C compiler) runs as the one built from source does; a missing one is named.
    @Test func aPrebuiltOpenMPReferenceRuns() throws {
      let source = repositoryPath("Scripts/openmp_reference.c")
      let built = NSTemporaryDirectory() + "openmp-reference-\(getpid())"
      defer { try? FileManager.default.removeItem(atPath: built) }
      let compile = Foundation.Process()
      compile.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      compile.arguments = ["cc", "-O2", "-fopenmp", "-o", built, source]
      try compile.run()
      compile.waitUntilExit()
      #expect(compile.terminationStatus == 0)
      let run = try runExecutable(
        "mpbench",
        [
          "scaling", "--kernels", "imbalanced", "--modes", "pool-fork", "--units", "4", "--scale", "0.002",
          "--repetitions", "1", "--warmups", "0", "--workers", "1", "--compare-openmp", "--openmp-executable", built,
        ])
      #expect(run.status == 0, "\(run.stderr)")
      #expect(run.stdout.contains("openmp-c") && run.stdout.contains("speedup ÷ OpenMP's speedup"), "\(run.stdout)")
      let missing = try runExecutable(
        "mpbench", ["scaling", "--compare-openmp", "--openmp-executable", "/nonexistent-openmp", "--units", "1"])
      #expect(missing.status != 0 && missing.stderr.contains("/nonexistent-openmp"), "\(missing.stderr)")
    }

    @Test func pythonAgreesOnEveryChecksum() throws {
      let script = repositoryPath("Scripts/mpbench_reference.py")
      let run = try runExecutable(
        "mpbench",
        [
          "scaling", "--kernels", "monte-carlo", "--modes", "serial", "--units", "2", "--scale", "0.01",
          "--repetitions", "1", "--compare-python", "--python-script", script, "--json",
        ])
      #expect(run.status == 0, "\(run.stderr)")
      let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
      let entries = report.python?.entries ?? []
      #expect(entries.count == 9)
      #expect(Set(entries.map(\.mode)) == ["serial", "pool", "threads"])
      #expect(entries.allSatisfy { $0.ratio > 0 })
    }

    @Test(arguments: [
      (["--workers", "0"], "--workers"), (["--workers", "999"], "offers"), (["--kernels", "nope"], "nope"),
      (["--repetitions", "0"], "--repetitions"), (["--modes", "pool-threads"], "pool-threads"),
      (["--spin-window", "soon"], "--spin-window"), (["--spin-window", "2s"], "up to 1s"),
      (["--interleave", "0"], "--interleave"), (["--repetitions", "2", "--interleave", "3"], "--interleave"),
      (["--min-openmp-ratio", "0.95"], "needs --compare-openmp"),
      (["--compare-openmp", "--min-openmp-ratio", "0"], "--min-openmp-ratio must be positive"),
      (
        [
          "--compare-python", "--python-script", "/nonexistent.py", "--kernels", "monte-carlo", "--modes", "serial",
          "--scale", "0.001", "--units", "1",
        ], "/nonexistent.py"
      ),
    ])
    func badInputIsRefused(arguments: [String], mentions: String) throws {
      let run = try runExecutable("mpbench", ["scaling"] + arguments)
      #expect(run.status != 0)
      #expect(run.stderr.contains(mentions), "\(run.stderr)")
    }
  }
}

/// The lines an executable prints (empty when it fails).
func runExecutableLines(_ name: String, _ arguments: [String]) -> [String] {
  ((try? runExecutable(name, arguments))?.stdout ?? "").split(separator: "\n").map(String.init)
}
