import ComputeEngine
import Foundation
import Multiprocessing
import TestEntryPoints

#if canImport(Glibc)
  import Glibc
#endif

// The fork-safety stress runs. They run here, in a process of their own, rather than in the
// test runner: their churning threads would make every other test that forks meanwhile
// inherit the runtime's locks held. Each prints one line, `key value …`, that the test reads.

/// Maps that each kill both workers, until 1000 were replaced, while two threads churn; a map
/// that does not end within 30 s is rescued by terminating the pool, and counts as stalled.
func stressReplacements() throws {
  let churn = GenericChurn(threads: 2)
  let pool = try killablePool()
  var (replaced, stalled, wrong) = (0, 0, 0)
  let inputs = [-1, 1, 2, 3, -1, 4, 5, 6]
  while replaced < 1000 && stalled == 0 && wrong == 0 {
    let (results, rescued) = try withWatchdog(.seconds(30), rescue: { pool.terminate() }) {
      try pool.mapResults(inputs, chunkSize: 1)
    }
    if rescued {
      stalled += 1
      break
    }
    for (input, result) in zip(inputs, results) {
      switch (input < 0, result) {
      case (true, .failure(.workerDied(_, .signaled(SIGKILL)))): replaced += 1
      case (false, .success(input * 2)): break
      default: wrong += 1
      }
    }
  }
  churn.stop()
  pool.terminate()
  print("replaced", replaced, "stalled", stalled, "wrong", wrong, "rounds", churn.rounds.load(ordering: .relaxed))
}

/// Five pools whose first task passes the timeout while a thread formats values, then a map
/// on the healed pool: the report that opened the fork-safety issue.
func stressTimeoutReplacements() throws {
  var (timedOut, stalled, wrong) = (0, 0, 0)
  for _ in 0..<5 {
    let pool = try ProcessPool<Int, Int>(placement: .cores(2, .compact), taskTimeout: .milliseconds(500)) { value in
      if value >= 1000 { usleep(UInt32(value) * 1000) }
      return value + 1
    }
    let formatting = GenericChurn(threads: 1)
    let results = try pool.mapResults([2000, 1, 2, 3], chunkSize: 1)
    if case .failure(.taskTimedOut) = results[0] { timedOut += 1 }
    let (next, rescued) = try withWatchdog(.seconds(20), rescue: { pool.terminate() }) {
      try pool.mapResults(Array(0..<50))
    }
    formatting.stop()
    pool.terminate()
    if rescued { stalled += 1 }
    if next.map({ try? $0.get() }) != (0..<50).map({ $0 + 1 }) { wrong += 1 }
  }
  print("timedOut", timedOut, "stalled", stalled, "wrong", wrong)
}

/// 150 parallelMap calls, each with a task timeout, while two threads churn.
func stressParallelMap() throws {
  let churn = GenericChurn(threads: 2)
  let offset = Int.random(in: 1...1000)
  var (stalled, wrong) = (0, 0)
  for _ in 0..<150 {
    do {
      let outputs = try parallelMap(Array(0..<16), taskTimeout: .seconds(20)) { $0 &* 3 &+ offset }
      if outputs != (0..<16).map({ $0 * 3 + offset }) { wrong += 1 }
    } catch PoolError.taskTimedOut {
      stalled += 1
    }
  }
  churn.stop()
  print("stalled", stalled, "wrong", wrong)
}

/// 300 fork starts of a closure that reopens a shared value from its handle (as a forked
/// entry point does), while two threads churn; a child not done within 5 s counts as stalled
/// (and is killed), and the run stops there. The parent reopens one first, so that the child's
/// path holds nothing new for the runtime to build: what is left is the library's own (a
/// type's name, which takes the runtime's type-name lock unless kept).
func stressForkStarts() throws {
  let shared = try SharedValue<Int>(0)
  let handle = shared.handle
  _ = try SharedValue<Int>(handle)
  let churn = GenericChurn(threads: 2)
  var (stalled, wrong) = (0, 0)
  for round in 0..<300 where stalled == 0 {
    let code = Int32(round % 7)
    let process = Multiprocessing.Process(startMethod: .fork) {
      let reopened = try SharedValue<Int>(handle)
      reopened.value = round
      throw ProcessExit(code &+ 1)
    }
    try process.start()
    try process.join(timeout: .seconds(5))
    guard let exit = try process.exitCode else {
      stalled += 1
      try process.kill()
      try process.join()
      continue
    }
    if exit != code + 1 || shared.value != round { wrong += 1 }
  }
  churn.stop()
  print("stalled", stalled, "wrong", wrong)
}
