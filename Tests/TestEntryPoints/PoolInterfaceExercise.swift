import ComputeEngine

/// The one set of interface tests every ``ParallelPool`` passes — a local `ProcessPool` in
/// `ProcessPoolTests`, a cluster pool's driver under mpirun in `ClusterPoolTests` — for a
/// pool whose kernel doubles its input and fails a negative one. Returns what went wrong,
/// one line each: nothing when the pool keeps the interface.
public func exerciseParallelPool(_ pool: some ParallelPool<Int, Int>) -> [String] {
  var wrong: [String] = []
  func check(_ what: String, _ body: () throws -> Bool) {
    do {
      if try !body() { wrong.append(what) }
    } catch {
      wrong.append("\(what): \(error)")
    }
  }
  let inputs = Array(0..<2000)
  check("map gives every output in input order") { try pool.map(inputs, chunkSize: nil) == inputs.map { $0 * 2 } }
  check("map with chunks of one") { try pool.map(Array(0..<100), chunkSize: 1) == (0..<100).map { $0 * 2 } }
  check("map of nothing") { try pool.map([], chunkSize: nil).isEmpty }
  check("a failed input fails map with the kernel's error") {
    do {
      _ = try pool.map([1, -1, 2], chunkSize: 1)
      return false
    } catch let error as PoolError {
      if case .kernelFailed = error { return true }
      return false
    }
  }
  check("mapResults places the failure and keeps the rest") {
    let results = try pool.mapResults([1, -1, 2], chunkSize: 1)
    guard results.count == 3, case .failure = results[1] else { return false }
    return (try? results[0].get()) == 2 && (try? results[2].get()) == 4
  }
  check("mapUnordered hands over every output once, with its index") {
    var seen = [Int](repeating: 0, count: inputs.count)
    var misplaced = 0
    try pool.mapUnordered(inputs, chunkSize: 50) { index, output in
      seen[index] += 1
      if output != index * 2 { misplaced += 1 }
    }
    return seen.allSatisfy { $0 == 1 } && misplaced == 0
  }
  check("mapUnordered throws the failure") {
    do {
      try pool.mapUnordered([3, -3], chunkSize: 1) { _, _ in }
      return false
    } catch is PoolError {
      return true
    }
  }
  check("submit runs one input") { try pool.submit(21) == 42 }
  check("the pool serves on after failures") { try pool.map([5, 6], chunkSize: nil) == [10, 12] }
  check("imap reads its inputs a window at a time and hands every output over in order") {
    var read = 0
    var readAtFirstOutput = -1
    var outputs: [Int] = []
    let counted = (0..<500).lazy.map { (input: Int) -> Int in
      read += 1
      return input
    }
    try pool.imap(counted, chunkSize: nil, window: 64) { output in
      if readAtFirstOutput < 0 { readAtFirstOutput = read }
      outputs.append(output)
    }
    return outputs == (0..<500).map { $0 * 2 } && readAtFirstOutput == 64
  }
  check("imap stops at the first failure, after the outputs before it") {
    var outputs: [Int] = []
    do {
      try pool.imap([1, 2, -3, 4], chunkSize: 1, window: 2) { outputs.append($0) }
      return false
    } catch is PoolError {
      return outputs == [2, 4]
    }
  }
  check("imap takes a window larger than its inputs (all of them at once)") {
    var outputs: [Int] = []
    try pool.imap([1, 2, 3], chunkSize: nil, window: .max) { outputs.append($0) }
    return outputs == [2, 4, 6]
  }
  check("imap refuses a window under 1") {
    do {
      try pool.imap([1], chunkSize: nil, window: 0) { _ in }
      return false
    } catch PoolError.invalidArgument(_) {
      return true
    }
  }
  check("shutdown ends the pool: later work throws, a second shutdown does nothing") {
    try pool.shutdown()
    try pool.shutdown()
    do {
      _ = try pool.map([1], chunkSize: nil)
      return false
    } catch {
      return true
    }
  }
  return wrong
}
