import ComputeEngine
import ComputeEngineMPI
import Foundation
import Multiprocessing
import Synchronization
import SystemPackage
import TestEntryPoints

#if canImport(Glibc)
  import Glibc
#endif

// One rank of the cluster pool's tests, run under mpirun by ComputeEngineMPITests: each
// scenario prints one line, "RESULT <rank> <JSON>", that the tests read.

/// The rank this process (or the worker forked from it) belongs to, from mpirun's
/// environment: the kernels put it in their outputs, so that the tests see who computed.
let rankOfThisProcess = Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"] ?? "") ?? -1

let tagged = PoolKernel<Int, Int>("mpi-tagged") { $0 &* 1000 &+ rankOfThisProcess }
let crashing = PoolKernel<Int, Int>("mpi-crashing") { input in
  if input == 7 { kill(getpid(), SIGKILL) }
  return input &* 1000 &+ rankOfThisProcess
}
/// Kills this rank's process (not just its worker) when this is rank 1 and the rank set
/// `MPI_TEST_RANK_PID`; then 200 µs of work and the input tagged with the rank.
func killingRankOne(at input: Int, from threshold: Int) -> Int {
  if input >= threshold, rankOfThisProcess == 1,
    let pid = Int32(ProcessInfo.processInfo.environment["MPI_TEST_RANK_PID"] ?? "")
  {
    kill(pid, SIGKILL)
    // And this worker with it, before a later task signals that pid again: once the rank is
    // reaped, the pid may be another process's (pid_max is 32,768 here; the test suite forks
    // thousands), and a worker of the rerun died that way.
    kill(getpid(), SIGKILL)
  }
  usleep(200)
  return input &* 1000 &+ rankOfThisProcess
}
/// Kills rank 1 at the first input from 3,000 on that it runs.
let rankKiller = PoolKernel<Int, Int>("mpi-rank-killer") { killingRankOne(at: $0, from: 3000) }
/// Kills rank 1 at the first input from 13,000 on that it runs: a job of inputs
/// 10,000..<16,000 loses rank 1 half way, others run whole.
let survivalKiller = PoolKernel<Int, Int>("mpi-survival-killer") { killingRankOne(at: $0, from: 13000) }
let words = PoolKernel<String, [Int]>("mpi-words") { [$0.utf8.count, rankOfThisProcess] }
/// Fails every input ≡ 3 (mod 7) in a "first" run (the scenario's third argument), on every
/// rank; runs them all in a rerun. Each input takes 1 ms in a "sigterm" run.
let flaky = PoolKernel<Int, Int>("mpi-flaky") { input in
  let mode = CommandLine.arguments.count > 3 ? CommandLine.arguments[3] : ""
  struct Flaky: Error {}
  if mode == "first", input % 7 == 3 { throw Flaky() }
  if mode == "sigterm" || mode == "sigkill" { usleep(1000) }
  return input &* 1000 &+ rankOfThisProcess
}
/// The kernel of the pool interface's tests: doubles its input, fails a negative one.
let doubling = PoolKernel<Int, Int>("mpi-doubling") { input in
  struct Negative: Error {}
  guard input >= 0 else { throw Negative() }
  return input * 2
}
bootstrapMultiprocessing(entryPoints: [tagged, crashing, rankKiller, survivalKiller, words, flaky, doubling])

func report(_ rank: Int, _ fields: [String: Any]) {
  let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
  FileHandle.standardOutput.write(Data("RESULT \(rank) \(String(decoding: data, as: UTF8.self))\n".utf8))
}

