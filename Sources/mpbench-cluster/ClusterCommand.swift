import ArgumentParser
import ComputeEngine
import ComputeEngineMPI
import Foundation
import Kernels
import Multiprocessing
import ToolSupport

/// `mpbench cluster`, run under mpirun: the pool across MPI ranks against the driver's local
/// pool and a serial run, its per-task overhead, and the raw MPI round trip.
struct ClusterCommand: ParsableCommand, RepeatedMeasurement {
  static let configuration = CommandConfiguration(
    // As users call it: mpbench runs this program for `mpbench cluster`.
    commandName: "mpbench cluster",
    abstract: "Time the pool across MPI ranks (run it under mpirun, one rank per node).",
    // ArgumentParser does not wrap the usage line it builds: this one fits 80 columns.
    usage: """
      mpirun [options] mpbench cluster [--repetitions <repetitions>] [--json]
             [--size <size>] [--workers-per-rank <workers-per-rank>]
             [--single-tasks <single-tasks>] [--many-tasks <many-tasks>]
             [--compare-mpi4py] [--python <python>]
             [--mpi4py-script <mpi4py-script>] [--lose-rank <rank>]
      """,
    discussion: """
      Every rank runs the command; rank 0 prints. The reference kernel runs serially, on \
      the driver's local pool and across every rank (checksums verified); trivial tasks \
      give the per-task overhead at chunk size 1 and with automatic chunks, beside the \
      round trip of an 8-byte MPI message between ranks 0 and 1. With --lose-rank, a last \
      map of the kernel loses that rank (it kills itself at its first unit), which the pool survives \
      under an MPI with ULFM (Open MPI 5's mpirun --with-ft ulfm); then a map on the survivors.
      """
  )

  @OptionGroup var measurement: RepetitionOptions<ClusterCommand>
  static let defaultRepetitions = 3
  var repetitions: Int { measurement.repetitions }
  @OptionGroup var output: OutputOptions
  var json: Bool { output.json }

  @Option(help: "Reference kernel size (default: native; py with --compare-mpi4py, as Python's takes 100× as long).")
  var size: MonteCarloPi.Size?

  /// The size the run uses.
  var kernelSize: MonteCarloPi.Size { size ?? (compareMpi4py ? .py : .native) }

  @Option(help: "Workers of each rank's local pool (default: one per physical core).")
  var workersPerRank: Int?

  @Option(help: "Trivial tasks for the per-task overhead at chunk size 1.")
  var singleTasks = 20_000

  @Option(help: "Trivial tasks for the per-task overhead with automatic chunks.")
  var manyTasks = 1_000_000

  @Flag(
    help: """
      Then run mpi4py.futures on the same kernel and ranks (Scripts/mpi4py_reference.py, under \
      a second mpirun with this one's transport settings) and print its figures beside ours.
      """)
  var compareMpi4py = false

  @Option(help: "The Python interpreter for --compare-mpi4py (one with mpi4py installed).")
  var python = "python3"

  @Option(help: "The mpi4py reference script for --compare-mpi4py.")
  var mpi4pyScript = "Scripts/mpi4py_reference.py"

  @Option(
    name: .customLong("lose-rank"),
    help: """
      Then lose this rank (1 or more) during one more map of the kernel, and time \
      the map beside the same map whole (needs mpirun --with-ft ulfm, Open MPI 5).
      """)
  var rankToLose: Int?

  func validate() throws {
    if let rankToLose, rankToLose < 1 {
      throw ValidationError(
        "--lose-rank must name a serving rank, 1 or more, not \(rankToLose): the driver's loss ends the job")
    }
    if let workersPerRank, workersPerRank < 1 {
      throw ValidationError("--workers-per-rank must be at least 1, not \(workersPerRank)")
    }
    guard singleTasks > 0 else { throw ValidationError("--single-tasks must be at least 1, not \(singleTasks)") }
    guard manyTasks > 0 else { throw ValidationError("--many-tasks must be at least 1, not \(manyTasks)") }
    // Refused before the benchmark runs, not after.
    if compareMpi4py, kernelSize == .nativeLong {
      throw ValidationError(
        "--compare-mpi4py takes --size test, py, py-long or native: the reference has no native-long")
    }
  }

  /// What `--json` prints.
  struct Report: Encodable {
    var ranks: Int
    var workersPerRank: [Int]
    var size: String
    var checksumOK: Bool
    var serialSeconds: Double
    var localPoolSeconds: Double
    var clusterSeconds: Double
    /// Over serial, in the same run.
    var speedup: Double
    var localSpeedup: Double
    var perTaskMicroseconds: PerTask
    var rawRoundTripMicroseconds: Double
    /// mpi4py.futures on the same kernel and ranks (`--compare-mpi4py`), and its time per
    /// task over ours.
    var mpi4py: Mpi4pyComparison.Report?
    var mpi4pyPerTaskRatio: PerTask?
    /// The map that lost a rank (`--lose-rank`).
    var rankLoss: RankLoss?

