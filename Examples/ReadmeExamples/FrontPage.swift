import ComputeEngine
import Multiprocessing

/// README, the front page's example; run by `ReadmeExamples front-page` (`ReadmeRunTests`).
func frontPageExample() throws {
  // A pool of worker processes, one pinned to each physical core, fed through shared memory.
  let collatz = try ProcessPool<Int, Int> { start in
    var (value, steps) = (start, 0)
    while value != 1 {
      value = value % 2 == 0 ? value / 2 : 3 * value + 1
      steps += 1
    }
    return steps
  }
  let steps = try collatz.map(Array(1...1_000_000))  // in order; a crashed worker fails only its task
  print(steps.max()!)  // 524

  // OpenMP's parallel for, on a team of processes forked now, writing into shared memory.
  let squares = try SharedArray(repeating: 0, count: 1000)
  let cells = squares.buffer  // a Sendable view of the shared array
  try ProcessTeam().forEach(0..<1000) { cells[$0] = $0 * $0 }
  print(squares[999])  // 998001

  collatz.close()
  try collatz.join()
}
