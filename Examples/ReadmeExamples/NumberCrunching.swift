import ComputeEngine
import Multiprocessing

/// README, "Number crunching: teams, parallel-for, map-reduce, shared grids".
func numberCrunchingExample() throws {
  let grid = try SharedMatrix(rows: 1024, columns: 1024, repeating: 0.0)
  let team = try ProcessTeam()  // one pinned process per physical core
  let totals = try team.run { member in  // forked now: sees memory as it is now
    let rows = member.share(of: 0..<grid.rows)  // this member's band of rows
    for row in rows { grid.row(row).withUnsafeMutableBufferPointer { $0.update(repeating: Double(row)) } }
    try member.barrier()
    return try member.reduce(Double(rows.count), .sum)  // every member gets 1024.0
  }
  let squares = try SharedArray(repeating: 0, count: 1000)
  let cells = squares.buffer  // a Sendable view: capture it anywhere
  try team.forEach(0..<1000) { cells[$0] = $0 * $0 }  // parallel-for, dynamic chunks
  let lengths = try team.reduce(0..<1000, into: [Int: Int]()) { counts, i in
    counts[String(i).count, default: 0] += 1
  } merge: {
    $0.merge($1, uniquingKeysWith: +)
  }  // [1: 10, 2: 90, 3: 900]
  _ = (totals, lengths)
}

/// README, "Number crunching": each call's own data in a SharedState.
func sharedStateExample() throws {
  let centroids = try SharedState([0.0, 10.0])
  let nearest = try ProcessPool<Double, Int> { x in
    let c = centroids.value  // this call's centroids
    return abs(x - c[0]) <= abs(x - c[1]) ? 0 : 1
  }
  print(try nearest.map([1, 4, 6, 9]))  // [0, 0, 1, 1]
  try centroids.update([5.5, 10.0])
  print(try nearest.map([1, 4, 6, 9]))  // [0, 0, 0, 1]
}