    struct PerTask: Codable {
      var chunkSize1: Double
      var automatic: Double
    }

    struct RankLoss: Encodable {
      /// The ranks lost, by their `MPI_COMM_WORLD` numbers.
      var lostRanks: [Int]
      var survivingRanks: [Int]
      /// The map that lost the rank, the same map whole just before, and the difference.
      var mapSeconds: Double
      var wholeMapSeconds: Double
      var extraSeconds: Double
      var rerunTasks: Int
      /// Its outputs' checksum, and that of a map on the survivors after it.
      var checksumOK: Bool
      var survivorsChecksumOK: Bool
    }
  }

  /// Inputs from here on are units of the kernel (the input minus this) in the map that loses
  /// a rank: a worker of that rank kills the rank as it ends the first it gets.
  static let losingInputs = 1 << 40
  /// The environment variable through which the rank tells its workers its process id.
  static let rankProcessVariable = "MPBENCH_CLUSTER_RANK_PID"

  func run() throws {
    let size = kernelSize
    let samples = size.samples
    // One pool for both jobs (MPI starts once per process): an input of 0 or more is a unit
    // of the reference kernel, a negative one a trivial task.
    let units = Array(0..<size.units)
    let rankToLose = self.rankToLose
    let worldRank = Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"] ?? "") ?? -1
    // On the driver-to-be, before MPI starts: a rank that ends then ends the job.
    if compareMpi4py, worldRank == 0 { try Mpi4pyComparison.checkAvailable(python: python, script: mpi4pyScript) }
    if rankToLose == worldRank { setenv(Self.rankProcessVariable, "\(getpid())", 1) }
    let kernel = PoolKernel<Int, UInt64>("cluster-bench") { input in
      if input < 0 { return UInt64(-input) }
      guard input >= Self.losingInputs else { return MonteCarloPi.unit(UInt64(input), samples: samples) }
      let output = MonteCarloPi.unit(UInt64(input - Self.losingInputs), samples: samples)
      // The rank dies as it ends its first unit of the map: the driver hands every rank its
      // first chunks at once, so this happens in every run, whatever the sizes.
      if rankToLose == worldRank, let rank = Int32(ProcessInfo.processInfo.environment[Self.rankProcessVariable] ?? "")
      {
        kill(rank, SIGKILL)
        kill(getpid(), SIGKILL)
      }
      return output
    }
    let pool = try ClusterPool(kernel: kernel, placement: workersPerRank.map { .cores($0) } ?? .physicalCores)
    guard
      var report = try pool.serve(driver: { driver -> Report in
        guard driver.rankCount >= 2 else {
          throw ValidationError("run it under mpirun with at least 2 ranks (this is 1 of \(driver.rankCount))")
        }
        if let rankToLose, rankToLose >= driver.rankCount {
          throw ValidationError("--lose-rank \(rankToLose) is not a rank of this job (1..<\(driver.rankCount))")
        }
        // As the job starts: a rank lost later leaves fewer.
        let (ranks, workersPerRank) = (driver.rankCount, driver.workersPerRank)
        func timed(_ body: () throws -> [UInt64]) throws -> (seconds: Double, sum: UInt64) {
          let started = ContinuousClock.now
          let outputs = try body()
          return ((ContinuousClock.now - started).microseconds / 1e6, outputs.reduce(0, &+))
        }
        var checksums: [UInt64] = []
        var serial: [Double] = []
        var local: [Double] = []
        var cluster: [Double] = []
        var single: [Double] = []
        var automatic: [Double] = []
        let singleInputs = (1...singleTasks).map { -$0 }
        let manyInputs = (1...manyTasks).map { -$0 }
        for _ in 0..<repetitions {
          let s = try timed { units.map { MonteCarloPi.unit(UInt64($0), samples: samples) } }
          let l = try timed { try driver.local.map(units) }
          let c = try timed { try driver.map(units) }
          serial.append(s.seconds)
          local.append(l.seconds)
          cluster.append(c.seconds)
          checksums += [s.sum, l.sum, c.sum]
          single.append(try timed { try driver.map(singleInputs, chunkSize: 1) }.seconds / Double(singleTasks) * 1e6)
          automatic.append(try timed { try driver.map(manyInputs) }.seconds / Double(manyInputs.count) * 1e6)
        }
        let roundTrip = Statistics(try driver.roundTrips(count: 2_000).map(\.microseconds)).median
        let (serialMedian, clusterMedian) = (Statistics(serial).median, Statistics(cluster).median)
        var rankLoss: Report.RankLoss?
        if rankToLose != nil {
          let whole = try timed { try driver.map(units) }
          let losing = try timed { try driver.map(units.map { $0 + Self.losingInputs }) }
          let survivors = try timed { try driver.map(units) }
          rankLoss = .init(
            lostRanks: driver.recoveries.flatMap(\.lostRanks),
            survivingRanks: driver.recoveries.last?.survivingRanks ?? [],
            mapSeconds: losing.seconds, wholeMapSeconds: whole.seconds, extraSeconds: losing.seconds - whole.seconds,
            rerunTasks: driver.recoveries.reduce(0) { $0 + $1.rerunTasks.reduce(0) { $0 + $1.count } },
            checksumOK: losing.sum == size.checksum && whole.sum == size.checksum,
            survivorsChecksumOK: survivors.sum == size.checksum)
        }
        return Report(
          ranks: ranks, workersPerRank: workersPerRank, size: size.name,
          checksumOK: checksums.allSatisfy { $0 == size.checksum }, serialSeconds: serialMedian,
          localPoolSeconds: Statistics(local).median, clusterSeconds: clusterMedian,
          speedup: serialMedian / clusterMedian, localSpeedup: serialMedian / Statistics(local).median,
          perTaskMicroseconds: .init(chunkSize1: Statistics(single).median, automatic: Statistics(automatic).median),
          rawRoundTripMicroseconds: roundTrip, rankLoss: rankLoss)
      })
    else { return }
    // Once this job has ended (every rank finalized MPI), so that the two do not share CPUs.
    if compareMpi4py {
      let theirs = try Mpi4pyComparison(
        python: python, script: mpi4pyScript, ranks: report.ranks, size: size.name, repetitions: repetitions,
        singleTasks: singleTasks, manyTasks: manyTasks
      ).run()
      report.mpi4py = theirs
      report.mpi4pyPerTaskRatio = .init(
        chunkSize1: theirs.perTaskMicroseconds.chunkSize1 / report.perTaskMicroseconds.chunkSize1,
        automatic: theirs.perTaskMicroseconds.automatic / report.perTaskMicroseconds.automatic)
    }
    let checksumsOK =
      report.checksumOK && report.rankLoss.map { $0.checksumOK && $0.survivorsChecksumOK } ?? true
    if json {
      print(try prettyJSON(report))
      guard checksumsOK else { throw BenchmarkFailure("a checksum is wrong") }
      return
    }
    print(
      """
      \(report.ranks) ranks, workers per rank \(report.workersPerRank), reference kernel \(report.size) \
      (checksums \(report.checksumOK ? "verified" : "WRONG")), median of \(repetitions)
      serial                              \(String(format: "%8.3f s", report.serialSeconds))
      driver's local pool                 \(String(format: "%8.3f s  %5.2f×", report.localPoolSeconds, report.localSpeedup))
      every rank                          \(String(format: "%8.3f s  %5.2f×", report.clusterSeconds, report.speedup))
      per task, chunk size 1              \(String(format: "%8.2f µs", report.perTaskMicroseconds.chunkSize1))
      per task, automatic chunks          \(String(format: "%8.3f µs", report.perTaskMicroseconds.automatic))
      raw MPI round trip, ranks 0 and 1   \(String(format: "%8.2f µs", report.rawRoundTripMicroseconds))
      """)
    if let theirs = report.mpi4py, let ratio = report.mpi4pyPerTaskRatio {
      print(
        """
        mpi4py.futures, same kernel and ranks (checksums \(theirs.checksumOK ? "verified" : "WRONG")):
          serial                            \(String(format: "%8.3f s", theirs.serialSeconds))
          every rank                        \(String(format: "%8.3f s  %5.2f×", theirs.clusterSeconds, theirs.speedup))
          per task, chunk size 1            \(String(format: "%8.2f µs  (%.0f× ours)", theirs.perTaskMicroseconds.chunkSize1, ratio.chunkSize1))
          per task, tasks ÷ (workers × 4)   \(String(format: "%8.3f µs  (%.1f× ours)", theirs.perTaskMicroseconds.automatic, ratio.automatic))
        """)
    }
    if let loss = report.rankLoss {
      print(
        """
        losing rank \(loss.lostRanks.map(String.init).joined(separator: ", ")) (checksums \(loss.checksumOK ? "verified" : "WRONG")), \
        \(loss.rerunTasks) tasks run again:
          the map whole                     \(String(format: "%8.3f s", loss.wholeMapSeconds))
          the map losing the rank           \(String(format: "%8.3f s  (+%.3f s)", loss.mapSeconds, loss.extraSeconds))
          then on ranks \(loss.survivingRanks.map(String.init).joined(separator: ", ")) (checksum \(loss.survivorsChecksumOK ? "verified" : "WRONG"))
        """)
    }
    guard checksumsOK else { throw BenchmarkFailure("a checksum is wrong") }
  }
}
