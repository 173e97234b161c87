import Foundation
import Testing
import Yams

#if canImport(Glibc)
  import Glibc
#endif

/// The tests that keep every CPU busy for seconds, one after another: run side by side,
/// `mpbench load`'s 100 % level and the scaling runs took a third of the CPU from mpload's 40 %
/// worker.
@Suite(.serialized) struct MachineWideTests {}

extension MachineWideTests {
  /// `mpload` end to end: the load seen from outside, signals, a killed mpload, bad input.
  @Suite(.timeLimit(.minutes(3))) struct MPLoadTests {
    struct Report: Decodable {
      struct CPU: Decodable {
        let cpu: Int
        let pid: Int32
        struct Interval: Decodable {
          let endSeconds: Double
          let targetPercent: Double
          let achievedPercent: Double
        }
        let achievedPercent: Double
        let targetPercent: Double
        let operations: Int
        let intervals: [Interval]
        let userSeconds: Double
        let systemSeconds: Double
        let cpuUsedPercent: Double
        let maxResidentKilobytes: Int
        let operationsPerCPUSecond: Double
      }
      struct Totals: Decodable {
        let instances: Int
        let operations: Int
        let cpuUsedPerInstancePercent: Double
      }
      let cpus: [CPU]
      let interruptedBy: String?
      let failedWorkers: [String]
      let totals: Totals
    }

    /// Starts mpload with `arguments`; stdout is collected by the returned pipe.
    func launch(_ arguments: [String]) throws -> (Foundation.Process, Pipe) {
      let process = Foundation.Process()
      process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("mpload")
      process.arguments = arguments
      let out = Pipe()
      process.standardOutput = out
      process.standardError = FileHandle.nullDevice
      try process.run()
      return (process, out)
    }

    /// The children of `pid`, once there are `count` of them (waits up to 3 s).
    func children(of pid: Int32, count: Int) -> [Int32] {
      for _ in 0..<300 {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        let pids = text.split(separator: " ").compactMap { Int32($0) }
        if pids.count >= count { return pids }
        usleep(10_000)
      }
      return []
    }

    /// User + system CPU time of a process in seconds, from `/proc/<pid>/stat`.
    func cpuSeconds(_ pid: Int32) -> Double? {
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { return nil }
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
      return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func wallSeconds(_ duration: Duration) -> Double {
      Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// CPU 0's idle ticks (idle and iowait) and all its ticks, from `/proc/stat`.
    func cpuZeroTicks() -> (idle: Double, total: Double) {
      let stat = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
      guard let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu0 ") }) else { return (0, 0) }
      let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
      guard fields.count >= 5 else { return (0, 0) }
      return (fields[3] + fields[4], fields.reduce(0, +))
    }

    /// Whether `pid` is a live process (a zombie is not).
    func isRunning(_ pid: Int32) -> Bool {
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { return false }
      let state = stat[stat.index(close, offsetBy: 2)]
      return state != "Z" && state != "X"
    }

    func report(_ pipe: Pipe) throws -> Report {
      try JSONDecoder().decode(Report.self, from: pipe.fileHandleForReading.readDataToEndOfFile())
    }

    @Test func theWorkersLoadSeenFromOutsideIsTheTarget() throws {
      let file = FileManager.default.temporaryDirectory.appendingPathComponent("mpload-\(getpid()).yaml").path
      defer { try? FileManager.default.removeItem(atPath: file) }
      let (process, out) = try launch(["--cpus", "0", "--load", "40", "--duration", "3s", "--json", "--output", file])
      let worker = try #require(children(of: process.processIdentifier, count: 1).first)
      usleep(700_000)
      let (cpu0, wall0, ticks0) = (cpuSeconds(worker), ContinuousClock.now, cpuZeroTicks())
      usleep(1_500_000)
      let (cpu1, wall1, ticks1) = (cpuSeconds(worker), ContinuousClock.now, cpuZeroTicks())
      // The suite's other tests run beside this one: when they left CPU 0 no idle time, the
      // worker could not have its 40 %, and its load says nothing about the generator.
      let idle = (ticks1.idle - ticks0.idle) / max(1, ticks1.total - ticks0.total)
      let load = ((cpu1 ?? 0) - (cpu0 ?? 0)) / wallSeconds(wall1 - wall0)
      // Only a shortfall is excused so: a worker over its target is wrong whatever else runs.
      let contended = idle < 0.05 && load < 0.40
      let report = try report(out)
      process.waitUntilExit()
      #expect(process.terminationStatus == 0)
      // Wide bounds: the suite's other tests share the machine (mpbench's load benchmark
      // measures the ±3 points).
      #expect(contended || abs(load - 0.40) < 0.10, "the worker used \(load * 100) % of its CPU (idle \(idle))")
      #expect(report.cpus.count == 1 && report.cpus[0].cpu == 0 && report.cpus[0].pid == worker)
      // Percent, as --load takes it.
      #expect(
        contended || abs(report.cpus[0].achievedPercent - 40) < 5
          || abs(report.cpus[0].achievedPercent - load * 100) < 3)
      #expect(abs(report.cpus[0].targetPercent - 40) < 1e-7)
      // The series: one interval a second (the default), in order, each at the target.
      let intervals = report.cpus[0].intervals
      #expect((2...3).contains(intervals.count), "\(intervals)")
      #expect(zip(intervals, intervals.dropFirst()).allSatisfy { $0.endSeconds < $1.endSeconds })
      #expect(intervals.allSatisfy { abs($0.targetPercent - 40) < 1e-7 && (0...100).contains($0.achievedPercent) })
      #expect(report.cpus[0].operations > 0)
      #expect(report.interruptedBy == nil)

      // stress-ng's metrics, from the worker's own getrusage: its CPU time as /proc saw it.
      let worker0 = report.cpus[0]
      #expect(contended || abs(worker0.cpuUsedPercent - 40) < 10, "\(worker0.cpuUsedPercent)")
      #expect(worker0.userSeconds > 0.5 && worker0.userSeconds + worker0.systemSeconds < 2.5)
      #expect(
        abs(worker0.operationsPerCPUSecond * (worker0.userSeconds + worker0.systemSeconds) - Double(worker0.operations))
          < 1)
      #expect((1_000..<1_000_000).contains(worker0.maxResidentKilobytes), "\(worker0.maxResidentKilobytes) KB")
      #expect(report.totals.instances == 1 && report.totals.operations == worker0.operations)
      #expect(abs(report.totals.cpuUsedPerInstancePercent - worker0.cpuUsedPercent) < 1e-9)
      // The same report in the YAML file.
      let yaml = try YAMLDecoder().decode(Report.self, from: String(contentsOfFile: file, encoding: .utf8))
      #expect(yaml.cpus[0].operations == worker0.operations && yaml.totals.instances == 1)
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func aSignalStopsEveryWorkerWithinASecondAndReports(signal: Int32) throws {
      let (process, out) = try launch(["--cpus", "all", "--load", "30", "--json"])
      let workers = children(of: process.processIdentifier, count: 1)
      #expect(!workers.isEmpty)
      usleep(300_000)
      let sent = ContinuousClock.now
      kill(process.processIdentifier, signal)
      let report = try report(out)
      process.waitUntilExit()
      #expect(ContinuousClock.now - sent < .milliseconds(1500))
      #expect(process.terminationStatus == 0)
      #expect(report.interruptedBy == (signal == SIGINT ? "SIGINT" : "SIGTERM"))
      #expect(report.failedWorkers.isEmpty)
      #expect(!report.cpus.isEmpty)
      #expect(workers.allSatisfy { !isRunning($0) })
    }

    @Test func aKilledMploadLeavesNoWorker() throws {
      let (process, _) = try launch(["--cpus", "all", "--load", "30"])
      let workers = children(of: process.processIdentifier, count: 1)
      #expect(!workers.isEmpty)
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      var gone = false
      for _ in 0..<100 where !gone {
        gone = workers.allSatisfy { !isRunning($0) }
        usleep(10_000)
      }
      #expect(gone, "workers \(workers) outlived mpload")
    }

    @Test(arguments: [
      (["--load", "150"], "150"), (["--load", "abc"], "abc"), (["--cpus", "4096"], "4096"),
      (["--cpus", "0-x"], "0-x"), (["--duration=-5s"], "-5s"), (["--duration", "soon"], "soon"),
      (["--method", "nope"], "nope"), (["--profile", "wave"], "wave"), (["--profile", "ramp:10-90"], "--duration"),
      (["--profile", "sine:0s:10-20", "--duration", "1s"], "sine:0s:10-20"), (["--period", "5s"], "5s"),
      // Negative values are values, so that the message names them, not "Missing value".
      (["--load", "-5"], "-5"), (["--duration", "-3s"], "-3s"), (["--interval", "-1s"], "-1s"),
      (["--interval", "0"], "invalid interval '0': sample every 100ms or more"),
      (["--load", "30", "--profile", "ramp:10-90", "--duration", "1s"], "profile 'ramp:10-90' carries its own loads"),
      (
        ["--output", "/nonexistent/dir/r.yaml"],
        "--output /nonexistent/dir/r.yaml: the directory /nonexistent/dir does not exist"
      ),
    ])
    func badInputIsAUsageError(arguments: [String], mentions: String) throws {
      let run = try runExecutable("mpload", arguments)
      #expect(run.status == 64, "\(run.stderr)")
      #expect(run.stderr.contains(mentions), "\(run.stderr)")
    }
  }

  /// `mpbench load`, the accuracy benchmark, on a short run.
  @Suite(.timeLimit(.minutes(3))) struct LoadBenchmarkTests {
    struct Level: Decodable {
      let target: Double
      let loads: [String: Double]
      let ownLoads: [String: Double]
      let foreignLoads: [String: Double]
      let worstError: Double
      let worstSystemError: Double
    }

    @Test func everyLevelIsMeasuredOnEveryCPU() throws {
      let run = try runExecutable("mpbench", ["load", "--seconds", "0.5", "--json"])
      // The suite's other tests run beside this one and take CPU from the generator: a miss is
      // allowed here, but only as the command's own verdict (status 1 and its message).
      #expect(
        run.status == 0 || (run.status == 1 && run.stderr.contains("missed its ±3-point target")), "\(run.stderr)")
      let levels = try JSONDecoder().decode([Level].self, from: Data(run.stdout.utf8))
      #expect(levels.map(\.target) == [0.25, 0.5, 0.75, 1])
      for level in levels {
        #expect(!level.loads.isEmpty && level.ownLoads.keys.sorted() == level.loads.keys.sorted())
        #expect(level.loads.values.allSatisfy { (0...1).contains($0) })
        #expect(level.worstError == level.ownLoads.values.map { abs($0 - level.target) * 100 }.max())
        #expect(level.worstSystemError == level.loads.values.map { abs($0 - level.target) * 100 }.max())
        for (cpu, load) in level.loads {
          #expect(level.foreignLoads[cpu] == max(0, load - level.ownLoads[cpu]!))
        }
      }
      #expect((run.status == 0) == levels.allSatisfy { $0.worstError <= 3 })
    }
  }
}