let scenario = CommandLine.arguments.dropFirst().first ?? "tagged"
switch scenario {
case "tagged":
  let pool = try ClusterPool(kernel: tagged, placement: .cores(1))
  var misuse = ""
  if !pool.isDriver {
    do { _ = try pool.map([1]) } catch { misuse = "\(error)" }
  }
  let count = 20_000
  let outcome = try pool.serve { driver in
    let outputs = try driver.map(Array(0..<count))
    // Chunks of one task: many held by each rank and run together through its local pool.
    let single = try driver.map(Array(0..<500), chunkSize: 1)
    let correct = [outputs, single].allSatisfy { $0.enumerated().allSatisfy { $0.element / 1000 == $0.offset } }
    return (correct && single.count == 500, Set((outputs + single).map { $0 % 1000 }).sorted())
  }
  if let (correct, computedBy) = outcome {
    report(pool.rank, ["ranks": pool.rankCount, "correct": correct, "computedBy": computedBy])
  } else {
    report(pool.rank, ["misuse": misuse])
  }
case "interface":
  // The ParallelPool tests a local ProcessPool passes, on the driver across the ranks.
  let pool = try ClusterPool(kernel: doubling, placement: .cores(1))
  if let wrong = try pool.serve(driver: { driver in exerciseParallelPool(driver) }) {
    report(pool.rank, ["wrong": wrong])
  }
case "codable":
  let pool = try ClusterPool(kernel: words, placement: .cores(1))
  let inputs = (0..<2000).map { String(repeating: "w", count: $0 % 50) }
  if let (correct, computedBy) = try pool.serve(driver: { driver in
    let outputs = try driver.map(inputs)
    return (zip(inputs, outputs).allSatisfy { $0.utf8.count == $1[0] }, Set(outputs.map { $0[1] }).sorted())
  }) {
    report(pool.rank, ["correct": correct, "computedBy": computedBy])
  }
case "unordered":
  let pool = try ClusterPool(kernel: tagged, placement: .cores(1))
  if let fields = try pool.serve(driver: { driver -> [String: Any] in
    var seen = [Int](repeating: 0, count: 2000)
    var wrong = 0
    try driver.mapUnordered(Array(0..<2000), chunkSize: 50) { index, output in
      seen[index] += 1
      if output / 1000 != index { wrong += 1 }
    }
    // A body that throws ends the map early; the chunks still out are dropped, and the next
    // map is not confused by their results.
    struct Enough: Error {}
    var stoppedEarly = false
    do {
      try driver.mapUnordered(Array(0..<2000), chunkSize: 10) { _, _ in throw Enough() }
    } catch is Enough {
      stoppedEarly = true
    }
    let after = try driver.map(Array(0..<300), chunkSize: 7)
    // MPI_THREAD_FUNNELED: a call from another thread is refused, not made.
    let otherThread = Mutex("")
    let done = DispatchSemaphore(value: 0)
    Thread {
      do { _ = try driver.submit(1) } catch { otherThread.withLock { $0 = "\(error)" } }
      done.signal()
    }.start()
    done.wait()
    return [
      "eachOnce": seen.allSatisfy { $0 == 1 }, "wrong": wrong,
      "submitted": try driver.submit(21) / 1000, "stoppedEarly": stoppedEarly,
      "afterCorrect": after.enumerated().allSatisfy { $0.element / 1000 == $0.offset },
      "otherThread": otherThread.withLock { $0 },
    ]
  }) {
    report(pool.rank, fields)
  }
case "crash":
  let pool = try ClusterPool(kernel: crashing, placement: .cores(1))
  if let fields = try pool.serve(driver: { driver -> [String: Any] in
    let results = try driver.mapResults(Array(0..<200), chunkSize: 10)
    var failed: [Int] = []
    var error = ""
    for (index, result) in results.enumerated() {
      switch result {
      case .success(let output) where output / 1000 == index: continue
      case .success: failed.append(-index)
      case .failure(let failure):
        failed.append(index)
        error = "\(failure)"
      }
    }
    // The pool that lost a worker replaced it: a second job runs whole.
    let inputs = Array(0..<200).filter { $0 != 7 }
    let again = try driver.map(inputs, chunkSize: 10)
    let secondJobCorrect = zip(inputs, again).allSatisfy { $1 / 1000 == $0 } && again.count == 199
    return ["failed": failed, "error": error, "secondJobCorrect": secondJobCorrect]
  }) {
    report(pool.rank, fields)
  }
case "rank-dies":
  // Arguments: the journal's path, then "kill" (rank 1 dies mid-job), "resume", or "other"
  // (other inputs with the same journal).
  let journal = FilePath(CommandLine.arguments[2])
  let mode = CommandLine.arguments[3]
  if mode == "kill" { setenv("MPI_TEST_RANK_PID", "\(getpid())", 1) }
  let pool = try ClusterPool(kernel: rankKiller, placement: .cores(1))
  if let fields = try pool.serve(driver: { driver -> [String: Any] in
    let inputs = Array(0..<(mode == "other" ? 5000 : 6000))
    do {
      let outputs = try driver.map(inputs, chunkSize: 100, journal: journal)
      let correct = outputs.count == inputs.count && outputs.enumerated().allSatisfy { $0.element / 1000 == $0.offset }
      return ["correct": correct, "resumed": driver.resumedTasks]
    } catch {
      return ["error": "\(error)"]
    }
  }) {
    report(pool.rank, fields)
  }
case "journal":
  // Arguments: the journal's path, then "first" (inputs ≡ 3 mod 7 fail), "sigterm" or
  // "sigkill" (the driver gets that signal 0.5 s into a 4 s map) or "resume".
  let journal = FilePath(CommandLine.arguments[2])
  let mode = CommandLine.arguments[3]
  let pool = try ClusterPool(kernel: flaky, placement: .cores(1))
  do {
    if let fields = try pool.serve(driver: { driver -> [String: Any] in
      let inputs = Array(0..<8000)
      if mode == "sigterm" || mode == "sigkill" {
        let signal = mode == "sigterm" ? SIGTERM : SIGKILL
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) {
          // When, for the tests to time the end from.
          FileHandle.standardOutput.write(Data("SIGNALLED \(Date().timeIntervalSince1970)\n".utf8))
          kill(getpid(), signal)
        }
      }
      let results = try driver.mapResults(inputs, chunkSize: 10, journal: journal)
      let failed = results.indices.filter { (try? results[$0].get()) == nil }
      let correct = results.enumerated().allSatisfy { index, result in
        (try? result.get()).map { $0 / 1000 == index } ?? true
      }
      return ["failed": failed.count, "correct": correct, "resumed": driver.resumedTasks]
    }) {
      report(pool.rank, fields)
    }
  } catch {
    // A serving rank whose driver died (with ULFM; without it, the launcher ends the job).
    report(pool.rank, ["error": "\(error)"])
  }
