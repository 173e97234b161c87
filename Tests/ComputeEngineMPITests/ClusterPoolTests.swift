import Foundation
import Scheduler
import TestEntryPoints
import Testing

/// The cluster pool under `mpirun`, over shared memory and over TCP on the loopback: each test
/// runs ranks of `MPITestRank` (built beside this bundle) and reads the lines they print.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ClusterPoolTests {
  /// How the ranks reach each other.
  enum Network: String, CaseIterable, Sendable {
    /// Open MPI's shared-memory transport (vader), as ranks on one node use.
    case sharedMemory
    /// TCP on the loopback interface: the stand-in for a network between nodes.
    case tcp

    var arguments: [String] {
      switch self {
      case .sharedMemory: ["--mca", "btl_vader_single_copy_mechanism", "none"]
      case .tcp: ["--mca", "pml", "ob1", "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo"]
      }
    }
  }

  /// Which MPI launches the ranks (the binaries are the same: built against the system's Open
  /// MPI 4.1, they run under Open MPI 5, whose libmpi.so.40 keeps the ABI).
  enum Launcher: Sendable {
    /// The system's Open MPI (Debian's 4.1): a lost rank ends the job.
    case system
    /// The system's Open MPI with each rank on a "node" of its own: a hostfile of made-up
    /// names and `Scripts/node-agent` as the remote launcher, which starts each node's daemon
    /// in a UTS namespace with that hostname; the ranks talk over TCP on the loopback.
    case nodes
    /// Open MPI 5 with fault tolerance, as `Scripts/deps` installs it (`OPENMPI_ULFM_PREFIX`,
    /// by default /opt/openmpi-ulfm), under `mpirun --with-ft ulfm`.
    case ulfm

    static var ulfmPrefix: String {
      ProcessInfo.processInfo.environment["OPENMPI_ULFM_PREFIX"] ?? "/opt/openmpi-ulfm"
    }
  }

  /// What one scenario's ranks printed: each rank's JSON object, by rank.
  static func run(
    _ arguments: [String], ranks: Int, over network: Network, launcher: Launcher = .system
  ) async throws -> [Int: [String: Any]] {
    let (status, text) = try await launch(arguments, ranks: ranks, over: network, launcher: launcher)
    guard status == 0 else { throw RunFailure(description: "mpirun exited with \(status):\n\(text)") }
    return reports(in: text)
  }

  /// Runs `ranks` ranks of `MPITestRank` with `arguments` under mpirun: its exit status and
  /// everything it printed. On a thread of its own (`onOwnThread`): the suite runs its jobs
  /// one after another for about two minutes, and waiting for them on a thread of the
  /// cooperative pool (two here) starved the other suites' tests, whose time limits ran.
  static func launch(
    _ arguments: [String], ranks: Int, over network: Network, program: String = "MPITestRank",
    launcher: Launcher = .system, mpirunArguments: [String] = []
  ) async throws -> (Int32, String) {
    try await onOwnThread {
      try launchHere(
        arguments, ranks: ranks, over: network, program: program, launcher: launcher,
        mpirunArguments: mpirunArguments)
    }
  }

  /// ``launch(_:ranks:over:program:launcher:mpirunArguments:)`` on the calling thread.
  private static func launchHere(
    _ arguments: [String], ranks: Int, over network: Network, program: String,
    launcher: Launcher, mpirunArguments: [String]
  ) throws -> (Int32, String) {
    let build = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    // A session directory of its own: mpiruns started at once (the tests run in parallel)
    // race to create and remove the shared /tmp/ompi.<host>.<uid>, and the loser fails in
    // orte_init ("A call to mkdir was unable to create the desired directory").
    let session = NSTemporaryDirectory() + "mpirun-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: session, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: session) }
    let mpirun = Process()
    var environment = ProcessInfo.processInfo.environment
    environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    // No ssh, root allowed, more ranks than cores, and no binding: a rank's forked workers
    // would otherwise all share its core.
    switch launcher {
    case .system:
      mpirun.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      mpirun.arguments =
        [
          "mpirun", "--oversubscribe", "--mca", "plm", "isolated", "--bind-to", "none", "--mca", "orte_tmpdir_base",
          session,
        ]
        + network.arguments
    case .nodes:
      let hostfile = session + "/hosts"
      try (0..<ranks).map { "node\($0) slots=1\n" }.joined().write(toFile: hostfile, atomically: true, encoding: .utf8)
      let agent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Scripts/node-agent").path
      mpirun.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      mpirun.arguments =
        [
          "mpirun", "--mca", "plm_rsh_agent", agent, "--hostfile", hostfile, "--map-by", "ppr:1:node", "--bind-to",
          "none", "--mca", "orte_tmpdir_base", session, "--mca", "oob_tcp_if_include", "lo",
        ] + Network.tcp.arguments
    case .ulfm:
      let prefix = Launcher.ulfmPrefix
      guard FileManager.default.isExecutableFile(atPath: prefix + "/bin/mpirun") else {
        throw RunFailure(description: "no Open MPI 5 with ULFM in \(prefix): run Scripts/deps")
      }
      mpirun.executableURL = URL(fileURLWithPath: prefix + "/bin/mpirun")
      mpirun.arguments =
        ["--oversubscribe", "--bind-to", "none", "--with-ft", "ulfm"]
        + (network == .tcp ? network.arguments : [])
      environment["LD_LIBRARY_PATH"] = prefix + "/lib"
      environment["TMPDIR"] = session
    }
    mpirun.arguments! += mpirunArguments + ["-np", "\(ranks)", build.appendingPathComponent(program).path] + arguments
    // Every process of the job inherits it: how the watchdog finds them.
    environment["MPI_TEST_JOB"] = session
    mpirun.environment = environment
    let output = Pipe()
    mpirun.standardOutput = output
    mpirun.standardError = output
    try mpirun.run()
    // A hung job fails its test instead of the suite: mpirun, its ranks and their workers are
    // killed (Open MPI 5's mpirun under --with-ft ulfm outlives a SIGTERM).
    let watchdog = DispatchWorkItem {
      guard mpirun.isRunning else { return }
      for pid in processes(inJob: session) { kill(pid, SIGKILL) }
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + 90, execute: watchdog)
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    mpirun.waitUntilExit()
    watchdog.cancel()
    return (mpirun.terminationStatus, text)
  }

  /// The processes started with `MPI_TEST_JOB` set to `job` in their environment.
  static func processes(inJob job: String) -> [Int32] {
    processes(whose: "environ", contains: "MPI_TEST_JOB=\(job)\u{0}")
  }

  /// The processes whose command line contains `marker` (none should outlive their job).
  static func processes(containing marker: String) -> [Int32] { processes(whose: "cmdline", contains: marker) }

  /// The processes whose `/proc/PID/<file>` contains `text`.
  static func processes(whose file: String, contains text: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    let bytes = Data(text.utf8)
    return entries.compactMap(Int32.init).filter { pid in
      FileManager.default.contents(atPath: "/proc/\(pid)/\(file)")?.range(of: bytes) != nil
    }
  }

  /// The "RESULT <rank> <JSON>" lines of `text`, by rank.
  static func reports(in text: String) -> [Int: [String: Any]] {
    var reports: [Int: [String: Any]] = [:]
    for line in text.split(separator: "\n") where line.hasPrefix("RESULT ") {
      let parts = line.split(separator: " ", maxSplits: 2)
      guard parts.count == 3, let rank = Int(parts[1]),
        let object = (try? JSONSerialization.jsonObject(with: Data(parts[2].utf8))) as? [String: Any]
      else { continue }
      reports[rank] = object
    }
    return reports
  }

  struct RunFailure: Error, CustomStringConvertible {
    var description: String
  }

  @Test(arguments: [2, 4], Network.allCases)
  func aMapSpreadsOverEveryRankAndComesBackInOrder(ranks: Int, network: Network) async throws {
    let reports = try await Self.run(["tagged"], ranks: ranks, over: network)
    let driver = try #require(reports[0])
    #expect(driver["ranks"] as? Int == ranks)
    #expect(driver["correct"] as? Bool == true, "every output in its input's place")
    #expect(driver["computedBy"] as? [Int] == Array(0..<ranks), "every rank computed, the driver too")
    for rank in 1..<ranks {
      #expect(
        (reports[rank]?["misuse"] as? String)?.contains("only the driver, rank 0") == true,
        "a map on rank \(rank) throws notDriver")
    }
  }

  @Test(arguments: Network.allCases)
  func codableValuesTravelInBinaryForm(network: Network) async throws {
    let driver = try #require(try await Self.run(["codable"], ranks: 2, over: network)[0])
    #expect(driver["correct"] as? Bool == true)
    #expect(driver["computedBy"] as? [Int] == [0, 1])
  }

  /// mapUnordered hands over every output once, with its input's index; submit runs one
  /// input; a map whose body throws leaves the next map whole; a call from another thread is
  /// refused.
  @Test(arguments: Network.allCases)
  func unorderedMapsAndSubmits(network: Network) async throws {
    let driver = try #require(try await Self.run(["unordered"], ranks: 2, over: network)[0])
    #expect(driver["eachOnce"] as? Bool == true)
    #expect(driver["wrong"] as? Int == 0)
    #expect(driver["submitted"] as? Int == 21)
    #expect(driver["stoppedEarly"] as? Bool == true)
    #expect(driver["afterCorrect"] as? Bool == true)
    #expect((driver["otherThread"] as? String)?.contains("another thread than the one that made it") == true)
  }

  /// The cluster pool's driver passes the same interface tests as a local pool
  /// (`exerciseParallelPool`, which `ProcessPoolTests` runs on a `ProcessPool`).
  @Test(arguments: Network.allCases)
  func theDriverKeepsTheParallelPoolInterface(network: Network) async throws {
    let driver = try #require(try await Self.run(["interface"], ranks: 2, over: network)[0])
    #expect(driver["wrong"] as? [String] == [])
  }

  /// A worker killed inside a rank costs the task it ran, whichever rank ran it; that rank's
  /// pool replaces the worker and the next job runs whole. MPI never sees it.
  @Test(arguments: Network.allCases)
  func aWorkerKilledInsideARankFailsItsTaskAlone(network: Network) async throws {
    let driver = try #require(try await Self.run(["crash"], ranks: 2, over: network)[0])
    #expect(driver["failed"] as? [Int] == [7])
    #expect((driver["error"] as? String)?.contains("killed by signal 9") == true)
    #expect(driver["secondJobCorrect"] as? Bool == true)
  }

  /// A rank killed mid-job ends the job (Open MPI's launcher stops the others); the driver
  /// says which chunks each rank held, the dead one's among them; a rerun with the journal
  /// loads the finished chunks and runs only the rest; other inputs with that journal are
  /// refused.
  @Test(arguments: Network.allCases)
  func aRankThatDiesEndsTheJobAndTheJournalResumesIt(network: Network) async throws {
    let journal = NSTemporaryDirectory() + "cluster-journal-\(getpid())-\(network.rawValue)"
    defer { try? FileManager.default.removeItem(atPath: journal) }
    let (status, text) = try await Self.launch(["rank-dies", journal, "kill"], ranks: 2, over: network)
    #expect(status != 0, "the job ends with its rank")
    #expect(text.contains("ClusterPool: the job was ended during a map"), "the driver's report:\n\(text)")
    // The driver's local share may hold chunks too (listed first, as rank 0).
    let unanswered = text.components(separatedBy: "Unanswered chunks: ").last ?? ""
    #expect(unanswered.contains("rank 1: tasks"), "the dead rank's chunks are named:\n\(text)")
    let resumed = try #require(try await Self.run(["rank-dies", journal, "resume"], ranks: 2, over: network)[0])
    #expect(resumed["correct"] as? Bool == true, "the rerun: \(resumed)")
    let loaded = try #require(resumed["resumed"] as? Int)
    #expect(loaded > 0 && loaded < 6000, "the finished chunks come from the journal: \(loaded)")
    let other = try #require(try await Self.run(["rank-dies", journal, "other"], ranks: 2, over: network)[0])
    #expect((other["error"] as? String)?.contains("was written for another job") == true)
  }

  /// The journal keeps only what succeeded: a first run whose inputs ≡ 3 (mod 7) fail records
  /// the others, and the rerun loads exactly those and runs exactly the failed ones.
  @Test(arguments: Network.allCases)
  func theJournalKeepsOnlyWhatSucceeded(network: Network) async throws {
    let journal = NSTemporaryDirectory() + "cluster-journal-failures-\(getpid())-\(network.rawValue)"
    defer { try? FileManager.default.removeItem(atPath: journal) }
    let first = try #require(try await Self.run(["journal", journal, "first"], ranks: 2, over: network)[0])
    let failures = (0..<8000).filter { $0 % 7 == 3 }.count
    #expect(first["failed"] as? Int == failures && first["correct"] as? Bool == true, "\(first)")
    let rerun = try #require(try await Self.run(["journal", journal, "resume"], ranks: 2, over: network)[0])
    #expect(rerun["failed"] as? Int == 0 && rerun["correct"] as? Bool == true, "\(rerun)")
    #expect(rerun["resumed"] as? Int == 8000 - failures, "only the successes came from the journal: \(rerun)")
  }

  /// SIGTERM to the driver mid-map ends the job at once (the map alone takes 4 s), with the
  /// report written; the journal holds what the report says, and resumes the map to the
  /// right outputs.
  @Test func sigtermEndsTheDriverAtOnceAndTheJournalResumes() async throws {
    let journal = NSTemporaryDirectory() + "cluster-journal-sigterm-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: journal) }
    // mpirun itself, once the driver is gone, waits 1 s between its SIGTERM and SIGKILL to the
    // other ranks unless told not to: without the wait, its end times the driver's.
    let (status, text) = try await Self.launch(
      ["journal", journal, "sigterm"], ranks: 2, over: .sharedMemory,
      mpirunArguments: ["--mca", "odls_base_sigkill_timeout", "0"])
    let ended = Date().timeIntervalSince1970
    #expect(status != 0, "the job ends with its driver:\n\(text)")
    #expect(text.contains("ClusterPool: the job was ended during a map"), "the driver's report:\n\(text)")
    let signalled = try #require(
      text.split(separator: "\n").first { $0.hasPrefix("SIGNALLED ") }.flatMap { Double($0.dropFirst(10)) })
    #expect(ended - signalled < 1, "the job ended \(ended - signalled) s after SIGTERM")
    let held = try #require(
      text.components(separatedBy: "holds ").last.flatMap { Int($0.prefix { $0.isNumber }) }, "\(text)")
    let rerun = try #require(try await Self.run(["journal", journal, "resume"], ranks: 2, over: .sharedMemory)[0])
    #expect(rerun["failed"] as? Int == 0 && rerun["correct"] as? Bool == true, "\(rerun)")
    let resumed = try #require(rerun["resumed"] as? Int)
    #expect(resumed > 0 && resumed < 8000, "the rerun loaded what finished before the signal: \(resumed)")
    #expect(resumed == held, "the journal holds what the report says: \(held)")
  }

  /// A driver SIGKILLed mid-map (no report, a record perhaps cut short) leaves a journal the
  /// rerun resumes from: the right outputs, some of them loaded, none twice.
  @Test func aKilledDriversJournalResumes() async throws {
    let journal = NSTemporaryDirectory() + "cluster-journal-sigkill-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: journal) }
    let (status, text) = try await Self.launch(["journal", journal, "sigkill"], ranks: 2, over: .sharedMemory)
    #expect(status != 0, "the job ends with its driver:\n\(text)")
    let rerun = try #require(try await Self.run(["journal", journal, "resume"], ranks: 2, over: .sharedMemory)[0])
    #expect(rerun["failed"] as? Int == 0 && rerun["correct"] as? Bool == true, "\(rerun)")
    let resumed = try #require(rerun["resumed"] as? Int)
    #expect(resumed > 0 && resumed < 8000, "the rerun loaded what finished before the kill: \(resumed)")
  }

  /// Ranks on nodes that are really apart (their own hostnames, one Open MPI daemon each, TCP
  /// between them): each is alone on its node, so its local pool takes the whole node's
  /// cores, where three ranks sharing this machine split them; a map runs on every node.
  @Test func ranksOnNodesOfTheirOwnEachTakeTheirWholeNode() async throws {
    let nodes = try await Self.run(["nodes"], ranks: 3, over: .tcp, launcher: .nodes)
    let shared = try await Self.run(["nodes"], ranks: 3, over: .tcp)
    let wholeNode = try Topology.current().placement(.physicalCores).slots.count
    #expect(Set((0..<3).compactMap { nodes[$0]?["host"] as? String }) == ["node0", "node1", "node2"], "\(nodes)")
    #expect((0..<3).allSatisfy { nodes[$0]?["localSize"] as? Int == 1 }, "one rank per node: \(nodes)")
    #expect((0..<3).allSatisfy { shared[$0]?["localSize"] as? Int == 3 }, "three on one: \(shared)")
    let driver = try #require(nodes[0])
    #expect(driver["workersPerRank"] as? [Int] == [wholeNode, wholeNode, wholeNode], "\(driver)")
    #expect(driver["correct"] as? Bool == true && driver["computedBy"] as? [Int] == [0, 1, 2], "\(driver)")
    let sharedWorkers = try #require(shared[0]?["workersPerRank"] as? [Int])
    #expect(
      sharedWorkers.reduce(0, +) < 3 * wholeNode || wholeNode == 1, "ranks sharing a node split it: \(sharedWorkers)")
  }

  /// With ULFM (Open MPI 5, `--with-ft ulfm`), a serving rank SIGKILLed mid-map costs only the
  /// chunks it held: the map returns every output, in not much more time than without the
  /// kill; the survivors renumber (world rank 2 becomes rank 1) and run the next map; the
  /// recovery names the lost rank and the tasks that ran again; teardown ends and leaves no
  /// process behind.
  @Test(arguments: Network.allCases)
  func aLostRankIsSurvivedWithULFM(network: Network) async throws {
    let marker = "survive-\(getpid())-\(network.rawValue)"
    let started = ContinuousClock.now
    let driver = try #require(try await Self.run(["survive", marker], ranks: 3, over: network, launcher: .ulfm)[0])
    #expect(ContinuousClock.now - started < .seconds(30), "teardown after the loss ended")
    #expect(driver["calmCorrect"] as? Bool == true && driver["killedCorrect"] as? Bool == true, "\(driver)")
    #expect(driver["lostRanks"] as? [Int] == [1], "\(driver)")
    #expect(driver["ranksBefore"] as? Int == 3 && driver["ranksAfter"] as? Int == 2)
    #expect(driver["afterCorrect"] as? Bool == true)
    #expect(driver["afterComputedBy"] as? [Int] == [0, 2], "the survivors ran the next map: \(driver)")
    let rerun = try #require(driver["rerunTasks"] as? Int)
    #expect(rerun > 0 && rerun < 6000, "the chunks the ranks held ran again, not the job: \(rerun)")
    let recoveries = driver["recoveries"] as? [String] ?? []
    #expect(recoveries.count == 1 && recoveries[0].contains("lost rank 1 during map 2"), "\(recoveries)")
    let calm = try #require(driver["calmSeconds"] as? Double)
    let killed = try #require(driver["killedSeconds"] as? Double)
    #expect(killed - calm < 2, "the loss cost \(killed - calm) s, not a detector's timeout")
    #expect(Self.processes(containing: marker).isEmpty, "no rank or worker outlives the job")
  }

  /// With ULFM, a rank that dies while no map runs is found gone by the next map, which ends
  /// whole on the survivors.
  @Test func aRankLostBetweenMapsIsSurvivedWithULFM() async throws {
    let driver = try #require(try await Self.run(["survive-idle"], ranks: 3, over: .tcp, launcher: .ulfm)[0])
    #expect(driver["correct"] as? Bool == true, "\(driver)")
    #expect(driver["lostRanks"] as? [Int] == [1] && driver["ranksAfter"] as? Int == 2, "\(driver)")
    #expect(driver["secondComputedBy"] as? [Int] == [0, 2], "\(driver)")
  }

  /// With ULFM, the driver's death still ends the job: every serving rank stops with
  /// `driverLost` instead of waiting for it, and the journal resumes the map.
  @Test func aKilledDriverEndsEveryRankWithULFMAndTheJournalResumes() async throws {
    let journal = NSTemporaryDirectory() + "cluster-journal-ulfm-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: journal) }
    let started = ContinuousClock.now
    let (_, text) = try await Self.launch(
      ["journal", journal, "sigkill"], ranks: 3, over: .sharedMemory, launcher: .ulfm)
    #expect(ContinuousClock.now - started < .seconds(30))
    let reports = Self.reports(in: text)
    for rank in 1..<3 {
      #expect(
        (reports[rank]?["error"] as? String)?.contains("the driver, rank 0, died") == true,
        "rank \(rank) learns of it:\n\(text)")
    }
    #expect(Self.processes(containing: journal).isEmpty, "no rank or worker outlives the job")
    let rerun = try #require(
      try await Self.run(["journal", journal, "resume"], ranks: 3, over: .sharedMemory, launcher: .ulfm)[0])
    #expect(rerun["failed"] as? Int == 0 && rerun["correct"] as? Bool == true, "\(rerun)")
    let resumed = try #require(rerun["resumed"] as? Int)
    #expect(resumed > 0 && resumed < 8000, "the rerun loaded what finished before the kill: \(resumed)")
  }

  /// `mpbench cluster` under mpirun: every figure the JSON promises, from a run whose
  /// checksums were verified.
  @Test(arguments: Network.allCases)
  func mpbenchClusterReportsItsFigures(network: Network) async throws {
    let arguments = [
      "cluster", "--json", "--size", "test", "--repetitions", "1", "--single-tasks", "50", "--many-tasks", "2000",
    ]
    let (status, text) = try await Self.launch(arguments, ranks: 2, over: network, program: "mpbench")
    #expect(status == 0, "\(text)")
    let start = try #require(text.firstIndex(of: "{"))
    let report = try #require(try JSONSerialization.jsonObject(with: Data(text[start...].utf8)) as? [String: Any])
    #expect(report["ranks"] as? Int == 2)
    #expect(report["checksumOK"] as? Bool == true)
    #expect((report["speedup"] as? Double ?? 0) > 0)
    #expect((report["rawRoundTripMicroseconds"] as? Double ?? 0) > 0)
    let perTask = try #require(report["perTaskMicroseconds"] as? [String: Double])
    #expect((perTask["chunkSize1"] ?? 0) > 0 && (perTask["automatic"] ?? 0) > 0)
  }

  /// `--compare-mpi4py` with an interpreter that lacks mpi4py is refused before anything runs
  /// (it was found after our whole benchmark, whose figures it then lost).
  @Test func mpbenchClusterRefusesACompareWithoutMpi4pyAtOnce() async throws {
    let python = NSTemporaryDirectory() + "python-without-mpi4py-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: python) }
    try "#!/bin/sh\necho 'ModuleNotFoundError: No module named mpi4py' >&2\nexit 1\n".write(
      toFile: python, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: python)
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("Scripts/mpi4py_reference.py").path
    let arguments = ["cluster", "--size", "test", "--compare-mpi4py", "--python", python, "--mpi4py-script", script]
    let (status, text) = try await Self.launch(arguments, ranks: 2, over: .sharedMemory, program: "mpbench")
    #expect(status != 0)
    #expect(text.contains("--compare-mpi4py needs mpi4py in '\(python)'"), "\(text)")
    #expect(!text.contains("driver's local pool"), "nothing ran: \(text)")
  }

  /// `mpbench cluster --lose-rank 1` under `mpirun --with-ft ulfm`: the map that loses rank 1
  /// half way has the right checksum, as has the next one on the survivors (0 and 2).
  @Test func mpbenchClusterTimesTheLossOfARank() async throws {
    let arguments = [
      "cluster", "--json", "--size", "test", "--repetitions", "1", "--single-tasks", "50", "--many-tasks", "2000",
      "--lose-rank", "1",
    ]
    let (status, text) = try await Self.launch(arguments, ranks: 3, over: .tcp, program: "mpbench", launcher: .ulfm)
    let start = try #require(text.firstIndex(of: "{"), "\(text)")
    let report = try #require(try JSONSerialization.jsonObject(with: Data(text[start...].utf8)) as? [String: Any])
    #expect(status == 0 && report["ranks"] as? Int == 3, "\(text)")
    let loss = try #require(report["rankLoss"] as? [String: Any])
    #expect(loss["lostRanks"] as? [Int] == [1] && loss["survivingRanks"] as? [Int] == [0, 2], "\(loss)")
    #expect(loss["checksumOK"] as? Bool == true && loss["survivorsChecksumOK"] as? Bool == true, "\(loss)")
    #expect((loss["rerunTasks"] as? Int ?? 0) > 0)
  }

  /// `--compare-mpi4py`: the driver launches the reference under a second mpirun of its own
  /// (a job of 2 ranks, not a part of the first) with the first one's transport settings, and
  /// sets its figures beside ours. A stand-in for the reference (no mpi4py needed) checks the
  /// settings it got and prints figures of the reference's form.
  @Test(arguments: Network.allCases)
  func mpbenchClusterRunsTheMpi4pyReferenceBesideItself(network: Network) async throws {
    let expected = network == .tcp ? ["OMPI_MCA_btl": "self,tcp"] : ["OMPI_MCA_btl_vader_single_copy_mechanism": "none"]
    let script = NSTemporaryDirectory() + "mpi4py-stand-in-\(getpid())-\(network.rawValue).py"
    defer { try? FileManager.default.removeItem(atPath: script) }
    try """
    import json, os, sys
    arguments = sys.argv[1:]
    if arguments == ["--check"]:
        sys.exit(0)
    for option, value in (("--single-tasks", "50"), ("--many-tasks", "2000")):
        if arguments[arguments.index(option) + 1] != value:
            sys.exit(f"not like for like: {' '.join(arguments)}")
    for name, value in \(String(decoding: try JSONSerialization.data(withJSONObject: expected), as: UTF8.self)).items():
        if os.environ.get(name) != value:
            sys.exit(f"{name} is {os.environ.get(name)!r}, not {value!r}")
    if os.environ["OMPI_COMM_WORLD_RANK"] == "0":
        print(json.dumps({"ranks": int(os.environ["OMPI_COMM_WORLD_SIZE"]), "checksumOK": True,
            "serialSeconds": 1.0, "clusterSeconds": 0.5, "speedup": 2.0,
            "perTaskMicroseconds": {"chunkSize1": 400.0, "automatic": 1.0}}))
    """.write(toFile: script, atomically: true, encoding: .utf8)
    let arguments = [
      "cluster", "--json", "--size", "test", "--repetitions", "1", "--single-tasks", "50", "--many-tasks", "2000",
      "--compare-mpi4py", "--mpi4py-script", script,
    ]
    let (status, text) = try await Self.launch(arguments, ranks: 2, over: network, program: "mpbench")
    #expect(status == 0, "\(text)")
    let start = try #require(text.firstIndex(of: "{"))
    let report = try #require(try JSONSerialization.jsonObject(with: Data(text[start...].utf8)) as? [String: Any])
    let theirs = try #require(report["mpi4py"] as? [String: Any])
    #expect(theirs["ranks"] as? Int == 2)
    let ours = try #require(report["perTaskMicroseconds"] as? [String: Double])
    let ratio = try #require(report["mpi4pyPerTaskRatio"] as? [String: Double])
    #expect(abs((ratio["chunkSize1"] ?? 0) - 400 / (ours["chunkSize1"] ?? 1)) < 1e-6)
  }
}