case "nodes":
  // Every rank says where it runs (its hostname and how many ranks share its node, as the
  // launcher sees it) and how many workers its local pool took; the driver maps over them all.
  let pool = try ClusterPool(kernel: tagged)
  var fields: [String: Any] = [
    "host": ProcessInfo.processInfo.hostName,
    "localSize": Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? "") ?? -1,
    "workers": pool.local.workerCount,
  ]
  let driverFields = try pool.serve(driver: { driver -> [String: Any] in
    let outputs = try driver.map(Array(0..<3000), chunkSize: 10)
    return [
      "correct": outputs.enumerated().allSatisfy { $0.element / 1000 == $0.offset },
      "computedBy": Set(outputs.map { $0 % 1000 }).sorted(), "workersPerRank": driver.workersPerRank,
    ]
  })
  fields.merge(driverFields ?? [:]) { $1 }
  report(pool.rank, fields)
case "survive-idle":
  // Under mpirun --with-ft ulfm: rank 1 dies while no map runs (1 s after the pool starts,
  // while the driver waits 2 s after its first map); the next map finds it gone, and ends
  // whole on ranks 0 and 2.
  let pool = try ClusterPool(kernel: tagged, placement: .cores(1))
  if pool.rank == 1 { DispatchQueue.global().asyncAfter(deadline: .now() + 1) { kill(getpid(), SIGKILL) } }
  if let fields = try pool.serve(driver: { driver -> [String: Any] in
    let first = try driver.map(Array(0..<3000), chunkSize: 10)
    Thread.sleep(forTimeInterval: 2)
    let second = try driver.map(Array(0..<3000), chunkSize: 10)
    let correct = [first, second].allSatisfy { outputs in
      outputs.count == 3000 && outputs.enumerated().allSatisfy { $0.element / 1000 == $0.offset }
    }
    return [
      "correct": correct, "secondComputedBy": Set(second.map { $0 % 1000 }).sorted(),
      "lostRanks": driver.recoveries.flatMap(\.lostRanks), "ranksAfter": driver.rankCount,
    ]
  }) {
    report(pool.rank, fields)
  }
case "survive":
  // Under mpirun --with-ft ulfm (Open MPI 5): a map of 6,000 inputs, the same map while rank 1
  // dies half way, then a map on the survivors. (A second argument, ignored, names the run.)
  setenv("MPI_TEST_RANK_PID", "\(getpid())", 1)
  let pool = try ClusterPool(kernel: survivalKiller, placement: .cores(1))
  if let fields = try pool.serve(driver: { driver -> [String: Any] in
    func timedMap(_ inputs: Range<Int>, chunkSize: Int?) throws -> (seconds: Double, correct: Bool, by: Set<Int>) {
      let started = ContinuousClock.now
      let outputs = try driver.map(Array(inputs), chunkSize: chunkSize)
      let elapsed = ContinuousClock.now - started
      let correct = outputs.count == inputs.count && zip(inputs, outputs).allSatisfy { $1 / 1000 == $0 }
      return (
        Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18, correct,
        Set(outputs.map { $0 % 1000 })
      )
    }
    let ranksBefore = driver.rankCount
    // As many inputs, none of which kills, then the map in which rank 1 dies.
    let calm = try timedMap(0..<6000, chunkSize: 50)
    let killed = try timedMap(10000..<16000, chunkSize: 50)
    let after = try timedMap(0..<3000, chunkSize: nil)
    return [
      "ranksBefore": ranksBefore, "ranksAfter": driver.rankCount, "calmSeconds": calm.seconds,
      "calmCorrect": calm.correct, "killedSeconds": killed.seconds, "killedCorrect": killed.correct,
      "afterCorrect": after.correct, "afterComputedBy": after.by.sorted(),
      "lostRanks": driver.recoveries.flatMap(\.lostRanks),
      "rerunTasks": driver.recoveries.flatMap(\.rerunTasks).reduce(0) { $0 + $1.count },
      "recoveries": driver.recoveries.map(\.description),
    ]
  }) {
    report(pool.rank, fields)
  }
default:
  print("unknown scenario \(scenario)")
  exit(64)
}
